import { describe, expect, it } from 'vitest';
import { compileRateLimits, rateLimitConfig, DEFAULT_RATE_LIMIT_CONFIG } from './config.js';

describe('rate-limit configuration', () => {
  it('defaults: withdraw 10/s burst and 100/min sustained, reads more generous, withdraw stricter', () => {
    const c = compileRateLimits(rateLimitConfig());
    const w = c.credential('standard', 'withdraw');
    expect(w.buckets.map((b) => [b.name, b.capacity, b.windowMs, b.slot])).toEqual([
      ['withdraw.burst', 10, 1000, 0],
      ['withdraw.sustained', 100, 60_000, 1],
    ]);
    expect(w.blacklist?.coolingMs).toBe(5 * 60_000);
    const r = c.credential('standard', 'read');
    expect(r.buckets.map((b) => b.slot)).toEqual([2, 3]);
    for (let i = 0; i < 2; i++) expect(r.buckets[i]!.capacity).toBeGreaterThan(w.buckets[i]!.capacity);
    expect(c.customer('withdraw').buckets[0]!.name).toBe('customer.withdraw.burst');
    expect(c.preAuth.buckets.map((b) => b.slot)).toEqual([0, 1]);
    expect(c.authFailure.buckets.map((b) => b.slot)).toEqual([2, 3]);
    expect([c.failureMode('withdraw'), c.failureMode('read'), c.failureMode('preauth'), c.failureMode('nope')]).toEqual(['closed', 'local', 'local', 'closed']);
    expect(c.credential('standard', 'withdraw')).toBe(w); // same object every time (stores cache by identity)
  });

  it('overrides merge per tier and route class', () => {
    const c = compileRateLimits(
      rateLimitConfig({
        tiers: { standard: { withdraw: { buckets: [{ name: 'burst', capacity: 3, windowMs: 1000 }], blacklist: null } } },
        failure: { read: 'open' },
      }),
    );
    expect(c.credential('standard', 'withdraw').buckets).toHaveLength(1);
    expect(c.credential('standard', 'withdraw').blacklist).toBeNull();
    expect(c.credential('standard', 'read').buckets[0]!.capacity).toBe(50);
    expect(c.credential('bulk', 'withdraw').buckets[0]!.capacity).toBe(20);
    expect(c.failureMode('read')).toBe('open');
  });

  it('rejects invalid configurations with a reason', () => {
    const d = DEFAULT_RATE_LIMIT_CONFIG;
    const bad = (over: object, msg: RegExp) => expect(() => compileRateLimits({ ...d, ...over })).toThrow(msg);
    bad({ routeClasses: [] }, /routeClasses/);
    bad({ routeClasses: ['withdraw', 'read', 'a', 'b', 'c'] }, /routeClasses/);
    bad({ routeClasses: ['withdraw', 'withdraw'] }, /duplicates/);
    bad({ routeClasses: ['Withdraw'] }, /route class/);
    bad({ defaultTier: 'gold' }, /defaultTier/);
    bad({ tiers: { standard: { withdraw: d.tiers.standard!.withdraw } } }, /tiers.standard.read: missing/);
    bad({ tiers: { standard: { ...d.tiers.standard, admin: d.tiers.standard!.read } } }, /unknown route class/);
    bad({ customer: { withdraw: d.customer.withdraw } }, /customer.read: missing/);
    bad({ preAuth: { buckets: [], blacklist: null } }, /one or two buckets/);
    bad({ preAuth: { buckets: [{ name: 'burst', capacity: 0, windowMs: 1000 }], blacklist: null } }, /capacity/);
    bad({ preAuth: { buckets: [{ name: 'burst', capacity: 5, windowMs: 1000 }], blacklist: { coolingMs: 60_000 } } }, /coolingMs/);
    bad({ failure: { withdraw: 'maybe', read: 'open', preauth: 'open' } }, /failure.withdraw/);
    bad({ failure: { withdraw: 'closed', read: 'open' } }, /failure.preauth/);
    // malformed shapes (a configuration file) give the same error class, never a TypeError
    bad({ routeClasses: 'withdraw' }, /routeClasses must be an array/);
    bad({ tiers: null }, /tiers must be an object/);
    bad({ tiers: { standard: 'x' } }, /tiers.standard must be an object/);
    bad({ customer: [] }, /customer must be an object/);
    bad({ preAuth: 'x' }, /preAuth: must be an object/);
    bad({ preAuth: { buckets: 'x', blacklist: null } }, /one or two buckets/);
    bad({ preAuth: { buckets: [{ name: 'burst', capacity: 5, windowMs: 1000 }], blacklist: 'yes' } }, /blacklist must be/);
    bad({ preAuth: { buckets: [{ name: 'burst', capacity: '5', windowMs: 1000 }], blacklist: null } }, /capacity/);
    bad({ preAuth: { buckets: [null], blacklist: null } }, /bucket 0 must be/);
    expect(() => compileRateLimits(null as never)).toThrow(/must be an object/);
    const c = compileRateLimits(d);
    expect(() => c.credential('gold', 'withdraw')).toThrow(/unknown/);
    expect(() => c.customer('admin')).toThrow(/unknown/);
  });
});
