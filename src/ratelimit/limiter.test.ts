import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { manualClock } from '../core/clock.js';
import { rateLimitConfig } from './config.js';
import type { RateLimitEvent } from './events.js';
import { rateLimitHeaders } from './headers.js';
import { RateLimiter } from './limiter.js';
import { MemoryStore } from './memory-store.js';
import { RedisStore } from './redis-store.js';
import { StoreUnavailableError, type RateLimitStore } from './store.js';

const MIN = 60_000;

function setup(opts: { store?: RateLimitStore; config?: Parameters<typeof rateLimitConfig>[0] } = {}) {
  const clock = manualClock(1_700_000_000_000);
  const limiter = new RateLimiter({ store: opts.store ?? new MemoryStore(), clock, config: rateLimitConfig(opts.config) });
  const events: RateLimitEvent[] = [];
  limiter.events.on((e) => events.push(e));
  return { clock, limiter, events };
}

describe('RateLimiter', () => {
  it('cuts a withdrawal burst at 10, blacklists for 5 minutes, re-enables by itself (event via sweep)', async () => {
    const { clock, limiter, events } = setup();
    const who = { credentialId: 'k1' };
    for (let i = 0; i < 10; i++) expect((await limiter.check(who, 'withdraw')).allowed).toBe(true);
    const cut = await limiter.check(who, 'withdraw');
    expect(cut).toMatchObject({ allowed: false, reason: 'blacklisted', retryAfterMs: 5 * MIN, keys: ['cred:k1'], degraded: null });
    expect(rateLimitHeaders(cut.buckets, cut)['Retry-After']).toBe('300');
    expect(events).toMatchObject([{ type: 'blacklisted', routeClass: 'withdraw', entry: { key: 'cred:k1', offences: 1 } }]);
    // reads of the same credential are refused too while it cools down, and counted
    clock.advance(MIN);
    expect((await limiter.check(who, 'read')).reason).toBe('blacklisted');
    expect((await limiter.blacklisted())[0]).toMatchObject({ key: 'cred:k1', blocked: 1 });
    clock.advance(4 * MIN);
    expect(await limiter.sweep()).toHaveLength(1);
    expect(events.at(-1)).toMatchObject({ type: 'reenabled', entry: { key: 'cred:k1', blocked: 1 } });
    expect((await limiter.check(who, 'withdraw')).allowed).toBe(true);
    expect(events).toHaveLength(2);
  });

  it('the sweeper reports a re-enable although the key never comes back', async () => {
    const { clock, limiter, events } = setup();
    for (let i = 0; i < 11; i++) await limiter.check({ credentialId: 'gone' }, 'withdraw');
    clock.advance(5 * MIN);
    const stop = limiter.startSweeper(5);
    try {
      await new Promise((r) => setTimeout(r, 60));
    } finally {
      stop();
    }
    expect(events.map((e) => e.type)).toEqual(['blacklisted', 'reenabled']);
  });

  it('limits a customer across its credentials', async () => {
    const { limiter, events } = setup();
    let passed = 0;
    for (let c = 0; c < 3; c++) for (let i = 0; i < 10; i++) if ((await limiter.check({ credentialId: `k${c}`, customerId: 'c9' }, 'withdraw')).allowed) passed++;
    expect(passed).toBe(20); // customer burst is 20 across all of its credentials
    expect(events).toMatchObject([{ type: 'blacklisted', entry: { key: 'cust:c9' } }]);
    const other = await limiter.check({ credentialId: 'k-new', customerId: 'c9' }, 'withdraw');
    expect(other).toMatchObject({ allowed: false, reason: 'blacklisted', deniedKey: 1 });
    expect((await limiter.check({ credentialId: 'k-new', customerId: 'c10' }, 'withdraw')).allowed).toBe(true);
  });

  it('a flood of invalid credentials from one address blacklists the address before authentication', async () => {
    const { limiter, events } = setup();
    for (let i = 0; i < 10; i++) expect((await limiter.recordAuthFailure('203.0.113.9')).allowed).toBe(true);
    expect((await limiter.recordAuthFailure('203.0.113.9')).reason).toBe('blacklisted');
    expect((await limiter.checkPreAuth('203.0.113.9')).reason).toBe('blacklisted');
    expect((await limiter.checkPreAuth('203.0.113.10')).allowed).toBe(true);
    // an IPv6 client rotating addresses inside its /64 stays one key
    for (let i = 0; i < 11; i++) await limiter.recordAuthFailure(`2001:db8:5:6::${(i + 1).toString(16)}`);
    expect((await limiter.checkPreAuth('2001:db8:5:6:aaaa::1')).reason).toBe('blacklisted');
    expect(events.filter((e) => e.type === 'blacklisted').map((e) => (e.type === 'blacklisted' ? e.entry.key : ''))).toEqual([
      'addr:203.0.113.9',
      'addr:2001:db8:5:6::/64',
    ]);
  });

  it('pre-auth limit holds even for valid-looking requests from one address', async () => {
    const { limiter } = setup();
    let passed = 0;
    for (let i = 0; i < 60; i++) if ((await limiter.checkPreAuth('198.51.100.1')).allowed) passed++;
    expect(passed).toBe(50);
  });

  it('an admin lift ends the cooling period early and emits who lifted it', async () => {
    const { limiter, events } = setup();
    for (let i = 0; i < 11; i++) await limiter.check({ credentialId: 'k1' }, 'withdraw');
    const e = await limiter.lift('cred:k1', 'admin:alice');
    expect(e).toMatchObject({ key: 'cred:k1', offences: 1 });
    expect(events.at(-1)).toMatchObject({ type: 'lifted', by: 'admin:alice', entry: { key: 'cred:k1' } });
    expect(await limiter.lift('cred:k1', 'admin:alice')).toBeNull();
    expect(events.filter((x) => x.type === 'lifted')).toHaveLength(1);
    expect(await limiter.blacklisted()).toEqual([]);
  });

  it('a throwing listener does not break the request path', async () => {
    const { limiter } = setup();
    limiter.events.on(() => {
      throw new Error('webhook down');
    });
    for (let i = 0; i < 10; i++) await limiter.check({ credentialId: 'k1' }, 'withdraw');
    expect((await limiter.check({ credentialId: 'k1' }, 'withdraw')).reason).toBe('blacklisted');
  });
});

