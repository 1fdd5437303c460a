import { describe, expect, it } from 'vitest';
import { bucketBounds, bucketOf, emptyHistogram, histogramAdd, histogramMerge, histogramQuantile } from './histogram.js';

/** Seeded xorshift128+ so failures replay. */
function rng(seed: bigint) {
  let s0 = seed | 1n;
  let s1 = (seed * 0x9e3779b97f4a7c15n) & 0xffffffffffffffffn;
  const M = 0xffffffffffffffffn;
  return (): bigint => {
    let x = s0;
    const y = s1;
    s0 = y;
    x ^= (x << 23n) & M;
    s1 = x ^ y ^ (x >> 17n) ^ (y >> 26n);
    return (s1 + y) & M;
  };
}

describe('buckets', () => {
  it('every amount lies in its bucket and buckets tile the line without gaps', () => {
    let prevUpper = 0n;
    for (let i = 0; i < 600; i++) {
      const b = bucketBounds(i);
      expect(b.lower).toBe(prevUpper);
      expect(bucketOf(b.lower).index).toBe(i);
      expect(bucketOf(b.upper - 1n).index).toBe(i);
      // relative width bounded by 1/8 above the small range
      if (i >= 16) expect((b.upper - b.lower) * 8n <= b.lower).toBe(true);
      prevUpper = b.upper;
    }
  });

  it('handles 256-bit amounts and rejects negatives', () => {
    const big = (1n << 255n) + 12345n;
    const b = bucketOf(big);
    expect(b.lower <= big && big < b.upper).toBe(true);
    expect(() => bucketOf(-1n)).toThrow();
  });
});

describe('histogramQuantile', () => {
  it('matches a brute-force percentile on random data (seeded property test)', () => {
    const next = rng(20261124n);
    for (let trial = 0; trial < 120; trial++) {
      const n = 1 + Number(next() % 300n);
      const scaleBits = next() % 80n;
      const values: bigint[] = [];
      let h = emptyHistogram();
      for (let i = 0; i < n; i++) {
        // log-uniform-ish amounts with a customer-specific scale
        const v = (next() >> (next() % 64n)) << scaleBits;
        values.push(v);
        h = histogramAdd(h, v);
      }
      values.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      for (const p of [1, 50, 90, 99, 100]) {
        const truth = values[Math.ceil((p * n) / 100) - 1]!;
        const b = histogramQuantile(h, p)!;
        expect(b.lower <= truth && truth < b.upper, `trial ${trial} p${p}`).toBe(true);
      }
    }
  });

  it('is empty-safe, merges, and supports removal', () => {
    expect(histogramQuantile(emptyHistogram(), 50)).toBeNull();
    const a = histogramAdd(histogramAdd(emptyHistogram(), 10n), 1000n);
    const b = histogramAdd(emptyHistogram(), 1000n);
    const m = histogramMerge([a, b]);
    expect(m.total).toBe(3);
    expect(histogramQuantile(m, 50)!.lower <= 1000n).toBe(true);
    const r = histogramAdd(m, 1000n, -2);
    expect(histogramQuantile(r, 100)!.index).toBe(bucketOf(10n).index);
    expect(() => histogramAdd(r, 5n, -1)).toThrow();
    expect(() => histogramQuantile(m, 0)).toThrow();
    expect(() => histogramQuantile(m, 99.5)).toThrow();
  });
});
