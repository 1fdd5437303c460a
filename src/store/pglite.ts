/** PGlite backend: PostgreSQL compiled to WASM, in process. One connection; transactions are serial. */
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { CustosError } from '../core/errors.js';
import { PGlite } from '@electric-sql/pglite';
import type { Db, Queryable } from './db.js';

export async function openPglite(dataDir?: string): Promise<Db> {
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  const unlock = dataDir ? lockDataDir(dataDir) : () => {};
  const pg = dataDir ? new PGlite(dataDir) : new PGlite();
  await pg.waitReady;
  let closed = false;
  // PGlite is one session: a statement from another caller must never run inside an open
  // transaction, so every query and transaction takes this queue in turn.
  let tail: Promise<unknown> = Promise.resolve();
  const exclusive = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = tail.catch(() => undefined).then(fn);
    tail = run;
    return run;
  };
  const db: Db = {
    kind: 'pglite',
    async query<R>(sql: string, params: unknown[] = []) {
      return exclusive(async () => (await pg.query<R>(sql, params)).rows);
    },
    async tx<T>(fn: (q: Queryable) => Promise<T>): Promise<T> {
      return exclusive(() => pg.transaction(async (t) => {
        const q: Queryable = {
          async query<R>(sql: string, params: unknown[] = []) {
            const r = await t.query<R>(sql, params);
            return r.rows;
          },
        };
        return fn(q);
      }));
    },
    session<T>(fn: (q: Queryable) => Promise<T>): Promise<T> {
      // One session serves every caller here, so session-scoped locks would exclude nobody:
      // the exclusive transaction gives the isolation a session has on a real server.
      return db.tx(fn);
    },
    async exec(sql: string) {
      await exclusive(() => pg.exec(sql));
    },
    async close() {
      if (closed) return;
      closed = true;
      await pg.close();
      unlock();
    },
  };
  return db;
}

/**
 * PGlite files must be opened by one process at a time: a second writer corrupts them. A lock
 * file holding the owner's pid guards the directory; a lock left by a dead process is taken over.
 */
function lockDataDir(dir: string): () => void {
  const path = join(dir, 'custos.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      const release = () => rmSync(path, { force: true });
      process.once('exit', release);
      return release;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number(readFileSync(path, 'utf8'));
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid)) {
        throw new CustosError(
          'data_dir_locked',
          `the embedded database in ${dir} is in use by process ${pid} (custos server or demo); stop it, or point DATABASE_URL at PostgreSQL to share a database`,
          409,
        );
      }
      rmSync(path, { force: true });
    }
  }
  throw new CustosError('data_dir_locked', `cannot lock ${dir}`, 409);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