describe('RateLimiter failure policy (Redis unreachable: a client pointed at a closed port)', () => {
  it('withdraw fails closed, read fails open when configured so; one alert per route class, not per request', async () => {
    const store = new RedisStore({ url: `redis://127.0.0.1:${await closedPort()}` });
    try {
      const { limiter, events } = setup({ store, config: { failure: { withdraw: 'closed', read: 'open', preauth: 'closed' } } });
      for (let i = 0; i < 3; i++) {
        const w = await limiter.check({ credentialId: 'k1' }, 'withdraw');
        expect(w).toMatchObject({ allowed: false, reason: 'store_unavailable', degraded: 'closed' });
        expect(w.retryAfterMs).toBeGreaterThan(0);
        const r = await limiter.check({ credentialId: 'k1' }, 'read');
        expect(r).toMatchObject({ allowed: true, reason: 'store_unavailable', degraded: 'open' });
      }
      expect((await limiter.checkPreAuth('192.0.2.1')).allowed).toBe(false);
      expect(events).toMatchObject([
        { type: 'store_unavailable', routeClass: 'withdraw', mode: 'closed', code: 'ratelimit_store_unavailable' },
        { type: 'store_unavailable', routeClass: 'read', mode: 'open' },
        { type: 'store_unavailable', routeClass: 'preauth', mode: 'closed' },
      ]);
    } finally {
      await store.close();
    }
  });

  it('local mode (the read default) keeps enforcing limits per instance while Redis is down', async () => {
    const store = new RedisStore({ url: `redis://127.0.0.1:${await closedPort()}` });
    try {
      const { limiter } = setup({ store });
      let passed = 0;
      for (let i = 0; i < 60; i++) {
        const r = await limiter.check({ credentialId: 'k1' }, 'read');
        expect(r.degraded).toBe('local');
        if (r.allowed) passed++;
      }
      expect(passed).toBe(50);
    } finally {
      await store.close();
    }
  });

  it('raises store_recovered once the store answers again, and alerts again after the interval', async () => {
    let down = true;
    const inner = new MemoryStore();
    const flaky: RateLimitStore = {
      check: (k, l, c, n) => {
        if (down) throw new StoreUnavailableError('down');
        return inner.check(k, l, c, n);
      },
      lift: (k, n) => inner.lift(k, n),
      sweep: (n) => inner.sweep(n),
      blacklisted: (n) => inner.blacklisted(n),
      close: () => inner.close(),
    };
    const { limiter, events, clock } = setup({ store: flaky });
    await limiter.check({ credentialId: 'k' }, 'withdraw');
    await limiter.check({ credentialId: 'k' }, 'withdraw');
    clock.advance(MIN);
    await limiter.check({ credentialId: 'k' }, 'withdraw');
    down = false;
    expect((await limiter.check({ credentialId: 'k' }, 'withdraw')).allowed).toBe(true);
    await limiter.check({ credentialId: 'k' }, 'withdraw');
    expect(events.map((e) => e.type)).toEqual(['store_unavailable', 'store_unavailable', 'store_recovered']);
  });

  it('a bug (not an outage) in the store is not swallowed by the failure policy', async () => {
    const broken: RateLimitStore = { ...new MemoryStore(), check: () => { throw new TypeError('bug'); } } as unknown as RateLimitStore;
    const { limiter } = setup({ store: broken });
    await expect(limiter.check({ credentialId: 'k' }, 'withdraw')).rejects.toThrow(TypeError);
  });
});

async function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      srv.close(() => resolve(port));
    });
  });
}
