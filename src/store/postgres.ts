/** PostgreSQL backend over a `pg` pool. Transactions retry on serialization failure and deadlock. */
import pg from 'pg';
import type { Db, Queryable } from './db.js';

const RETRYABLE = new Set(['40001', '40P01']);

export async function openPostgres(url: string, opts: { poolSize: number; schema?: string | undefined }): Promise<Db> {
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.poolSize,
    ...(opts.schema ? { options: `-c search_path=${opts.schema}` } : {}),
  });
  // A dropped idle connection must not crash the process; the pool replaces it.
  pool.on('error', () => {});
  // Fail fast with a clear message when the server does not answer.
  const probe = await pool.connect().catch((err: Error) => {
    throw new Error(`cannot connect to PostgreSQL at ${redactUrl(url)}: ${err.message}`);
  });
  probe.release();
  let closed = false;
  const db: Db = {
    kind: 'postgres',
    async query<R>(sql: string, params: unknown[] = []) {
      const r = await pool.query(sql, params);
      return r.rows as R[];
    },
    async tx<T>(fn: (q: Queryable) => Promise<T>): Promise<T> {
      for (let attempt = 0; ; attempt++) {
        const client = await pool.connect();
        try {
          await client.query('BEGIN');
          const q: Queryable = {
            async query<R>(sql: string, params: unknown[] = []) {
              const r = await client.query(sql, params);
              return r.rows as R[];
            },
          };
          const out = await fn(q);
          await client.query('COMMIT');
          return out;
        } catch (err) {
          await client.query('ROLLBACK').catch(() => {});
          const code = (err as { code?: string }).code;
          if (code && RETRYABLE.has(code) && attempt < 5) continue;
          throw err;
        } finally {
          client.release();
        }
      }
    },
    async exec(sql: string) {
      await pool.query(sql);
    },
    async close() {
      if (closed) return;
      closed = true;
      await pool.end();
    },
  };
  return db;
}

/** Removes a password from a connection URL before it reaches a message. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable DATABASE_URL)';
  }
}
