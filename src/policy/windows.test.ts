import { describe, expect, it } from 'vitest';
import { parsePolicy } from './document.js';
import { MemoryCounters } from './test-helpers/counters.js';
import { policyJSON, withdrawal } from './test-helpers/fixture.js';
import {
  calendarDayKey,
  calendarDayRead,
  counterReads,
  counterLockScopes,
  counterScope,
  counterWrites,
  DAY_MS,
  fitsCap,
  HOUR_MS,
  MINUTE_MS,
  rollingRead,
  sumRows,
} from './windows.js';

const E18 = 10n ** 18n;
const D = Date.UTC(2026, 10, 24); // midnight UTC
const at = (day: number, h: number, m: number) => D + day * DAY_MS + h * HOUR_MS + m * MINUTE_MS;
const price = (t: number) => ({ asset: 'ETH', refPerUnit: 250_000n, at: t });

/** A policy with only the asset limits given (no value limits, no approval tiers). */
function policyWith(eth: Record<string, unknown>) {
  const j = policyJSON() as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  j.limits = { default: { perAsset: { ETH: eth } } };
  j.approvals.tiers = [{ fromReference: '0', quorum: 0 }];
  delete j.approvals.hsmFromReference;
  return parsePolicy(j);
}

describe('fitsCap', () => {
  it('allows reaching the cap exactly, not one unit more', () => {
    expect(fitsCap(90n, 10n, 100n)).toBe(true);
    expect(fitsCap(90n, 11n, 100n)).toBe(false);
    expect(fitsCap(0n, 0n, 0n)).toBe(true);
    expect(() => fitsCap(-1n, 1n, 10n)).toThrow();
  });
});

describe('window arithmetic', () => {
  it('calendar day is the UTC day; rolling 24 h reads 25 hourly buckets', () => {
    expect(calendarDayKey(at(0, 23, 59))).toBe('2026-11-24');
    expect(calendarDayKey(at(1, 0, 1))).toBe('2026-11-25');
    const r = rollingRead('x', 's', DAY_MS, at(1, 0, 30));
    expect([r.bucketMs, r.from, r.to]).toEqual([HOUR_MS, at(0, 0, 0), at(1, 0, 0)]);
    const c = calendarDayRead('y', 's', at(1, 23, 59));
    expect([c.from, c.to]).toEqual([at(1, 0, 0), at(1, 0, 0)]);
    expect(rollingRead('v', 's', 60 * MINUTE_MS, at(0, 10, 30)).bucketMs).toBe(MINUTE_MS);
  });

  it('lock scopes cover every written scope, in a stable order', () => {
    const w = withdrawal();
    const locks = counterLockScopes(w);
    expect(locks).toEqual([...locks].sort());
    expect(new Set(counterWrites(w, 0, 1n).map((c) => c.scope))).toEqual(new Set(locks));
  });

  it('writes the same 9 rows whatever the policy, reference scopes only with a value', () => {
    const w = withdrawal();
    expect(counterWrites(w, at(0, 1, 0), 5n)).toHaveLength(9);
    expect(counterWrites(w, at(0, 1, 0), null)).toHaveLength(3);
    expect(counterScope('a"b', 'asset', 'ETH')).not.toBe(counterScope('a', 'asset', '"b'));
    const ids = counterReads(w, parsePolicy(policyJSON()), at(0, 1, 0)).map((r) => r.id);
    expect(ids).toEqual(['asset:risk_1h', 'asset:rolling_24h', 'asset:calendar_day', 'asset:velocity_60m', 'asset_reference:calendar_day', 'total:rolling_24h']);
  });
});

