/**
 * One `Db` interface over PGlite (embedded default, files under a data directory) and a real
 * PostgreSQL server (`pg`, chosen when `DATABASE_URL` is set). Only src/store speaks SQL.
 *
 * Values come back as the drivers give them; store code casts int8/numeric to text in SQL and
 * converts with `BigInt`, so both backends return the same shapes.
 *
 * @example
 *   const db = await openDb({ dataDir: './.custos' });
 *   await db.tx(async (q) => q.query('insert into customers (id, name) values ($1, $2)', ['c1', 'Acme']));
 */
export interface Queryable {
  query<R = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<R[]>;
  /**
   * Inside `tx` only, on a real server: runs the transaction's last statement with the COMMIT sent
   * right behind it, so no turn of the caller's event loop passes between them while the
   * transaction holds its row locks. When it resolves, the transaction has committed; when the
   * statement fails, the server rolls the transaction back. Nothing may be queried after it.
   * Absent where a commit cannot be sent early (PGlite): call `query`; `tx` commits as usual.
   */
  queryAndCommit?<R = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<R[]>;
  /**
   * How long the advisory locks taken through this handle last: `session` inside `Db.session` on
   * a real server (held until the session ends), otherwise to the end of the transaction.
   */
  readonly advisoryLocks?: 'session';
}

export interface Db extends Queryable {
  readonly kind: 'pglite' | 'postgres';
  /** Runs `fn` in one transaction; retried on serialization failures and deadlocks (postgres). */
  tx<T>(fn: (q: Queryable) => Promise<T>): Promise<T>;
  /**
   * Runs `fn` on one connection outside a transaction block, on a real server: each statement
   * commits on its own (a failing one leaves nothing), advisory locks taken through `q` are held
   * until `fn` ends and released then, also when it throws. `q.queryAndCommit` runs the last
   * statement with the release sent right behind it. So `fn` must put all its writes in one
   * statement (data-modifying CTEs); unlike `tx`, it never holds a row lock across a round trip
   * to the caller, only for that statement. Retried, like `tx`, on serialization failures and
   * deadlocks, so `fn` must be safe to run again when its writing statement failed.
   * On PGlite (one in-process session for everyone) it is `tx`.
   */
  session<T>(fn: (q: Queryable) => Promise<T>): Promise<T>;
  /** Runs a script of several statements (migrations). */
  exec(sql: string): Promise<void>;
  close(): Promise<void>;
}

export interface DbConfig {
  /** postgres://… — a real server; otherwise PGlite. */
  databaseUrl?: string | undefined;
  /** PGlite data directory; `memory://` or undefined with `inMemory` for tests. */
  dataDir?: string | undefined;
  inMemory?: boolean;
  /** Connection pool size for a real server. */
  poolSize?: number;
  /** search_path for a real server (tests isolate themselves in a schema). */
  schema?: string;
}

export async function openDb(config: DbConfig): Promise<Db> {
  if (config.databaseUrl) {
    const { openPostgres } = await import('./postgres.js');
    return openPostgres(config.databaseUrl, { poolSize: config.poolSize ?? 20, schema: config.schema });
  }
  const { openPglite } = await import('./pglite.js');
  return openPglite(config.inMemory ? undefined : (config.dataDir ?? './.custos/db'));
}
