/**
 * Benchmark of full decisions (syntax + risk + rules against the active policy, with counters,
 * histories, destinations and audit entries) without HTTP, through the same batching the gateway
 * uses (a Batcher over `submitWithdrawals`: concurrent decisions share a transaction). The
 * history is realistic: `customers` customers with `pastPerCustomer` past withdrawals each, as
 * rows in the withdrawals table (so its indexes have their real size) and as the summaries a
 * decision reads (an incremental amount history over 90 days, destination records, today's
 * counters). For `custos bench pipeline`.
 *
 * @example
 *   const r = await benchPipeline(db, { customers: 10_000, pastPerCustomer: 100, decisions: 20_000, concurrency: 50 });
 *   r.decisions_per_s; r.p99_ms
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Batcher, type BatcherOptions } from '../core/batcher.js';
import { systemClock } from '../core/clock.js';
import type { Withdrawal } from '../core/withdrawal.js';
import { counterWrites, DAY_MS } from '../policy/windows.js';
import { recordDestinationUse } from '../risk/destination.js';
import { emptyHistory, historyRecord, historyToJSON } from '../risk/history.js';
import { lookAlikeKey } from '../risk/lookalike.js';
import { seedPastWithdrawals } from '../store/bench-seed.js';
import { seedStarter } from '../store/seed.js';
import type { Db } from '../store/db.js';
import { installInitialPolicy, ensureStarterPolicy, activePolicy } from './active-policy.js';
import { intakeBatching, submitWithdrawals, type SubmitOutcome, type Submission } from './intake.js';
import { starterPolicyDocument } from './starter-policy.js';
import { testAdmins } from './test-helpers/policy.js';

export interface PipelineBenchResult {
  bench: 'pipeline';
  store: 'pglite' | 'postgres';
  customers: number;
  past_withdrawals: number;
  /** Past withdrawal rows this run inserted (0 when an earlier run seeded the database). */
  past_withdrawal_rows: number;
  decisions: number;
  concurrency: number;
  decisions_per_s: number;
  p50_ms: number;
  p99_ms: number;
  outcomes: Record<string, number>;
}

const SOL_TO = '83astBRguLMdt2h5U1Tpdq5tjFoJ6noeGwaY3mDLVcri';

export async function benchPipeline(
  db: Db,
  o: { customers: number; pastPerCustomer: number; decisions: number; concurrency: number; seed?: number; progress?: (line: string) => void; batching?: BatcherOptions },
): Promise<PipelineBenchResult> {
  const now = systemClock.now();
  await seedStarter(db, { customerId: 'bench-0', now });
  await ensureStarterPolicy(db, now);
  if ((await activePolicy(db)).source === 'starter') {
    // the starter policy, owned by throwaway admins, so that a bench database can be benchmarked repeatedly
    await installInitialPolicy(db, starterPolicyDocument({ admins: testAdmins().admins, version: (await activePolicy(db)).version + 1 }), 'bench', now);
  }
  const policy = (await activePolicy(db)).policy;
  let rnd = o.seed ?? 1;
  const next = () => ((rnd = (rnd * 1_103_515_245 + 12_345) % 2 ** 31), rnd / 2 ** 31);
  const creds: string[] = [];
  const batch = 500;
  for (let start = 0; start < o.customers; start += batch) {
    await db.tx(async (q) => {
      for (let c = start; c < Math.min(o.customers, start + batch); c++) {
        const id = `bench-${c}`;
        const cred = `cred_bench${c.toString().padStart(8, '0')}`;
        creds[c] = cred;
        await q.query('INSERT INTO customers (id, name) VALUES ($1, $1) ON CONFLICT DO NOTHING', [id]);
        await q.query("INSERT INTO credentials (id, customer_id, public_key, scopes, created_at) VALUES ($1, $2, $3, '{withdraw}', $4) ON CONFLICT DO NOTHING", [
          cred,
          id,
          randomBytes(32),
          new Date(now - 30 * DAY_MS).toISOString(),
        ]);
        let h = emptyHistory();
        const times = Array.from({ length: o.pastPerCustomer }, () => now - Math.floor(next() * 89 * DAY_MS) - DAY_MS).sort((a, b) => a - b);
        for (const t of times) h = historyRecord(h, BigInt(1 + Math.floor(next() * 50)) * 10n ** 8n, t);
        await q.query('INSERT INTO amount_histories (customer_id, asset, history) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [id, 'SOL', JSON.stringify(historyToJSON(h))]);
        const rec = recordDestinationUse(null, 'solana', SOL_TO, times[0] ?? now - DAY_MS);
        await q.query(
          `INSERT INTO destinations (customer_id, chain, address, lookalike_key, first_used_at, last_used_at, use_count) VALUES ($1, 'solana', $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
          [id, rec.address, lookAlikeKey('solana', SOL_TO, policy.risk.params.lookAlikePrefix, policy.risk.params.lookAlikeSuffix), rec.firstUsedAt, rec.lastUsedAt, o.pastPerCustomer],
        );
        for (const w of counterWrites({ customerId: id, asset: 'SOL', amount: 10n ** 9n } as Withdrawal, now - 3_600_000, 15_000n)) {
          await q.query('INSERT INTO policy_counters (scope, bucket_ms, bucket_start, count, amount) VALUES ($1, $2, $3, 1, $4) ON CONFLICT DO NOTHING', [w.scope, w.bucketMs, w.bucketStart, w.amount.toString()]);
        }
      }
    });
    o.progress?.(`seeded ${Math.min(o.customers, start + batch)} of ${o.customers} customers (histories, destinations, counters)`);
  }
  const rows = await seedPastWithdrawals(db, {
    customers: o.customers,
    perCustomer: o.pastPerCustomer,
    now,
    to: SOL_TO,
    chunk: 500,
    onProgress: (n) => (n % 100_000 < o.pastPerCustomer * 500 ? o.progress?.(`seeded ${n} past withdrawal rows`) : undefined),
  });
  if (db.kind === 'postgres') await db.query('ANALYZE');
  // Decisions go through the same batching as the gateway's POST /v1/withdrawals.
  const intake = new Batcher<Submission, SubmitOutcome>((subs) => submitWithdrawals(db, systemClock, subs), { ...intakeBatching(db), ...o.batching });
  const latencies: number[] = [];
  const outcomes: Record<string, number> = {};
  let issued = 0;
  const run = Date.now().toString(36);
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: o.concurrency }, async () => {
      while (issued < o.decisions) {
        const i = issued++;
        const c = Math.floor(next() * o.customers);
        const s = performance.now();
        const { withdrawal } = await intake.submit({
          customerId: `bench-${c}`,
          credentialId: creds[c]!,
          idempotencyKey: `bench-${run}-${i}`,
          request: { chain: 'solana', asset: 'SOL', to: SOL_TO, amount: String(1 + Math.floor(next() * 30)) },
        });
        latencies.push(performance.now() - s);
        outcomes[withdrawal.status] = (outcomes[withdrawal.status] ?? 0) + 1;
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => Number((latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? 0).toFixed(2));
  return {
    bench: 'pipeline',
    store: db.kind,
    customers: o.customers,
    past_withdrawals: o.customers * o.pastPerCustomer,
    past_withdrawal_rows: rows,
    decisions: latencies.length,
    concurrency: o.concurrency,
    decisions_per_s: Math.round(latencies.length / seconds),
    p50_ms: pct(50),
    p99_ms: pct(99),
    outcomes,
  };
}
