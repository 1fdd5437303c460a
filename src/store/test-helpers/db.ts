/**
 * Test databases: every store test runs against PGlite (always) and a real PostgreSQL server
 * when DATABASE_URL is set, each test file in its own fresh schema so files run in parallel.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openDb, type Db } from '../db.js';
import { migrate } from '../migrate.js';

export const DATABASE_URL = process.env.DATABASE_URL;

if (!DATABASE_URL && process.env.CI !== 'true') {
  console.warn('DATABASE_URL is not set: PostgreSQL variants of the store tests are skipped (PGlite variants run).');
}
if (!DATABASE_URL && process.env.CI === 'true') {
  throw new Error('CI=true but DATABASE_URL is not set: the PostgreSQL tests must run in CI');
}

export interface TestDb {
  name: 'pglite' | 'postgres';
  open(): Promise<Db & { schema?: string }>;
}

export const TEST_DBS: TestDb[] = [
  { name: 'pglite', open: () => openMigrated({ inMemory: true }) },
  ...(DATABASE_URL ? [{ name: 'postgres' as const, open: () => openPostgresSchema() }] : []),
];

async function openMigrated(cfg: Parameters<typeof openDb>[0]): Promise<Db> {
  const db = await openDb(cfg);
  await migrate(db);
  return db;
}

/** A fresh schema on the real server, dropped when the Db closes. */
export async function openPostgresSchema(poolSize = 10): Promise<Db & { schema: string }> {
  const url = DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL is not set');
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  await admin.end();
  const db = await openDb({ databaseUrl: url, schema, poolSize });
  await migrate(db);
  const close = db.close.bind(db);
  return Object.assign(db, {
    schema,
    async close() {
      await close();
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      // The audit triggers refuse TRUNCATE/DELETE, not DROP: dropping a test schema is allowed.
      await c.query(`DROP SCHEMA ${schema} CASCADE`);
      await c.end();
    },
  });
}
