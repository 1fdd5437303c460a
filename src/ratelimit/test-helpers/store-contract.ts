/**
 * The behaviour every RateLimitStore must show, as one vitest suite run against each store
 * (memory-store.test.ts, redis-store.test.ts). Times are injected (`now` arguments), so stores
 * must be built with caller time and full cold start.
 *
 * @example
 *   storeContract('MemoryStore', async () => ({ store: new MemoryStore(), done: async () => {} }));
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bucket } from '../bucket.js';
import { blacklistPolicy } from '../blacklist.js';
import type { KeyLimit, RateLimitStore } from '../store.js';

export interface ContractFixture {
  store: RateLimitStore;
  done: () => Promise<void>;
}

const MIN = 60_000;
const T0 = 1_700_000_000_000;

const withdraw: KeyLimit = { buckets: [bucket('withdraw.burst', 10, 1000, 0), bucket('withdraw.sustained', 100, MIN, 1)], blacklist: null };
const strict: KeyLimit = { ...withdraw, blacklist: blacklistPolicy() };
const customer: KeyLimit = { buckets: [bucket('withdraw.burst', 3, 1000, 0)], blacklist: null };

export function storeContract(name: string, make: () => Promise<ContractFixture>): void {
  describe(`${name} (store contract)`, () => {
    let fx: ContractFixture;
    let s: RateLimitStore;
    beforeEach(async () => {
      fx = await make();
      s = fx.store;
    });
    afterEach(async () => {
      await fx.done();
    });

    it('10 immediate requests pass, the 11th is refused, one more passes after 100 ms', async () => {
      for (let i = 0; i < 10; i++) {
        const r = await s.check(['c:a'], [withdraw], 1, T0);
        expect(r.allowed).toBe(true);
        expect(r.remaining).toEqual([9 - i, 99 - i]);
      }
      const refused = await s.check(['c:a'], [withdraw], 1, T0);
      expect(refused).toMatchObject({ allowed: false, reason: 'limited', retryAfterMs: 100, deniedKey: 0 });
      expect((await s.check(['c:a'], [withdraw], 1, T0 + 99)).allowed).toBe(false);
      expect((await s.check(['c:a'], [withdraw], 1, T0 + 100)).allowed).toBe(true);
      expect((await s.check(['c:a'], [withdraw], 1, T0 + 100)).allowed).toBe(false);
    });

    it('sustained limit: 100 per minute even when the burst bucket allows more', async () => {
      let passed = 0;
      for (let t = 0; t < 20_000; t += 100) if ((await s.check(['c:s'], [withdraw], 1, T0 + t)).allowed) passed++;
      // 100 at start plus about 33 refilled in 20 s at 100/min
      expect(passed).toBeGreaterThanOrEqual(132);
      expect(passed).toBeLessThanOrEqual(134);
      const r = await s.check(['c:s'], [withdraw], 1, T0 + 20_000);
      expect(r.allowed).toBe(false);
      expect(r.retryAfterMs).toBeGreaterThan(0);
      expect(r.retryAfterMs).toBeLessThanOrEqual(600);
    });

    it('is atomic across keys: the customer bucket bounds all its credentials, a refusal spends nothing', async () => {
      expect((await s.check(['c:x1', 'u:1'], [withdraw, customer], 1, T0)).allowed).toBe(true);
      expect((await s.check(['c:x2', 'u:1'], [withdraw, customer], 1, T0)).allowed).toBe(true);
      expect((await s.check(['c:x3', 'u:1'], [withdraw, customer], 1, T0)).allowed).toBe(true);
      const r = await s.check(['c:x1', 'u:1'], [withdraw, customer], 1, T0);
      expect(r).toMatchObject({ allowed: false, reason: 'limited', deniedKey: 1 });
      // the credential's own buckets were not charged by the refusal
      expect(r.remaining).toEqual([9, 99, 0]);
    });

    it('blacklists on exceeding, refuses and counts meanwhile, re-enables lazily when the period ends', async () => {
      for (let i = 0; i < 10; i++) await s.check(['c:b'], [strict], 1, T0);
      const hit = await s.check(['c:b'], [strict], 1, T0);
      expect(hit).toMatchObject({ allowed: false, reason: 'blacklisted', retryAfterMs: 5 * MIN });
      expect(hit.blacklisted).toEqual([{ key: 'c:b', since: T0, until: T0 + 5 * MIN, offences: 1, blocked: 0 }]);
      for (let i = 0; i < 3; i++) {
        const r = await s.check(['c:b'], [strict], 1, T0 + 60_000);
        expect(r).toMatchObject({ allowed: false, reason: 'blacklisted', retryAfterMs: 4 * MIN, deniedKey: 0 });
        expect(r.blacklisted).toEqual([]);
      }
      expect(await s.blacklisted(T0 + 1)).toEqual([{ key: 'c:b', since: T0, until: T0 + 5 * MIN, offences: 1, blocked: 3 }]);
      const back = await s.check(['c:b'], [strict], 1, T0 + 5 * MIN);
      expect(back.allowed).toBe(true);
      expect(back.reenabled).toEqual([{ key: 'c:b', since: T0, until: T0 + 5 * MIN, offences: 1, blocked: 3 }]);
      expect(await s.blacklisted(T0 + 5 * MIN)).toEqual([]);
      expect(await s.sweep(T0 + 10 * MIN)).toEqual([]); // reported once only
    });

    it('sweep reports an expired cooling period exactly once, without any check', async () => {
      for (let i = 0; i < 11; i++) await s.check(['c:w'], [strict], 1, T0);
      expect(await s.sweep(T0 + 5 * MIN - 1)).toEqual([]);
      const swept = await s.sweep(T0 + 5 * MIN);
      expect(swept.map((e) => [e.key, e.until])).toEqual([['c:w', T0 + 5 * MIN]]);
      expect(await s.sweep(T0 + 6 * MIN)).toEqual([]);
      const r = await s.check(['c:w'], [strict], 1, T0 + 6 * MIN);
      expect(r.allowed).toBe(true);
      expect(r.reenabled).toEqual([]);
    });

    it('escalates repeat offenders (doubling up to the cap) and forgets after the offence window', async () => {
      const p = blacklistPolicy({ coolingMs: 5 * MIN, factor: 2, maxCoolingMs: 15 * MIN, offenceWindowMs: 60 * MIN });
      const lim: KeyLimit = { buckets: [bucket('withdraw.burst', 1, 1000, 0)], blacklist: p };
      let t = T0;
      const offend = async () => {
        expect((await s.check(['c:e'], [lim], 1, t)).allowed).toBe(true);
        const r = await s.check(['c:e'], [lim], 1, t);
        expect(r.reason).toBe('blacklisted');
        return r.blacklisted[0]!;
      };
      const e1 = await offend();
      expect([e1.offences, e1.until - t]).toEqual([1, 5 * MIN]);
      t = e1.until + 1000;
      const e2 = await offend();
      expect([e2.offences, e2.until - t]).toEqual([2, 10 * MIN]);
      t = e2.until + 1000;
      const e3 = await offend();
      expect([e3.offences, e3.until - t]).toEqual([3, 15 * MIN]); // 20 min capped at 15
      t = e3.until + 61 * MIN; // longer than the offence window since the last offence
      const e4 = await offend();
      expect([e4.offences, e4.until - t]).toEqual([1, 5 * MIN]);
    });

    it('tolerates the configured number of refusals before blacklisting', async () => {
      const lim: KeyLimit = { buckets: [bucket('read.burst', 2, 1000, 2)], blacklist: blacklistPolicy({ tolerance: 3, toleranceWindowMs: 10_000 }) };
      await s.check(['c:t'], [lim], 1, T0);
      await s.check(['c:t'], [lim], 1, T0);
      for (let i = 0; i < 3; i++) expect((await s.check(['c:t'], [lim], 1, T0)).reason).toBe('limited');
      expect((await s.check(['c:t'], [lim], 1, T0)).reason).toBe('blacklisted');
      // refusals spread beyond the tolerance window do not add up
      await s.check(['c:t2'], [lim], 1, T0);
      await s.check(['c:t2'], [lim], 1, T0);
      for (let i = 0; i < 10; i++) {
        const now = T0 + 11_000 * i;
        await s.check(['c:t2'], [lim], 2, now); // drains, then the next one is refused
        expect((await s.check(['c:t2'], [lim], 2, now)).reason).toBe('limited');
      }
    });

    it('lift ends a cooling period early, once; lifting an unlisted key is null', async () => {
      for (let i = 0; i < 11; i++) await s.check(['c:l'], [strict], 1, T0);
      await s.check(['c:l'], [strict], 1, T0 + 10);
      const lifted = await s.lift('c:l', T0 + 1000);
      expect(lifted).toEqual({ key: 'c:l', since: T0, until: T0 + 5 * MIN, offences: 1, blocked: 1 });
      expect(await s.lift('c:l', T0 + 1000)).toBeNull();
      expect(await s.lift('c:never', T0)).toBeNull();
      expect(await s.blacklisted(T0 + 1000)).toEqual([]);
      const r = await s.check(['c:l'], [strict], 1, T0 + 1000);
      expect(r.allowed).toBe(true);
      expect(r.reenabled).toEqual([]);
      expect(await s.sweep(T0 + 10 * MIN)).toEqual([]);
    });

    it('clock jumps: backwards mints nothing, a blacklist survives it, a huge forward jump fills to capacity only', async () => {
      for (let i = 0; i < 10; i++) await s.check(['c:j'], [withdraw], 1, T0);
      expect((await s.check(['c:j'], [withdraw], 1, T0 - 500)).allowed).toBe(false);
      expect((await s.check(['c:j'], [withdraw], 1, T0 + 50)).allowed).toBe(false);
      expect((await s.check(['c:j'], [withdraw], 1, T0 + 100)).allowed).toBe(true);
      const far = await s.check(['c:j'], [withdraw], 0, T0 + 1e12);
      expect(far.remaining).toEqual([10, 100]);

      for (let i = 0; i < 11; i++) await s.check(['c:jb'], [strict], 1, T0);
      const r = await s.check(['c:jb'], [strict], 1, T0 - 3_600_000);
      expect(r.reason).toBe('blacklisted');
      // never stuck: once time passes the end, the key is back
      expect((await s.check(['c:jb'], [strict], 1, T0 + 5 * MIN)).allowed).toBe(true);
    });

    it('route classes on one key use separate slots', async () => {
      const read: KeyLimit = { buckets: [bucket('read.burst', 2, 1000, 2)], blacklist: null };
      for (let i = 0; i < 10; i++) await s.check(['c:r'], [withdraw], 1, T0);
      expect((await s.check(['c:r'], [read], 1, T0)).allowed).toBe(true);
      expect((await s.check(['c:r'], [withdraw], 1, T0)).allowed).toBe(false);
    });

    it('rejects misuse before touching state', async () => {
      await expect(async () => s.check([], [], 1, T0)).rejects.toThrow(/one limit per key/);
      await expect(async () => s.check(['a', 'a'], [withdraw, withdraw], 1, T0)).rejects.toThrow(/once/);
      await expect(async () => s.check(['a'], [withdraw], 11, T0)).rejects.toThrow(/never pass/);
      await expect(async () => s.check(['a'], [withdraw], 1, Number.NaN)).rejects.toThrow(/finite/);
      await expect(async () => s.check(['x'.repeat(300)], [withdraw], 1, T0)).rejects.toThrow(/characters/);
      expect((await s.check(['a'], [withdraw], 1, T0)).remaining).toEqual([9, 99]);
    });
  });
}
