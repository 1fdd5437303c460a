import { describe, expect, it } from 'vitest';
import { bucket } from './bucket.js';
import { blacklistPolicy } from './blacklist.js';
import { MemoryStore } from './memory-store.js';
import type { KeyLimit } from './store.js';
import { storeContract } from './test-helpers/store-contract.js';

storeContract('MemoryStore', async () => {
  const store = new MemoryStore({ initialKeys: 2 }); // small, so the contract also exercises growth
  return { store, done: () => store.close() };
});

const lim: KeyLimit = { buckets: [bucket('withdraw.burst', 10, 1000, 0)], blacklist: blacklistPolicy() };

describe('MemoryStore bounds', () => {
  it('reclaims idle keys on sweep, keeps cooling ones', async () => {
    const s = new MemoryStore();
    for (let i = 0; i < 100; i++) s.check([`ip:${i}`], [lim], 1, 0);
    for (let i = 0; i < 11; i++) s.check(['c:bad'], [lim], 1, 0);
    expect(s.size).toBe(101);
    await s.sweep(1000); // every bucket full again after its window
    expect(s.size).toBe(1);
    expect((await s.blacklisted(1000)).map((e) => e.key)).toEqual(['c:bad']);
  });

  it('a flood of distinct keys beyond maxKeys is refused as unavailable, known keys keep working', async () => {
    const s = new MemoryStore({ maxKeys: 50 });
    for (let i = 0; i < 50; i++) s.check([`ip:${i}`], [lim], 1, 0);
    expect(() => s.check(['ip:new'], [lim], 1, 0)).toThrow(expect.objectContaining({ code: 'ratelimit_store_unavailable' }));
    expect(s.check(['ip:3'], [lim], 1, 0).allowed).toBe(true);
    // once the old keys are idle, a reclaim pass makes room again
    expect(s.check(['ip:new'], [lim], 1, 5000).allowed).toBe(true);
    expect(s.size).toBeLessThanOrEqual(50);
  });

  it('a reclaim pass under pressure never drops an unreported re-enable', async () => {
    const s = new MemoryStore({ maxKeys: 2 });
    for (let i = 0; i < 11; i++) s.check(['c:bad'], [lim], 1, 0);
    s.check(['ip:1'], [lim], 1, 0);
    // at 10 min the cooling period is over but unreported; a new key forces a reclaim
    expect(s.check(['ip:2'], [lim], 1, 600_000).allowed).toBe(true);
    expect((await s.sweep(600_000)).map((e) => e.key)).toEqual(['c:bad']);
  });
});
