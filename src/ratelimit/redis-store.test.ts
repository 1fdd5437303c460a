import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bucket } from './bucket.js';
import { blacklistPolicy } from './blacklist.js';
import { MemoryStore } from './memory-store.js';
import { RedisStore } from './redis-store.js';
import type { KeyLimit } from './store.js';
import { storeContract } from './test-helpers/store-contract.js';

const REDIS_URL = process.env.REDIS_URL;
const prefix = () => `custos-test:rl:${randomBytes(6).toString('hex')}:`;

async function dropPrefix(client: Redis, p: string): Promise<void> {
  const keys = await client.keys(`${p}*`);
  if (keys.length > 0) await client.del(...keys);
}

const withdraw: KeyLimit = { buckets: [bucket('withdraw.burst', 10, 1000, 0), bucket('withdraw.sustained', 100, 60_000, 1)], blacklist: blacklistPolicy() };
const noBlacklist: KeyLimit = { ...withdraw, blacklist: null };
const slow: KeyLimit = { buckets: [bucket('withdraw.burst', 10, 3_600_000, 0)], blacklist: null };

describe.skipIf(!REDIS_URL)('RedisStore (needs REDIS_URL; skipped without it)', () => {
  let admin: Redis;
  beforeAll(async () => {
    admin = new Redis(REDIS_URL!);
  });
  afterAll(async () => {
    await admin.quit();
  });

  storeContract('RedisStore', async () => {
    const p = prefix();
    const store = new RedisStore({ url: REDIS_URL!, prefix: p, timeSource: 'caller', coldStart: 'full' });
    await store.ready();
    return {
      store,
      done: async () => {
        await dropPrefix(admin, p);
        await store.close();
      },
    };
  });

  it('agrees with the memory store on a long random sequence (differential test of the Lua mirror)', async () => {
    const p = prefix();
    const redis = new RedisStore({ url: REDIS_URL!, prefix: p, timeSource: 'caller', coldStart: 'full' });
    const memory = new MemoryStore();
    try {
      await redis.ready();
      // RL_FUZZ_SEED / RL_FUZZ_STEPS explore other sequences locally; CI runs the fixed one
      let seed = Number(process.env.RL_FUZZ_SEED ?? 0x2545f491) | 0 || 1;
      const steps = Number(process.env.RL_FUZZ_STEPS ?? 400);
      const rand = (n: number) => {
        seed ^= seed << 13;
        seed ^= seed >>> 17;
        seed ^= seed << 5;
        return (seed >>> 0) % n;
      };
      const limitsPool: KeyLimit[] = [
        { buckets: [bucket('a.burst', 3, 1000, 0), bucket('a.sustained', 7, 10_000, 1)], blacklist: blacklistPolicy({ tolerance: 2, toleranceWindowMs: 2000, maxCoolingMs: 20 * 60_000, offenceWindowMs: 3_600_000 }) },
        { buckets: [bucket('b.burst', 5, 700, 2)], blacklist: null },
        { buckets: [bucket('c.burst', 2, 300, 4), bucket('c.sustained', 4, 5000, 5)], blacklist: blacklistPolicy({ factor: 3 }) },
      ];
      const subjects = ['c:1', 'c:2', 'u:1', 'addr:9'];
      const seen = { ok: 0, limited: 0, blacklisted: 0, store_unavailable: 1, newBlacklisted: 0, lazyReenabled: 0, lifted: 0, swept: 0 };
      let now = 1_000_000;
      let floor = -Infinity;
      for (let step = 0; step < steps; step++) {
        const jump = rand(10);
        now = Math.max(floor, now + (jump < 6 ? rand(200) : jump < 8 ? rand(400_000) : jump < 9 ? -rand(3000) : 0));
        const op = rand(20);
        if (op === 0) {
          const key = subjects[rand(subjects.length)]!;
          const lifted = await memory.lift(key, now);
          expect(await redis.lift(key, now)).toEqual(lifted);
          if (lifted) seen.lifted++;
          continue;
        }
        if (op <= 3) {
          const byKey = (a: { key: string }, b: { key: string }) => a.key.localeCompare(b.key);
          // the memory store reclaims idle records (full buckets) on sweep; Redis keeps the key
          // until its TTL. Both agree as long as time does not go back before the sweep, where the
          // memory store answers "full as of the sweep" and Redis recomputes from older state
          // (neither mints tokens; see the clock-jump tests of the contract).
          floor = now;
          const swept = (await memory.sweep(now)).sort(byKey);
          expect((await redis.sweep(now)).sort(byKey)).toEqual(swept);
          seen.swept += swept.length;
          continue;
        }
        const first = rand(subjects.length);
        const keys = rand(3) === 0 ? [subjects[first]!, subjects[(first + 1) % subjects.length]!] : [subjects[first]!];
        const limits = keys.map((k) => limitsPool[subjects.indexOf(k) % limitsPool.length]!);
        const cost = rand(4) === 0 ? 2 : 1;
        const m = memory.check(keys, limits, cost, now);
        const r = await redis.check(keys, limits, cost, now);
        expect({ step, ...r }).toEqual({ step, ...m });
        seen[m.reason]++;
        seen.newBlacklisted += m.blacklisted.length;
        seen.lazyReenabled += m.reenabled.length;
      }
      // the sequence must reach every branch, or the comparison would prove little
      for (const [branch, count] of Object.entries(seen)) expect(count, branch).toBeGreaterThan(0);
    } finally {
      await dropPrefix(admin, p);
      await redis.close();
      await memory.close();
    }
  });

  it('two instances (two clients) enforce one bucket', async () => {
    const p = prefix();
    const a = new RedisStore({ url: REDIS_URL!, prefix: p, coldStart: 'full' });
    const b = new RedisStore({ url: REDIS_URL!, prefix: p, coldStart: 'full' });
    try {
      await Promise.all([a.ready(), b.ready()]);
      let passed = 0;
      for (let i = 0; i < 10; i++) {
        const s = i % 2 === 0 ? a : b;
        if ((await s.check(['c:shared'], [slow], 1, 0)).allowed) passed++;
      }
      expect(passed).toBe(10);
      expect((await a.check(['c:shared'], [slow], 1, 0)).allowed).toBe(false);
      expect((await b.check(['c:shared'], [slow], 1, 0)).allowed).toBe(false);
    } finally {
      await dropPrefix(admin, p);
      await a.close();
      await b.close();
    }
  });

  it('200 parallel checks from two instances against a capacity of 10 admit exactly 10', async () => {
    const p = prefix();
    const a = new RedisStore({ url: REDIS_URL!, prefix: p, coldStart: 'full' });
    const b = new RedisStore({ url: REDIS_URL!, prefix: p, coldStart: 'full' });
    try {
      await Promise.all([a.ready(), b.ready()]);
      const results = await Promise.all(Array.from({ length: 200 }, (_, i) => (i % 2 ? a : b).check(['c:par'], [slow], 1, 0)));
      expect(results.filter((r) => r.allowed)).toHaveLength(10);
      expect(results.filter((r) => r.reason === 'limited')).toHaveLength(190);
    } finally {
      await dropPrefix(admin, p);
      await a.close();
      await b.close();
    }
  });

  it('a key named like an internal key cannot clobber the epoch or the blacklist index', async () => {
    const p = prefix();
    const s = new RedisStore({ url: REDIS_URL!, prefix: p, timeSource: 'caller', coldStart: 'full' });
    try {
      await s.ready();
      for (let i = 0; i < 11; i++) await s.check(['c:b'], [withdraw], 1, 0);
      for (const k of ['epoch', 'blacklist']) for (let i = 0; i < 12; i++) await s.check([k], [withdraw], 1, 0);
      expect((await s.blacklisted(1)).map((e) => e.key).sort()).toEqual(['blacklist', 'c:b', 'epoch']);
      expect(await admin.type(`${p}blacklist`)).toBe('zset');
    } finally {
      await dropPrefix(admin, p);
      await s.close();
    }
  });

  it('uses Redis TIME by default: a caller clock far off changes nothing', async () => {
    const p = prefix();
    const s = new RedisStore({ url: REDIS_URL!, prefix: p, coldStart: 'full' });
    try {
      await s.ready();
      const [sec] = await admin.time();
      for (let i = 0; i < 10; i++) await s.check(['c:t'], [withdraw], 1, 0);
      const r = await s.check(['c:t'], [withdraw], 1, 9e15); // a caller clock in the far future mints nothing
      expect(r.allowed).toBe(false);
      expect(Math.abs(r.now - Number(sec) * 1000)).toBeLessThan(5000);
    } finally {
      await dropPrefix(admin, p);
      await s.close();
    }
  });

  it('every key it writes has a TTL (except the one epoch key), and idle keys expire', async () => {
    const p = prefix();
    const s = new RedisStore({ url: REDIS_URL!, prefix: p, timeSource: 'caller', coldStart: 'full', ttlSlackMs: 0 });
    try {
      await s.ready();
      const short: KeyLimit = { buckets: [bucket('read.burst', 5, 200, 2)], blacklist: blacklistPolicy({ tolerance: 5 }) };
      await s.check(['c:ttl'], [short], 1, 1000);
      for (let i = 0; i < 12; i++) await s.check(['c:bl'], [withdraw], 1, 1000);
      const keys = (await admin.keys(`${p}*`)).sort();
      expect(keys).toEqual([`${p}blacklist`, `${p}epoch`, `${p}k:c:bl`, `${p}k:c:ttl`]);
      for (const k of keys) {
        const ttl = await admin.pttl(k);
        if (k === `${p}epoch`) expect(ttl).toBe(-1);
        else expect(ttl).toBeGreaterThan(0);
      }
      // the blacklisted key lives at least as long as its offence memory (24 h by default)
      expect(await admin.pttl(`${p}k:c:bl`)).toBeGreaterThan(23 * 3_600_000);
      // the idle key's TTL is short (its bucket is full again after 200 ms; minimum TTL 1 s)
      expect(await admin.pttl(`${p}k:c:ttl`)).toBeLessThanOrEqual(1000);
      await new Promise((r) => setTimeout(r, 1100));
      expect(await admin.exists(`${p}k:c:ttl`)).toBe(0);
    } finally {
      await dropPrefix(admin, p);
      await s.close();
    }
  });

  it('after the store loses its keys (flush/restart), no burst gets through and the blacklist is restored', async () => {
    const p = prefix();
    const s = new RedisStore({ url: REDIS_URL!, prefix: p, timeSource: 'caller' }); // coldStart 'empty': production default
    const other = new RedisStore({ url: REDIS_URL!, prefix: p, timeSource: 'caller' });
    try {
      await Promise.all([s.ready(), other.ready()]);
      const t0 = 1_000_000;
      // the first check ever creates the epoch: buckets start empty, one token per 100 ms accrues
      expect((await s.check(['c:first'], [noBlacklist], 1, t0)).allowed).toBe(false);
      expect(s.epochsCreated).toBe(1);
      // an hour later the store is warm: a burst of 10 passes
      const t1 = t0 + 3_600_000;
      let passed = 0;
      for (let i = 0; i < 12; i++) if ((await s.check(['c:r'], [withdraw], 1, t1)).allowed) passed++;
      expect(passed).toBe(10);
      const bl = await s.check(['c:r'], [withdraw], 1, t1); // the 11th refusal was already the offence
      expect(bl.reason).toBe('blacklisted');

      await dropPrefix(admin, p); // Redis restarted without persistence

      const t2 = t1 + 200;
      const after = await s.check(['c:r'], [withdraw], 1, t2);
      expect(after.reason).toBe('blacklisted'); // restored from this instance's shadow
      expect(after.retryAfterMs).toBe(5 * 60_000 - 200);
      // a fresh key right after the restart gets only what refilled since the epoch (re-created
      // by the first check that finds a bucket missing), not a burst: 300 ms refill 3 burst tokens
      // but only half a sustained one (100/min), 600 ms one of each
      let fresh = 0;
      for (let i = 0; i < 10; i++) if ((await other.check(['c:new'], [noBlacklist], 1, t2)).allowed) fresh++;
      expect(other.epochsCreated).toBe(1);
      for (let i = 0; i < 10; i++) if ((await other.check(['c:new'], [noBlacklist], 1, t2 + 300)).allowed) fresh++;
      expect(fresh).toBe(0);
      for (let i = 0; i < 10; i++) if ((await other.check(['c:new'], [noBlacklist], 1, t2 + 600)).allowed) fresh++;
      expect(fresh).toBe(1);
      expect((await other.blacklisted(t2)).map((e) => e.key)).toEqual(['c:r']);
    } finally {
      await dropPrefix(admin, p);
      await s.close();
      await other.close();
    }
  });

  it('a lift on one instance is not undone by another instance\'s shadow', async () => {
    const p = prefix();
    const a = new RedisStore({ url: REDIS_URL!, prefix: p, timeSource: 'caller', coldStart: 'full' });
    const b = new RedisStore({ url: REDIS_URL!, prefix: p, timeSource: 'caller', coldStart: 'full' });
    try {
      await Promise.all([a.ready(), b.ready()]);
      for (let i = 0; i < 11; i++) await b.check(['c:l'], [withdraw], 1, 0);
      expect((await b.check(['c:l'], [withdraw], 1, 10)).reason).toBe('blacklisted'); // b's shadow knows it
      expect(await a.lift('c:l', 20)).not.toBeNull();
      const r = await b.check(['c:l'], [withdraw], 1, 2000);
      expect(r.allowed).toBe(true);
    } finally {
      await dropPrefix(admin, p);
      await a.close();
      await b.close();
    }
  });

  it('re-enable events are reported exactly once across instances', async () => {
    const p = prefix();
    const a = new RedisStore({ url: REDIS_URL!, prefix: p, timeSource: 'caller', coldStart: 'full' });
    const b = new RedisStore({ url: REDIS_URL!, prefix: p, timeSource: 'caller', coldStart: 'full' });
    try {
      await Promise.all([a.ready(), b.ready()]);
      for (let k = 0; k < 5; k++) for (let i = 0; i < 11; i++) await a.check([`c:${k}`], [withdraw], 1, 0);
      const [x, y] = await Promise.all([a.sweep(300_000), b.sweep(300_000)]);
      expect([...x, ...y].map((e) => e.key).sort()).toEqual(['c:0', 'c:1', 'c:2', 'c:3', 'c:4']);
    } finally {
      await dropPrefix(admin, p);
      await a.close();
      await b.close();
    }
  });
});

