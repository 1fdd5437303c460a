import { describe, expect, it } from 'vitest';
import { blacklistPolicy, coolingPeriodMs, countRefusal, nextOffences, DEFAULT_BLACKLIST_POLICY } from './blacklist.js';

const MIN = 60_000;

describe('blacklist policy', () => {
  it('defaults to 5 minutes, doubling up to one hour', () => {
    const p = blacklistPolicy();
    expect(p).toEqual(DEFAULT_BLACKLIST_POLICY);
    expect([1, 2, 3, 4, 5, 50, 10_000].map((n) => coolingPeriodMs(p, n) / MIN)).toEqual([5, 10, 20, 40, 60, 60, 60]);
  });

  it('accepts 5 to 10 minutes and rejects anything outside, or a cap below the base', () => {
    expect(blacklistPolicy({ coolingMs: 10 * MIN }).coolingMs).toBe(10 * MIN);
    for (const bad of [5 * MIN - 1, 10 * MIN + 1, 0, -1, Number.NaN, Infinity, 5.5 * MIN + 0.5]) {
      expect(() => blacklistPolicy({ coolingMs: bad })).toThrow(/coolingMs/);
    }
    expect(() => blacklistPolicy({ coolingMs: 8 * MIN, maxCoolingMs: 7 * MIN })).toThrow(/maxCoolingMs/);
    expect(() => blacklistPolicy({ maxCoolingMs: 25 * 60 * MIN })).toThrow(/maxCoolingMs/);
    expect(() => blacklistPolicy({ factor: 0.5 })).toThrow(/factor/);
    expect(() => blacklistPolicy({ tolerance: -1 })).toThrow(/tolerance/);
    expect(() => blacklistPolicy({ toleranceWindowMs: 0 })).toThrow(/toleranceWindowMs/);
    expect(() => blacklistPolicy({ offenceWindowMs: 8 * 24 * 60 * MIN })).toThrow(/offenceWindowMs/);
  });

  it('factor 1 disables escalation; the cap always bounds the period (never forever)', () => {
    expect(coolingPeriodMs(blacklistPolicy({ factor: 1 }), 9)).toBe(5 * MIN);
    const p = blacklistPolicy({ factor: 10, maxCoolingMs: 24 * 60 * MIN });
    expect(coolingPeriodMs(p, Number.MAX_SAFE_INTEGER)).toBe(24 * 60 * MIN);
  });

  it('counts a repeat offence only within the offence window, and not across a backwards clock jump', () => {
    const p = blacklistPolicy({ offenceWindowMs: 60 * MIN });
    expect(nextOffences(p, 0, 0, 1000)).toBe(1);
    expect(nextOffences(p, 2, 1000, 1000 + 60 * MIN)).toBe(3);
    expect(nextOffences(p, 2, 1000, 1001 + 60 * MIN)).toBe(1);
    expect(nextOffences(p, 2, 10_000, 5_000)).toBe(1);
  });

  it('refusal window restarts when expired or after a backwards jump', () => {
    const p = blacklistPolicy({ toleranceWindowMs: 1000 });
    expect(countRefusal(p, 0, 0, 500)).toEqual({ count: 1, windowStart: 500 });
    expect(countRefusal(p, 1, 500, 1500)).toEqual({ count: 2, windowStart: 500 });
    expect(countRefusal(p, 2, 500, 1501)).toEqual({ count: 1, windowStart: 1501 });
    expect(countRefusal(p, 2, 500, 100)).toEqual({ count: 1, windowStart: 100 });
  });
});
