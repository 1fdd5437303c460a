/**
 * Window arithmetic for caps and velocity, so that the store can enforce them in one transaction.
 * Counters are rows (scope, bucketMs, bucketStart) → (count, amount), bucket sizes one minute, one
 * hour or one UTC day. Every approved withdrawal adds itself to the same fixed set of rows
 * (counterWrites: 3 scopes × 3 bucket sizes), whatever the policy, so a limit added later sees the
 * full past. A limit reads the sum of a bucket range (counterReads):
 *   - calendar day (UTC): the one day bucket containing `now`;
 *   - rolling window of length L: every bucket that overlaps (now − L, now]. The oldest bucket may
 *     reach up to one bucket before the window, so a rolling total can only over-count (by at most
 *     one hour for 24 h windows, one minute for windows up to 2 h): a cap is never exceeded.
 * Under concurrency the store locks the scope (e.g. SELECT … FOR UPDATE on a per-scope row), reads
 * the totals, calls evaluateRules with them, and applies counterWrites before committing.
 *
 * @example
 *   const reads = counterReads(withdrawal, policy, now);   // sum each in the store → totals[id]
 *   const d = evaluateRules(withdrawal, { ...ctx, totals }, policy);
 *   if (approved) for (const w of counterWrites(withdrawal, now, d.referenceValue)) upsertAdd(w);
 *   fitsCap(totals['asset:calendar_day']!.amount, withdrawal.amount, cap);
 */
import { CustosError } from '../core/errors.js';
import type { Withdrawal } from '../core/withdrawal.js';
import { limitsFor, type Limits, type Policy } from './document.js';

import { DAY_MS, HOUR_MS } from '../risk/history.js';

// one definition of the hour and the day (src/risk/history.ts), so both index modules can be re-exported together
export { DAY_MS, HOUR_MS };
export const MINUTE_MS = 60_000;
export const BUCKET_SIZES = [MINUTE_MS, HOUR_MS, DAY_MS] as const;
/** How long the store must keep rows of each bucket size (longest window that reads them, plus one bucket). */
export const COUNTER_RETENTION_MS: Readonly<Record<number, number>> = {
  [MINUTE_MS]: 2 * HOUR_MS + MINUTE_MS,
  [HOUR_MS]: 7 * DAY_MS + HOUR_MS,
  [DAY_MS]: 2 * DAY_MS,
};

export type CounterGroup = 'asset' | 'asset_reference' | 'total';

export interface CounterRead {
  id: string; // e.g. 'asset:rolling_24h', 'total:calendar_day', 'asset:velocity_60m', 'asset:risk_1h'
  scope: string;
  bucketMs: number;
  from: number; // first bucket start, inclusive
  to: number; // last bucket start, inclusive
}

export interface CounterWrite {
  scope: string;
  bucketMs: number;
  bucketStart: number;
  count: 1;
  amount: bigint; // asset base units for the asset scope, reference base units otherwise
}

export interface Totals {
  count: number;
  amount: bigint;
}

/** Unambiguous scope keys (ids may contain any character). */
export function counterScope(customerId: string, group: CounterGroup, asset: string): string {
  return JSON.stringify(group === 'total' ? [customerId, '*', 'reference'] : [customerId, asset, group === 'asset' ? 'asset' : 'reference']);
}

export const bucketStart = (t: number, bucketMs: number): number => Math.floor(t / bucketMs) * bucketMs;

/** 'YYYY-MM-DD' of the UTC calendar day containing t. */
export function calendarDayKey(t: number): string {
  return new Date(bucketStart(t, DAY_MS)).toISOString().slice(0, 10);
}

/** Buckets of 1 minute for windows up to 2 h, else 1 hour. */
export function rollingBucketMs(lengthMs: number): number {
  return lengthMs <= 2 * HOUR_MS ? MINUTE_MS : HOUR_MS;
}

export function rollingRead(id: string, scope: string, lengthMs: number, now: number): CounterRead {
  const bucketMs = rollingBucketMs(lengthMs);
  return { id, scope, bucketMs, from: bucketStart(now - lengthMs, bucketMs), to: bucketStart(now, bucketMs) };
}