describe('RedisStore when Redis is unreachable', () => {
  it('reports StoreUnavailableError at once instead of hanging or crashing', async () => {
    const port = await closedPort();
    const s = new RedisStore({ url: `redis://127.0.0.1:${port}`, prefix: 'x:' });
    try {
      const t = Date.now();
      await expect(s.check(['c:a'], [withdraw], 1, 0)).rejects.toMatchObject({ code: 'ratelimit_store_unavailable', status: 503 });
      await expect(s.sweep(0)).rejects.toMatchObject({ code: 'ratelimit_store_unavailable' });
      await expect(s.ready(300)).rejects.toMatchObject({ code: 'ratelimit_store_unavailable' });
      expect(Date.now() - t).toBeLessThan(5000);
    } finally {
      await s.close();
    }
  });
});

describe('RedisStore timeouts', () => {
  it('times out a check that Redis never answers (a client passed in gets the same timeout)', async () => {
    const sockets: import('node:net').Socket[] = [];
    // answers the client's connection-time CLIENT SETINFO commands, and nothing else
    const silent = createServer((sock) => {
      sockets.push(sock);
      sock.on('data', (d: Buffer) => {
        const setinfo = d.toString().split('SETINFO').length - 1;
        if (setinfo > 0) sock.write('+OK\r\n'.repeat(setinfo));
      });
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as { port: number }).port;
    const client = new Redis({ port, host: '127.0.0.1', enableReadyCheck: false, maxRetriesPerRequest: 0 });
    client.on('error', () => {});
    const s = new RedisStore({ client, prefix: 'x:', timeoutMs: 100 });
    try {
      await s.ready();
      const t = performance.now();
      await expect(s.check(['c:a'], [withdraw], 1, 0)).rejects.toMatchObject({ code: 'ratelimit_store_unavailable', message: 'redis rate-limit check timed out' });
      const waited = performance.now() - t;
      expect(waited).toBeGreaterThanOrEqual(95);
      expect(waited).toBeLessThan(3000);
    } finally {
      client.disconnect();
      for (const sock of sockets) sock.destroy();
      silent.close();
    }
  });

  it.skipIf(!REDIS_URL)('an answer that arrived while the event loop was stalled past the timeout is used, not refused (needs REDIS_URL)', async () => {
    const s = new RedisStore({ url: REDIS_URL!, prefix: prefix(), timeSource: 'caller', coldStart: 'full', timeoutMs: 50 });
    try {
      await s.ready();
      await s.check(['c:warm'], [withdraw], 1, 1_000); // script loaded, connection warm
      for (let round = 0; round < 3; round++) {
        const pending = s.check(['c:stall'], [withdraw], 1, 1_000);
        // A busy gateway: the command goes out (ioredis flushes auto-pipelined commands in a
        // setImmediate, queued before this one), then the loop is blocked past the timeout.
        await new Promise<void>((r) =>
          setImmediate(() => {
            const until = performance.now() + 200;
            while (performance.now() < until);
            r();
          }),
        );
        const r = await pending;
        expect(r.allowed).toBe(true);
      }
    } finally {
      await s.close();
    }
  });
});

const haveRedisServer = spawnSync('redis-server', ['--version']).status === 0;

describe.skipIf(!haveRedisServer)('RedisStore across a real Redis restart (spawns redis-server; skipped when it is not installed)', () => {
  let proc: ChildProcess | undefined;
  let port = 0;
  const start = async () => {
    proc = spawn('redis-server', ['--port', String(port), '--save', '', '--appendonly', 'no', '--bind', '127.0.0.1'], { stdio: 'ignore' });
    const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => 20 });
    probe.on('error', () => {});
    await probe.connect().catch(() => {});
    for (let i = 0; i < 100 && probe.status !== 'ready'; i++) await new Promise((r) => setTimeout(r, 20));
    probe.disconnect();
  };
  const stop = async () => {
    const p = proc;
    if (!p) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await exited;
    proc = undefined;
  };
  beforeAll(async () => {
    port = await closedPort();
    await start();
  });
  afterAll(stop);

  it('survives the restart under load: errors while down, no burst and the blacklist back afterwards', async () => {
    const s = new RedisStore({ url: `redis://127.0.0.1:${port}`, timeSource: 'caller', timeoutMs: 200 });
    try {
      await s.ready();
      const t0 = 10_000_000;
      expect((await s.check(['c:warm'], [withdraw], 0, t0)).allowed).toBe(true); // creates the epoch
      const t1 = t0 + 3_600_000;
      for (let i = 0; i < 11; i++) await s.check(['c:bad'], [withdraw], 1, t1);
      // load in flight while Redis dies
      const load = Promise.allSettled(Array.from({ length: 50 }, (_, i) => s.check([`c:l${i}`], [noBlacklist], 1, t1)));
      await stop();
      const settled = await load;
      expect(settled.every((r) => r.status === 'fulfilled' || (r.reason as { code?: string }).code === 'ratelimit_store_unavailable')).toBe(true);
      await expect(s.check(['c:x'], [withdraw], 1, t1)).rejects.toMatchObject({ code: 'ratelimit_store_unavailable' });
      await start();
      await s.ready();
      const t2 = t1 + 1000;
      expect((await s.check(['c:bad'], [withdraw], 1, t2)).reason).toBe('blacklisted');
      let passed = 0;
      for (let i = 0; i < 10; i++) if ((await s.check(['c:l1'], [noBlacklist], 1, t2)).allowed) passed++;
      expect(passed).toBe(0); // the epoch is new: nothing has refilled yet
      expect((await s.check(['c:l1'], [noBlacklist], 1, t2 + 600)).allowed).toBe(true); // one sustained token
      expect((await s.check(['c:l1'], [noBlacklist], 1, t2 + 600)).allowed).toBe(false);
    } finally {
      await s.close();
    }
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
