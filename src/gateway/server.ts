/**
 * Runs the gateway as a service: listens, chains audit entries every 200 ms (the sequencer),
 * purges expired request nonces every minute, and shuts down cleanly on SIGTERM/SIGINT.
 *
 * @example
 *   const server = await startServer({ db, port: 8080 });
 *   console.log(server.url); await server.close();
 */
import { readFileSync } from 'node:fs';
import { sealPending } from '../audit/chain.js';
import { CustosError } from '../core/errors.js';
import { startCheckpointSchedule, type CheckpointSchedule } from '../audit/checkpoint-schedule.js';
import { AlertDispatcher, type Webhook } from '../alerts/outbox.js';
import { rateLimitConfig, type RateLimitConfig } from '../ratelimit/config.js';
import { RateLimiter } from '../ratelimit/limiter.js';
import { MemoryStore } from '../ratelimit/memory-store.js';
import { RedisStore } from '../ratelimit/redis-store.js';
import { systemClock, type Clock } from '../core/clock.js';
import { purgeRequestNonces } from '../store/credentials.js';
import type { Db } from '../store/db.js';
import { buildGateway, type Gateway, type GatewayOptions } from './app.js';
import { recordRateLimitEvents } from './ratelimit.js';

export interface RateLimitSettings {
  /** false disables rate limiting (benchmarks of the intake path only). */
  enabled: boolean;
  redisUrl?: string | undefined;
  /** Redis key prefix (default `custos:rl:`): deployments sharing one Redis keep their buckets apart. */
  redisPrefix?: string | undefined;
  config?: RateLimitConfig;
}

const REDIS_PREFIX = /^[A-Za-z0-9_.:-]{1,64}$/;

/**
 * Rate-limit settings from the environment: REDIS_URL shares buckets between gateway instances
 * (memory otherwise), under the key prefix CUSTOS_RATELIMIT_PREFIX (default `custos:rl:`; one
 * per deployment when several share a Redis); CUSTOS_RATELIMIT_CONFIG names a JSON file of
 * overrides (tiers, route classes, cooling periods); CUSTOS_RATELIMIT=off disables limits (for
 * intake benchmarks only).
 */
export function rateLimitSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): RateLimitSettings {
  const file = env.CUSTOS_RATELIMIT_CONFIG;
  const overrides = file ? (JSON.parse(readFileSync(file, 'utf8')) as Partial<RateLimitConfig>) : {};
  const prefix = env.CUSTOS_RATELIMIT_PREFIX;
  if (prefix !== undefined && !REDIS_PREFIX.test(prefix)) {
    throw new CustosError('config_invalid', 'CUSTOS_RATELIMIT_PREFIX must be 1–64 characters of A–Z a–z 0–9 _ . : -');
  }
  return { enabled: env.CUSTOS_RATELIMIT !== 'off', redisUrl: env.REDIS_URL || undefined, redisPrefix: prefix, config: rateLimitConfig(overrides) };
}

/** Alert webhooks from CUSTOS_ALERT_WEBHOOK_URL and CUSTOS_ALERT_WEBHOOK_SECRET (log only when unset). */
export function webhooksFromEnv(env: NodeJS.ProcessEnv = process.env): Webhook[] {
  const url = env.CUSTOS_ALERT_WEBHOOK_URL;
  if (!url) return [];
  const secret = env.CUSTOS_ALERT_WEBHOOK_SECRET;
  if (!secret) throw new Error('CUSTOS_ALERT_WEBHOOK_URL is set but CUSTOS_ALERT_WEBHOOK_SECRET is not');
  return [{ url, secret }];
}

export interface RunningServer {
  url: string;
  gateway: Gateway;
  limiter: RateLimiter | undefined;
  close(): Promise<void>;
}

export async function startServer(opts: {
  db: Db;
  port?: number;
  host?: string;
  clock?: Clock;
  logger?: boolean | Record<string, unknown>;
  sealEveryMs?: number;
  rateLimits?: RateLimitSettings;
  webhooks?: Webhook[];
  /** Where delivered alerts are logged (default stderr, one JSON line each). */
  alertLog?: (line: Record<string, unknown>) => void;
  /** Signed audit checkpoints on a schedule (CUSTOS_AUDIT_CHECKPOINT_EVERY_S), key under this data dir or in the HSM. */
  checkpoints?: { dataDir: string };
  /** The signing nodes' status for `GET /v1/admin/nodes` (when this process runs the signer). */
  nodes?: GatewayOptions['nodes'];
  /** How long to wait for the Redis rate-limit store before listening anyway (default 5,000 ms). */
  redisReadyMs?: number;
}): Promise<RunningServer> {
  const clock = opts.clock ?? systemClock;
  const rl = opts.rateLimits ?? { enabled: true };
  const store = rl.enabled ? (rl.redisUrl ? new RedisStore({ url: rl.redisUrl, ...(rl.redisPrefix ? { prefix: rl.redisPrefix } : {}) }) : new MemoryStore()) : undefined;
  const limiter = store ? new RateLimiter({ store, config: rl.config, clock }) : undefined;
  const gateway = await buildGateway({ db: opts.db, clock, logger: opts.logger, rateLimiter: limiter, ...(opts.nodes ? { nodes: opts.nodes } : {}) });
  const stopEvents = limiter
    ? recordRateLimitEvents(limiter, opts.db, clock, (err) => gateway.app.log.error({ msg: 'could not record a rate-limit event', err: err.message }))
    : () => {};
  const stopSweeper = limiter ? limiter.startSweeper(1000) : () => {};
  const dispatcher = new AlertDispatcher({ db: opts.db, webhooks: opts.webhooks ?? [], clock, ...(opts.alertLog ? { log: opts.alertLog } : {}) });
  dispatcher.start();
  const checkpoints: CheckpointSchedule | null = opts.checkpoints
    ? await startCheckpointSchedule(opts.db, {
        dataDir: opts.checkpoints.dataDir,
        onError: (err) => gateway.app.log.error({ msg: 'audit checkpoint failed', err: err.message }),
      })
    : null;
  // A gateway that listened before its Redis connection is ready would refuse its first
  // withdrawals (503 ratelimit_unavailable: the store never queues commands). Wait for it, boundedly:
  // a Redis that is down at start leaves withdrawals refused (fail closed) and reads served.
  if (store instanceof RedisStore) {
    await store.ready(opts.redisReadyMs ?? 5_000).catch(() => {
      gateway.app.log.warn({ msg: 'redis is not reachable: withdrawals are refused until it is' });
    });
  }
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
    limiter,
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(seal);
      clearInterval(purge);
      stopSweeper();
      await gateway.app.close();
      stopEvents();
      await limiter?.close();
      await store?.close();
      await dispatcher.runOnce().catch(() => 0);
      await dispatcher.stop();
      // Chain what was committed before stopping, so nothing waits for the next start.
      while ((await sealPending(opts.db).catch(() => 0)) > 0);
      // Signs the tail, so the last entries are covered by a checkpoint.
      await checkpoints?.stop();
    },
  };
}