describe('calendar day vs rolling 24 h (23:59 / 00:01 UTC)', () => {
  const policy = policyWith({ calendarDay: '10', rolling24h: '15' });

  it('a new UTC day resets the calendar cap but not the rolling one', () => {
    const c = new MemoryCounters();
    const w = (amount: bigint) => withdrawal({ amount });
    expect(c.submit(w(8n * E18), policy, at(0, 23, 59), price(at(0, 23, 59))).outcome).toBe('pass');
    // 00:01 next day: calendar total is 0 (8 ≤ 10) but the last 24 h hold 8: 8 + 8 > 15
    const d1 = c.submit(w(8n * E18), policy, at(1, 0, 1), price(at(1, 0, 1)));
    expect(d1.outcome).toBe('block');
    expect(d1.reasons.map((r) => r.code)).toEqual(['asset_rolling_24h_cap']);
    // 7 reaches the rolling cap exactly: allowed
    expect(c.submit(w(7n * E18), policy, at(1, 0, 1), price(at(1, 0, 1))).outcome).toBe('pass');
    expect(c.submit(w(1n), policy, at(1, 0, 2), price(at(1, 0, 2))).reasons.map((r) => r.code)).toEqual(['asset_rolling_24h_cap']);
    // the 23:59 withdrawal leaves the rolling window once its hour bucket is more than 24 h old
    const calendar = (t: number) => c.totalsFor(w(1n), policy, t)['asset:calendar_day']!;
    const rolling = (t: number) => c.totalsFor(w(1n), policy, t)['asset:rolling_24h']!;
    expect(rolling(at(1, 23, 58)).amount).toBe(15n * E18);
    // exactly 24 h later the 23:59 withdrawal is outside (now − 24 h, now], but its 23:00 bucket
    // still overlaps the window: rolling totals over-count by at most one bucket, never under-count
    expect(rolling(at(1, 23, 59)).amount).toBe(15n * E18);
    expect(rolling(at(2, 0, 0)).amount).toBe(7n * E18);
    expect(calendar(at(1, 12, 0))).toEqual({ count: 1, amount: 7n * E18 });
    expect(calendar(at(0, 12, 0))).toEqual({ count: 1, amount: 8n * E18 });
  });

  it('counters accumulate: the second day has its own total and blocked withdrawals do not count', () => {
    const p = policyWith({ calendarDay: '10' });
    const c = new MemoryCounters();
    const outcomes = (day: number) =>
      [0, 1, 2].map((i) => c.submit(withdrawal({ amount: 4n * E18 }), p, at(day, 9, i), price(at(day, 9, i))).outcome);
    expect(outcomes(0)).toEqual(['pass', 'pass', 'block']);
    expect(outcomes(1)).toEqual(['pass', 'pass', 'block']);
    const day = (d: number) => sumRows(calendarDayRead('d', counterScope('c1', 'asset', 'ETH'), at(d, 18, 0)), c.rows.values());
    expect(day(0)).toEqual({ count: 2, amount: 8n * E18 });
    expect(day(1)).toEqual({ count: 2, amount: 8n * E18 });
    const blocked = c.submit(withdrawal({ amount: 3n * E18 }), p, at(1, 23, 59), price(at(1, 23, 59)));
    expect(blocked.reasons[0]!.message).toContain('Today (UTC) already holds 8 ETH');
    expect(c.submit(withdrawal({ amount: 3n * E18 }), p, at(2, 0, 1), price(at(2, 0, 1))).outcome).toBe('pass');
  });
});

describe('velocity windows', () => {
  it('3 per 60 minutes: the 4th within the hour blocks, the window slides by the minute', () => {
    const p = policyWith({ velocity: [{ windowMinutes: 60, maxCount: 3 }] });
    const c = new MemoryCounters();
    const go = (t: number) => c.submit(withdrawal({ amount: E18 }), p, t, price(t));
    expect([go(at(0, 10, 0)), go(at(0, 10, 1)), go(at(0, 10, 2))].map((d) => d.outcome)).toEqual(['pass', 'pass', 'pass']);
    expect(go(at(0, 10, 30)).reasons.map((r) => r.code)).toEqual(['asset_velocity_count']);
    expect(go(at(0, 11, 0)).outcome).toBe('block'); // the 10:00 minute bucket still overlaps (10:00, 11:00]
    expect(go(at(0, 11, 1)).outcome).toBe('pass'); // 10:00 has left the window
  });

  it('value per window', () => {
    const p = policyWith({ velocity: [{ windowMinutes: 10, maxAmount: '5' }] });
    const c = new MemoryCounters();
    expect(c.submit(withdrawal({ amount: 3n * E18 }), p, at(0, 10, 0), price(at(0, 10, 0))).outcome).toBe('pass');
    expect(c.submit(withdrawal({ amount: 2n * E18 + 1n }), p, at(0, 10, 5), price(at(0, 10, 5))).reasons.map((r) => r.code)).toEqual(['asset_velocity_amount']);
    expect(c.submit(withdrawal({ amount: 2n * E18 }), p, at(0, 10, 5), price(at(0, 10, 5))).outcome).toBe('pass');
  });
});