export function calendarDayRead(id: string, scope: string, now: number): CounterRead {
  const day = bucketStart(now, DAY_MS);
  return { id, scope, bucketMs: DAY_MS, from: day, to: day };
}

function readsFor(group: CounterGroup, scope: string, l: Limits | undefined, now: number): CounterRead[] {
  if (!l) return [];
  const out: CounterRead[] = [];
  if (l.rolling24h !== undefined) out.push(rollingRead(`${group}:rolling_24h`, scope, DAY_MS, now));
  if (l.calendarDay !== undefined) out.push(calendarDayRead(`${group}:calendar_day`, scope, now));
  for (const v of l.velocity ?? []) out.push(rollingRead(velocityId(group, v.windowMinutes), scope, v.windowMinutes * MINUTE_MS, now));
  return out;
}

export const velocityId = (group: CounterGroup, windowMinutes: number): string => `${group}:velocity_${windowMinutes}m`;
export const RISK_1H = 'asset:risk_1h';

/** The sums evaluateRules needs for this withdrawal (plus RISK_1H for the risk stage's lastHour). */
export function counterReads(w: Withdrawal, policy: Policy, now: number): CounterRead[] {
  const limits = limitsFor(policy, w.customerId);
  const a = counterScope(w.customerId, 'asset', w.asset);
  const seen = new Set<string>();
  const all = [
    rollingRead(RISK_1H, a, HOUR_MS, now),
    ...readsFor('asset', a, limits.perAsset[w.asset], now),
    ...readsFor('asset_reference', counterScope(w.customerId, 'asset_reference', w.asset), limits.perAssetReference[w.asset], now),
    ...readsFor('total', counterScope(w.customerId, 'total', w.asset), limits.total, now),
  ];
  return all.filter((r) => (seen.has(r.id) ? false : (seen.add(r.id), true)));
}

/** Rows an approved withdrawal adds to; reference scopes only when its reference value is known. */
export function counterWrites(w: Withdrawal, now: number, referenceValue: bigint | null): CounterWrite[] {
  const out: CounterWrite[] = [];
  const scopes: [string, bigint][] = [[counterScope(w.customerId, 'asset', w.asset), w.amount]];
  if (referenceValue !== null) {
    scopes.push([counterScope(w.customerId, 'asset_reference', w.asset), referenceValue]);
    scopes.push([counterScope(w.customerId, 'total', w.asset), referenceValue]);
  }
  for (const [scope, amount] of scopes) {
    for (const bucketMs of BUCKET_SIZES) out.push({ scope, bucketMs, bucketStart: bucketStart(now, bucketMs), count: 1, amount });
  }
  return out;
}

/**
 * The counter scopes one withdrawal reads and writes, sorted: the store takes a transaction-scoped
 * lock on each (pg_advisory_xact_lock(hashtextextended(scope, 0))) before reading totals, always in
 * the order of the lock keys (src/store/counters.ts), so concurrent withdrawals of one customer
 * serialise and two transactions never deadlock.
 * Row locks alone do not work here: a bucket row that does not exist yet cannot be locked.
 */
export function counterLockScopes(w: Withdrawal): string[] {
  return (['asset', 'asset_reference', 'total'] as const).map((g) => counterScope(w.customerId, g, w.asset)).sort();
}

/** True when adding `amount` to `currentTotal` stays at or under `cap`. */
export function fitsCap(currentTotal: bigint, amount: bigint, cap: bigint): boolean {
  if (currentTotal < 0n || amount < 0n || cap < 0n) throw new CustosError('cap_invalid', 'cap arithmetic on a negative amount', 500);
  return currentTotal + amount <= cap;
}

/** Sum of the rows a read covers, from any row source (the store does this in SQL). */
export function sumRows(read: CounterRead, rows: Iterable<{ scope: string; bucketMs: number; bucketStart: number; count: number; amount: bigint }>): Totals {
  let count = 0;
  let amount = 0n;
  for (const r of rows) {
    if (r.scope === read.scope && r.bucketMs === read.bucketMs && r.bucketStart >= read.from && r.bucketStart <= read.to) {
      count += r.count;
      amount += r.amount;
    }
  }
  return { count, amount };
}
