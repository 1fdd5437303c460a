/**
 * Runs the gateway as a service: listens, chains audit entries every 200 ms (the sequencer),
 * purges expired request nonces every minute, and shuts down cleanly on SIGTERM/SIGINT.
 *
 * @example
 *   const server = await startServer({ db, port: 8080 });
 *   console.log(server.url); await server.close();
 */
import { sealPending } from '../audit/chain.js';
import { systemClock, type Clock } from '../core/clock.js';
import { purgeRequestNonces } from '../store/credentials.js';
import type { Db } from '../store/db.js';
import { buildGateway, type Gateway } from './app.js';

export interface RunningServer {
  url: string;
  gateway: Gateway;
  close(): Promise<void>;
}

export async function startServer(opts: {
  db: Db;
  port?: number;
  host?: string;
  clock?: Clock;
  logger?: boolean | Record<string, unknown>;
  sealEveryMs?: number;
}): Promise<RunningServer> {
  const clock = opts.clock ?? systemClock;
  const gateway = await buildGateway({ db: opts.db, clock, logger: opts.logger });
  const host = opts.host ?? '127.0.0.1';
  const address = await gateway.app.listen({ port: opts.port ?? 8080, host });
  let sealing = false;
  const seal = setInterval(() => {
    if (sealing) return;
    sealing = true;
    sealPending(opts.db)
      .catch((err: Error) => gateway.app.log.error({ msg: 'audit sequencer failed', err: err.message }))
      .finally(() => {
        sealing = false;
      });
  }, opts.sealEveryMs ?? 200);
  const purge = setInterval(() => {
    purgeRequestNonces(opts.db, clock.now()).catch(() => {});
  }, 60_000);
  seal.unref();
  purge.unref();
  let closed = false;
  return {
    url: address,
    gateway,
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(seal);
      clearInterval(purge);
      await gateway.app.close();
      // Chain what was committed before stopping, so nothing waits for the next start.
      while ((await sealPending(opts.db).catch(() => 0)) > 0);
    },
  };
}
