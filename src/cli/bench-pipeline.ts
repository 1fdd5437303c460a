/**
 * `custos bench pipeline`: full decisions per second (syntax + risk + rules + policy, with
 * counters, histories, destinations and audit entries) against a realistic history, on a fresh
 * PostgreSQL schema (DATABASE_URL) or a temporary PGlite directory. Results go to
 * bench/results/pipeline.json (and pipeline-<store>.json).
 *
 * @example
 *   custos bench pipeline --json   # {"decisions_per_s": …, "p50_ms": …, "p99_ms": …, …}
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { benchPipeline } from '../pipeline/bench.js';
import { openDb, type Db } from '../store/db.js';
import { migrate } from '../store/migrate.js';
import { writeResult } from './bench-results.js';

export interface BenchPipelineOptions {
  json?: boolean;
  store?: 'pglite' | 'postgres';
  customers: number;
  past: number;
  decisions: number;
  concurrency: number;
}

export async function runBenchPipeline(o: BenchPipelineOptions): Promise<void> {
  const store = o.store ?? (process.env.DATABASE_URL ? 'postgres' : 'pglite');
  const log = (m: string) => (o.json ? process.stderr.write(`${m}\n`) : console.log(m));
  let db: Db;
  let cleanup: () => Promise<void>;
  if (store === 'postgres') {
    const url = process.env.DATABASE_URL;
    if (!url) throw new Error('--store postgres needs DATABASE_URL');
    const schema = `bench_pipeline_${randomBytes(4).toString('hex')}`;
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query(`CREATE SCHEMA ${schema}`);
    await admin.end();
    db = await openDb({ databaseUrl: url, schema });
    cleanup = async () => {
      await db.close();
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      await c.query(`DROP SCHEMA ${schema} CASCADE`);
      await c.end();
    };
  } else {
    const dir = mkdtempSync(join(tmpdir(), 'custos-bench-pipeline-'));
    db = await openDb({ dataDir: join(dir, 'db') });
    cleanup = async () => {
      await db.close();
      rmSync(dir, { recursive: true, force: true });
    };
  }
  try {
    await migrate(db);
    log(`bench pipeline: ${store}, ${o.customers} customers × ${o.past} past withdrawals, ${o.decisions} decisions at concurrency ${o.concurrency}`);
    const r = await benchPipeline(db, { customers: o.customers, pastPerCustomer: o.past, decisions: o.decisions, concurrency: o.concurrency, progress: log });
    writeResult(`pipeline-${store}`, { ...r });
    const path = writeResult('pipeline', { ...r });
    if (o.json) console.log(JSON.stringify(r));
    else log(`${r.decisions_per_s} decisions/s, p50 ${r.p50_ms} ms, p99 ${r.p99_ms} ms; outcomes ${JSON.stringify(r.outcomes)} → ${path}`);
  } finally {
    await cleanup();
  }
}
