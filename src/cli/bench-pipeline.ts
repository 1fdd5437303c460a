/**
 * `custos bench pipeline`: full decisions per second (syntax + risk + rules + policy, with
 * counters, histories, destinations and audit entries) against a realistic history, on a fresh
 * PostgreSQL schema (DATABASE_URL) or an in-memory PGlite. Results go to
 * bench/results/pipeline.json (and pipeline-<store>.json).
 *
 * @example
 *   custos bench pipeline --json   # 16 concurrent submissions by default; {"decisions_per_s": …, "p50_ms": …, "p99_ms": …, …}
 */
import { openBenchDb } from '../audit/bench-db.js';
import { benchPipeline } from '../pipeline/bench.js';
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
  if (store === 'postgres' && !process.env.DATABASE_URL) throw new Error('--store postgres needs DATABASE_URL');
  // A throwaway, migrated database: a fresh schema on the server, or an in-memory PGlite.
  const { db, drop } = await openBenchDb(store === 'postgres' ? process.env.DATABASE_URL : undefined);
  try {
    log(`bench pipeline: ${store}, ${o.customers} customers × ${o.past} past withdrawals, ${o.decisions} decisions at concurrency ${o.concurrency}`);
    const r = await benchPipeline(db, { customers: o.customers, pastPerCustomer: o.past, decisions: o.decisions, concurrency: o.concurrency, progress: log });
    writeResult(`pipeline-${store}`, { ...r });
    const path = writeResult('pipeline', { ...r });
    if (o.json) console.log(JSON.stringify(r));
    else log(`${r.decisions_per_s} decisions/s, p50 ${r.p50_ms} ms, p99 ${r.p99_ms} ms; outcomes ${JSON.stringify(r.outcomes)} → ${path}`);
  } finally {
    await drop();
  }
}
