/**
 * Benchmark of the pure decision cores (risk score + business rules) without a database: the part
 * of `custos bench pipeline` that is CPU in this process. Synthetic customers each have a 90-day
 * history of ~50 withdrawals, a few known destinations and counter totals; the loop times
 * evaluateRisk + evaluateRules per withdrawal. Randomness is seeded so runs are comparable.
 *
 * @example
 *   const r = benchDecisions({ customers: 1000, iterations: 20_000 });
 *   // { decisions_per_s, p50_ms, p99_ms, iterations }
 */
import { performance } from 'node:perf_hooks';
import type { Withdrawal } from '../core/withdrawal.js';
import { bundledSanctionsIndex } from '../risk/bundled-sanctions.js';
import type { RiskContext } from '../risk/context.js';
import { evaluateRisk } from '../risk/evaluate.js';
import { emptyHistory, historyRecord } from '../risk/history.js';
import { demoPolicyDocument } from './demo-policy.js';
import { parsePolicy } from './document.js';
import { evaluateRules, type RulesContext } from './rules.js';
import { counterReads, RISK_1H } from './windows.js';

export interface BenchResult {
  decisions_per_s: number;
  p50_ms: number;
  p99_ms: number;
  iterations: number;
}

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

export function benchDecisions(opts: { customers?: number; iterations?: number; seed?: number; now?: number } = {}): BenchResult {
  const customers = opts.customers ?? 1000;
  const iterations = opts.iterations ?? 20_000;
  const now = opts.now ?? Date.UTC(2026, 0, 1);
  const next = rng(opts.seed ?? 1);
  const hex = (n: number) => n.toString(16).padStart(40, '0');
  const admins = Object.fromEntries(['a', 'b', 'c'].map((id, i) => [id, (i + 1).toString(16).padStart(64, '0')]));
  // the admin "keys" are never used to verify anything here; parsePolicy only checks their shape
  const policy = parsePolicy(demoPolicyDocument({ admins, approvers: ['alice', 'bob', 'carol'] }));
  const sanctions = bundledSanctionsIndex();
  const setups: { w: Withdrawal; risk: RiskContext; rules: RulesContext }[] = [];
  for (let c = 0; c < customers; c++) {
    let history = emptyHistory();
    const base = BigInt(1 + (next() % 1000)) * 10n ** 15n;
    for (let i = 0; i < 50; i++) history = historyRecord(history, base * BigInt(1 + (next() % 20)), now - 89 * 86_400_000 + i * 43_200_000);
    const to = `0x${hex(c * 7 + 1)}`;
    const w: Withdrawal = {
      id: `w${c}`, customerId: `c${c}`, credentialId: `k${c}`, accountId: `a${c}`, chain: 'ethereum', asset: 'ETH', to,
      amount: base * BigInt(1 + (next() % 40)), fee: 1n, nonce: 0n, memo: null, status: 'received', decisions: [], idempotencyKey: `i${c}`,
      createdAt: now, updatedAt: now,
    };
    const totals = Object.fromEntries(counterReads(w, policy, now).map((r) => [r.id, { count: next() % 3, amount: base * BigInt(next() % 5) }]));
    const dest = { address: to, firstUsedAt: now - 86_400_000, lastUsedAt: now - 3_600_000, useCount: 1 + (next() % 5), whitelistedAt: null };
    setups.push({
      w,
      risk: {
        now, destination: next() % 4 === 0 ? null : dest, similarDestinations: [dest], history,
        lastHour: { count: totals[RISK_1H]!.count, amount: totals[RISK_1H]!.amount }, balance: base * 100n,
        security: { credentialsChangedAt: null, whitelistChangedAt: null }, sanctions,
      },
      rules: { now, destination: dest, price: { asset: 'ETH', refPerUnit: 300_000n, at: now }, totals },
    });
  }
  const times = new Float64Array(iterations);
  const start = performance.now();
  for (let i = 0; i < iterations; i++) {
    const s = setups[i % setups.length]!;
    const t0 = performance.now();
    evaluateRisk(s.w, s.risk, policy.risk);
    evaluateRules(s.w, s.rules, policy);
    times[i] = performance.now() - t0;
  }
  const elapsed = performance.now() - start;
  times.sort();
  const at = (q: number) => times[Math.min(iterations - 1, Math.ceil((q * iterations) / 100) - 1)]!;
  return { decisions_per_s: Math.round((iterations * 1000) / elapsed), p50_ms: at(50), p99_ms: at(99), iterations };
}
