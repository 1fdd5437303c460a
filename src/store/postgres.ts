/**
 * PostgreSQL backend over a `pg` pool. Transactions retry on serialization failure and deadlock.
 * Parameterised statements are prepared once per connection under a name derived from their text
 * (`statementConfig`): the intake's large statements cost about 0.5 ms to parse and 0.8–1.6 ms to
 * plan on every execution otherwise, more than the pipeline's own work per batch.
 */
import { createHash } from 'node:crypto';
import pg from 'pg';
import type { Db, Queryable } from './db.js';

const RETRYABLE = new Set(['40001', '40P01']);

/** Distinct statement texts that are prepared by name; texts beyond these (built with varying content) stay unnamed. */
const MAX_NAMED = 512;
const names = new Map<string, string>();

/**
 * The query config for `sql`: named (so each connection parses and plans it once, and PostgreSQL
 * may keep a generic plan) when it has parameters and its text is among the first `MAX_NAMED`
 * seen; a name is a hash of the text, so one name never stands for two texts.
 */
export function statementConfig(sql: string, values: unknown[]): pg.QueryConfig {
  if (values.length === 0) return { text: sql, values };
  let name = names.get(sql);
  if (name === undefined && names.size < MAX_NAMED) {
    name = `custos_${createHash('sha256').update(sql).digest('hex').slice(0, 24)}`;
    names.set(sql, name);
  }
  return name === undefined ? { text: sql, values } : { name, text: sql, values };
}

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
      const r = await pool.query(statementConfig(sql, params));
      return r.rows as R[];
    },
    async tx<T>(fn: (q: Queryable) => Promise<T>): Promise<T> {
      for (let attempt = 0; ; attempt++) {
        const client = await pool.connect();
        let committed = false;
        try {
          await client.query('BEGIN');
          const q: Queryable = {
            async query<R>(sql: string, params: unknown[] = []) {
              if (committed) throw new Error('query after queryAndCommit');
              const r = await client.query(statementConfig(sql, params));
              return r.rows as R[];
            },
            async queryAndCommit<R>(sql: string, params: unknown[] = []) {
              if (committed) throw new Error('query after queryAndCommit');
              // pg sends the queued COMMIT as soon as the statement completes, from its own socket handler
              const statement = client.query(statementConfig(sql, params));
              const commit = client.query('COMMIT');
              statement.catch(() => {});
              commit.catch(() => {});
              const r = await statement; // a failed statement leaves the server to turn the COMMIT into a ROLLBACK
              const c = await commit;
              if (c.command !== 'COMMIT') throw new Error(`the transaction did not commit (${c.command})`);
              committed = true;
              return r.rows as R[];
            },
          };
          const out = await fn(q);
          if (!committed) await client.query('COMMIT');
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
    async session<T>(fn: (q: Queryable) => Promise<T>): Promise<T> {
      for (let attempt = 0; ; attempt++) {
        const client = await pool.connect();
        let finished = false;
        let unlocked = false;
        try {
          const q: Queryable = {
            advisoryLocks: 'session',
            async query<R>(sql: string, params: unknown[] = []) {
              if (finished) throw new Error('query after queryAndCommit');
              const r = await client.query(statementConfig(sql, params));
              return r.rows as R[];
            },
            async queryAndCommit<R>(sql: string, params: unknown[] = []) {
              if (finished) throw new Error('query after queryAndCommit');
              finished = true;
              // pg sends the queued release as soon as the statement completes, from its own socket handler
              const statement = client.query(statementConfig(sql, params));
              const release = client.query('SELECT pg_advisory_unlock_all()');
              const [s, r] = await Promise.allSettled([statement, release]);
              unlocked = r.status === 'fulfilled';
              if (s.status === 'rejected') throw s.reason;
              return s.value.rows as R[];
            },
          };
          return await fn(q);
        } catch (err) {
          const code = (err as { code?: string }).code;
          if (code && RETRYABLE.has(code) && attempt < 5) continue;
          throw err;
        } finally {
          if (!unlocked) unlocked = await client.query('SELECT pg_advisory_unlock_all()').then(() => true, () => false);
          // A connection whose locks could not be released must not serve anyone else.
          client.release(unlocked ? undefined : true);
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
