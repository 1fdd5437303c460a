/**
 * A log-scale histogram of bigint amounts (base units, or counts), updatable in O(1) and small
 * enough to keep per customer and asset. Amounts below 16 each get their own bucket; above, every
 * power of two is split into 8 buckets, so a bucket's upper bound is at most 12.5 % above its lower
 * bound. Buckets are sparse (`{ index: count }`), so a customer who always withdraws similar amounts
 * costs a handful of entries. Quantiles are read exactly at bucket resolution: the bucket returned
 * always contains the true quantile (the value of rank ⌈p·n/100⌉ in sorted order), so comparisons
 * against its bounds are exact statements about the data, in bigint.
 *
 * @example
 *   let h = emptyHistogram();
 *   for (const a of [100n, 200n, 300n]) h = histogramAdd(h, a);
 *   const b = histogramQuantile(h, 50); // { lower: 192n, upper: 208n } contains 200n
 *   b && 10_000n > b.upper; // amount above the median bucket
 */
import { CustosError } from '../core/errors.js';

/** index → count; counts are plain numbers (a count of withdrawals, never money). */
export interface Histogram {
  counts: Record<string, number>;
  total: number;
}

export interface Bucket {
  index: number;
  lower: bigint; // inclusive
  upper: bigint; // exclusive
}

const SMALL = 16; // amounts 0..15 each in their own bucket
const SUB_BITS = 3; // 2^3 = 8 buckets per power of two
const SUB = 1 << SUB_BITS;

export function emptyHistogram(): Histogram {
  return { counts: {}, total: 0 };
}

function bitLength(v: bigint): number {
  return v.toString(2).length;
}

/** Bucket of an amount; O(bit length). */
export function bucketOf(amount: bigint): Bucket {
  if (amount < 0n) throw new CustosError('amount_negative', 'a histogram only holds non-negative amounts', 500);
  if (amount < BigInt(SMALL)) {
    const i = Number(amount);
    return { index: i, lower: amount, upper: amount + 1n };
  }
  const len = bitLength(amount); // >= 5
  const shift = BigInt(len - (SUB_BITS + 1));
  const top = amount >> shift; // in [SUB, 2*SUB)
  const index = SMALL + (len - 5) * SUB + Number(top - BigInt(SUB));
  return { index, lower: top << shift, upper: (top + 1n) << shift };
}

/** Inverse of bucketOf: the bounds of a bucket index. */
export function bucketBounds(index: number): Bucket {
  if (!Number.isSafeInteger(index) || index < 0) throw new CustosError('histogram_invalid', 'bucket index out of range', 500);
  if (index < SMALL) return { index, lower: BigInt(index), upper: BigInt(index + 1) };
  const rel = index - SMALL;
  const len = 5 + Math.floor(rel / SUB);
  const top = BigInt(SUB + (rel % SUB));
  const shift = BigInt(len - (SUB_BITS + 1));
  return { index, lower: top << shift, upper: (top + 1n) << shift };
}

/** A new histogram with `count` more observations of `amount` (count may be negative to remove). */
export function histogramAdd(h: Histogram, amount: bigint, count = 1): Histogram {
  const { index } = bucketOf(amount);
  const key = String(index);
  const next = (h.counts[key] ?? 0) + count;
  if (next < 0 || h.total + count < 0) throw new CustosError('histogram_invalid', 'histogram count would go negative', 500);
  const counts = { ...h.counts };
  if (next === 0) delete counts[key];
  else counts[key] = next;
  return { counts, total: h.total + count };
}

/** Sum of several histograms (e.g. the epochs of a 90-day window). */
export function histogramMerge(parts: readonly Histogram[]): Histogram {
  const counts: Record<string, number> = {};
  let total = 0;
  for (const p of parts) {
    for (const [k, v] of Object.entries(p.counts)) counts[k] = (counts[k] ?? 0) + v;
    total += p.total;
  }
  return { counts, total };
}

/**
 * The bucket holding the p-th percentile (p an integer 1..100): the value of rank ⌈p·n/100⌉ in
 * ascending order. Null when the histogram is empty.
 */
export function histogramQuantile(h: Histogram, p: number): Bucket | null {
  if (!Number.isInteger(p) || p < 1 || p > 100) throw new CustosError('histogram_invalid', 'percentile must be an integer from 1 to 100', 500);
  if (h.total <= 0) return null;
  const rank = Math.ceil((p * h.total) / 100);
  const indices = Object.keys(h.counts)
    .map(Number)
    .sort((a, b) => a - b);
  let seen = 0;
  for (const i of indices) {
    seen += h.counts[String(i)] ?? 0;
    if (seen >= rank) return bucketBounds(i);
  }
  throw new CustosError('histogram_invalid', 'histogram total does not match its buckets', 500);
}
