import { describe, expect, it } from 'vitest';
import { bucket, consumeBuckets, fullState, refilledTokens, advancedTime, type BucketSpec, type BucketState } from './bucket.js';

const burst = bucket('withdraw.burst', 10, 1000, 0);
const sustained = bucket('withdraw.sustained', 100, 60_000, 1);
const both: BucketSpec[] = [burst, sustained];
const fresh = (specs: BucketSpec[], now: number): BucketState[] => specs.map((s) => fullState(s, now));

describe('token bucket', () => {
  it('passes 10 immediate requests, refuses the 11th, passes one more after 100 ms', () => {
    const st = fresh(both, 1_000);
    for (let i = 0; i < 10; i++) expect(consumeBuckets(st, both, 1, 1_000).allowed).toBe(true);
    const refused = consumeBuckets(st, both, 1, 1_000);
    expect(refused.allowed).toBe(false);
    expect(refused.retryAfterMs).toBe(100);
    expect(consumeBuckets(st, both, 1, 1_099).allowed).toBe(false);
    const after = consumeBuckets(st, both, 1, 1_100);
    expect(after.allowed).toBe(true);
    expect(after.remaining).toEqual([0, 89]);
    expect(consumeBuckets(st, both, 1, 1_100).allowed).toBe(false);
  });

  it('refill is continuous, not a fixed window: half a window gives half the tokens', () => {
    const st = fresh([burst], 0);
    for (let i = 0; i < 10; i++) consumeBuckets(st, [burst], 1, 0);
    const r = consumeBuckets(st, [burst], 0, 500);
    expect(r.remaining).toEqual([5]);
  });

  it('enforces the sustained limit over a minute (100/min) while the burst bucket keeps refilling', () => {
    const st = fresh(both, 0);
    let passed = 0;
    // one attempt every 50 ms for 60 s: the burst bucket alone would allow ~610
    for (let t = 0; t < 60_000; t += 50) if (consumeBuckets(st, both, 1, t).allowed) passed++;
    // 100 initial tokens plus what refills during the minute at 100/min (just under 100 more)
    expect(passed).toBeGreaterThanOrEqual(198);
    expect(passed).toBeLessThanOrEqual(200);
    const denied = consumeBuckets(st, both, 1, 60_000);
    // whichever bucket is empty bounds the retry; the sustained one refills one token per 600 ms
    expect(denied.retryAfterMs).toBeLessThanOrEqual(600);
  });

  it('is atomic across buckets: a refusal takes nothing from the buckets that had tokens', () => {
    const small = bucket('a', 1, 1000, 0);
    const big = bucket('b', 5, 1000, 1);
    const st = fresh([small, big], 0);
    expect(consumeBuckets(st, [small, big], 1, 0).allowed).toBe(true);
    const r = consumeBuckets(st, [small, big], 1, 0);
    expect(r.allowed).toBe(false);
    expect(r.remaining).toEqual([0, 4]);
  });

  it('a cost of several tokens needs them all, and reports the wait for the whole cost', () => {
    const st = fresh([burst], 0);
    expect(consumeBuckets(st, [burst], 8, 0).allowed).toBe(true);
    const r = consumeBuckets(st, [burst], 5, 0);
    expect(r.allowed).toBe(false);
    expect(r.retryAfterMs).toBe(300);
    expect(r.remaining).toEqual([2]);
  });

  it('a backwards clock jump mints nothing and does not crash; refill resumes past the old time', () => {
    const st = fresh(both, 10_000);
    for (let i = 0; i < 10; i++) consumeBuckets(st, both, 1, 10_000);
    // jump back 500 ms (less than the burst window): hold
    expect(consumeBuckets(st, both, 1, 9_500).allowed).toBe(false);
    expect(st[0]!.tokens).toBe(0);
    expect(consumeBuckets(st, both, 1, 10_050).allowed).toBe(false); // only 50 ms since 10 000
    expect(consumeBuckets(st, both, 1, 10_100).allowed).toBe(true);
  });

  it('a huge backwards jump re-bases without minting tokens (no stall for hours)', () => {
    const st = fresh([burst], 5_000_000);
    for (let i = 0; i < 10; i++) consumeBuckets(st, [burst], 1, 5_000_000);
    const back = 5_000_000 - 3_600_000;
    expect(consumeBuckets(st, [burst], 1, back).allowed).toBe(false);
    expect(st[0]!.updatedAt).toBe(back);
    expect(consumeBuckets(st, [burst], 1, back + 100).allowed).toBe(true);
    expect(consumeBuckets(st, [burst], 1, back + 100).allowed).toBe(false);
  });

  it('oscillating clock within the window never mints tokens', () => {
    const st = fresh([burst], 1_000);
    for (let i = 0; i < 10; i++) consumeBuckets(st, [burst], 1, 1_000);
    let passed = 0;
    for (let i = 0; i < 100; i++) {
      if (consumeBuckets(st, [burst], 1, 1_000 - 400).allowed) passed++;
      if (consumeBuckets(st, [burst], 1, 1_000).allowed) passed++;
    }
    expect(passed).toBe(0);
  });

  it('a huge forward jump fills to capacity only', () => {
    const st = fresh(both, 0);
    for (let i = 0; i < 10; i++) consumeBuckets(st, both, 1, 0);
    const r = consumeBuckets(st, both, 0, 1e15);
    expect(r.remaining).toEqual([10, 100]);
    expect(refilledTokens(0, 0, 10, 1000, Number.MAX_SAFE_INTEGER)).toBe(10);
  });

  it('rejects non-finite time, negative or impossible cost, and bad specs', () => {
    const st = fresh([burst], 0);
    expect(() => consumeBuckets(st, [burst], 1, Number.NaN)).toThrow(/finite/);
    expect(() => consumeBuckets(st, [burst], 1, Infinity)).toThrow(/finite/);
    expect(() => consumeBuckets(st, [burst], -1, 0)).toThrow(/cost/);
    expect(() => consumeBuckets(st, [burst], 11, 0)).toThrow(/never pass/);
    expect(() => bucket('x', 0, 1000)).toThrow(/capacity/);
    expect(() => bucket('x', 1.5, 1000)).toThrow(/capacity/);
    expect(() => bucket('x', 10, 0)).toThrow(/windowMs/);
    expect(() => bucket('X Y', 10, 10)).toThrow(/name/);
    expect(() => bucket('x', 10, 10, 8)).toThrow(/slot/);
    expect(st[0]!.tokens).toBe(10);
  });

  it('advancedTime holds for small backwards jumps and re-bases for large ones', () => {
    expect(advancedTime(1000, 1000, 1500)).toBe(1500);
    expect(advancedTime(1000, 1000, 500)).toBe(1000);
    expect(advancedTime(5000, 1000, 500)).toBe(500);
  });
});
