/**
 * Configuration from the environment and flags, shared by every subcommand.
 *   DATABASE_URL      PostgreSQL server (otherwise PGlite under the data directory)
 *   CUSTOS_DATA_DIR   data directory for the embedded default (default ./.custos)
 *   CUSTOS_AUDIT_HMAC_KEY / CUSTOS_AUDIT_HMAC_FIELDS  HMAC these audit-entry fields (see audit/chain.ts)
 *   CUSTOS_DB_SCHEMA  PostgreSQL schema to use (search_path), default the server's
 *   CUSTOS_PORT       gateway port (default 8080), CUSTOS_HOST (default 127.0.0.1)
 */
import { join } from 'node:path';
import { auditRedactionFromEnv, configureAuditRedaction } from '../audit/chain.js';
import { openDb, type Db } from '../store/db.js';
import { migrate } from '../store/migrate.js';

export interface CommonOptions {
  dataDir?: string;
}

export function dataDir(opts: CommonOptions): string {
  return opts.dataDir ?? process.env.CUSTOS_DATA_DIR ?? './.custos';
}

/** Opens the configured database and brings its schema up to date. */
export async function openConfiguredDb(opts: CommonOptions): Promise<Db> {
  // Every process that writes audit entries applies the same field redaction.
  configureAuditRedaction(auditRedactionFromEnv(process.env));
  const db = await openDb({
    databaseUrl: process.env.DATABASE_URL,
    dataDir: join(dataDir(opts), 'db'),
    schema: process.env.CUSTOS_DB_SCHEMA,
  });
  try {
    await migrate(db);
  } catch (err) {
    await db.close();
    throw err;
  }
  return db;
}

export function describeStore(db: Db, opts: CommonOptions): string {
  return db.kind === 'postgres' ? 'PostgreSQL (DATABASE_URL)' : `PGlite (embedded) in ${join(dataDir(opts), 'db')}`;
}

/** Prints rows as an aligned text table. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
