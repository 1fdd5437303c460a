/**
 * Rate-limit benchmark for `custos bench ratelimit`: checks per second of the memory store on one
 * core with 10,000 credentials (the full path: lookup, refill of two buckets, consumption, result),
 * the added latency of one `RateLimiter.check` (p50/p99, memory store), and, when a Redis URL is
 * given, checks per second and latency of the Redis store at 64 concurrent checks from one
 * process (one connection, auto-pipelined).
 *
 * The bench limits are large enough that every check passes, so every check takes the longest
 * path (a refused or blacklisted check returns earlier and is cheaper).
 *
 * @example
 *   const r = await benchRateLimit({ redisUrl: process.env.REDIS_URL });
 *   console.log(JSON.stringify(r)); // { memory_checks_per_s: ..., redis_checks_per_s: ..., added_p99_ms: ... }
 */
import { randomBytes } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { bucket } from './bucket.js';
import { blacklistPolicy } from './blacklist.js';
import { RateLimiter } from './limiter.js';
import { MemoryStore } from './memory-store.js';
import { RedisStore } from './redis-store.js';
import type { KeyLimit } from './store.js';
import { rateLimitConfig } from './config.js';

export interface RateLimitBenchOptions {
  /** Distinct credentials (default 10,000). */
  credentials?: number;
  /** Time spent on the memory throughput run (default 1,500 ms). */
  memoryMs?: number;
  /** Checks timed one by one through RateLimiter for the latency figures (default 50,000). */
  latencySamples?: number;
  /** Redis URL; without it the Redis figures are null. */
  redisUrl?: string;
  /** Concurrent Redis checks (default 64). */
  concurrency?: number;
  /** Time spent on the Redis run (default 3,000 ms). */
  redisMs?: number;
}

export interface RateLimitBenchResult {
  credentials: number;
  /** Wall-clock rate: a lower bound when other processes compete for the core. */
  memory_checks_per_s: number;
  /** Rate per second of CPU time this process got (the capacity of one core). */
  memory_checks_per_cpu_s: number;
  memory_check_p50_us: number;
  memory_check_p99_us: number;
  redis_checks_per_s: number | null;
  redis_concurrency: number;
  redis_p50_ms: number | null;
  redis_p99_ms: number | null;
  /** CPU time this process spent per Redis check (client side: encoding, parsing, promises). */
  redis_client_cpu_us_per_check: number | null;
  /** p99 time one request spends in the rate limiter: Redis when measured, else memory. */
  added_p99_ms: number;
  node: string;
  /** 1-minute load average and core count while measuring (context for the figures). */
  load_average: number;
  cpus: number;
}

const BIG = 1_000_000_000;
const benchLimit: KeyLimit = Object.freeze({
  buckets: [bucket('bench.burst', BIG, 1000, 0), bucket('bench.sustained', BIG, 60_000, 1)],
  blacklist: blacklistPolicy(),
});

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d;

export async function benchRateLimit(opts: RateLimitBenchOptions = {}): Promise<RateLimitBenchResult> {
  const n = opts.credentials ?? 10_000;
  const keys: string[][] = Array.from({ length: n }, (_, i) => [`cred:bench-${i}`]);
  const limits: KeyLimit[] = [benchLimit];

  // 1. memory throughput, one core
  const mem = new MemoryStore();
  for (let i = 0; i < n; i++) mem.check(keys[i]!, limits, 1, Date.now()); // warm: every credential present
  let checks = 0;
  let sink = 0;
  const memoryMs = opts.memoryMs ?? 1500;
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const deadline = t0 + BigInt(memoryMs) * 1_000_000n;
  let idx = 0;
  for (;;) {
    for (let j = 0; j < 10_000; j++) {
      const r = mem.check(keys[idx]!, limits, 1, Date.now());
      if (r.allowed) sink++;
      idx = idx + 7919 < n ? idx + 7919 : (idx + 7919) % n; // stride through all credentials
    }
    checks += 10_000;
    if (process.hrtime.bigint() >= deadline) break;
  }
  const memSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const memCpuSeconds = (cpu.user + cpu.system) / 1e6;
  if (sink !== checks) throw new Error('bench limits refused a check');

  // 2. latency of one RateLimiter.check (async path, events, result) on the memory store
  const limiter = new RateLimiter({ store: new MemoryStore(), config: rateLimitConfig({ tiers: { standard: { withdraw: { buckets: [{ name: 'burst', capacity: BIG, windowMs: 1000 }], blacklist: null } } } }) });
  const samples = opts.latencySamples ?? 50_000;
  const lat = new Float64Array(samples);
  for (let i = 0; i < samples; i++) {
    const s = process.hrtime.bigint();
    await limiter.check({ credentialId: `bench-${i % n}` }, 'withdraw');
    lat[i] = Number(process.hrtime.bigint() - s) / 1000;
  }
  lat.sort();
  await limiter.close();

  // 3. Redis at `concurrency` concurrent checks
  const concurrency = opts.concurrency ?? 64;
  let redisRate: number | null = null;
  let rp50: number | null = null;
  let rp99: number | null = null;
  let clientUs: number | null = null;
  if (opts.redisUrl) {
    const prefix = `custos-bench:rl:${randomBytes(6).toString('hex')}:`;
    const store = new RedisStore({ url: opts.redisUrl, prefix, coldStart: 'full', timeoutMs: 2000 });
    try {
      await store.ready();
      const redisMs = opts.redisMs ?? 3000;
      const lats: number[] = [];
      let done = 0;
      const end = Date.now() + redisMs;
      const start = process.hrtime.bigint();
      const rcpu0 = process.cpuUsage();
      const worker = async (w: number) => {
        let k = w;
        while (Date.now() < end) {
          const s = process.hrtime.bigint();
          await store.check(keys[k % n]!, limits, 1, 0);
          lats.push(Number(process.hrtime.bigint() - s) / 1e6);
          done++;
          k += concurrency;
        }
      };
      await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));
      redisRate = done / (Number(process.hrtime.bigint() - start) / 1e9);
      const rcpu = process.cpuUsage(rcpu0);
      clientUs = (rcpu.user + rcpu.system) / Math.max(done, 1);
      const sorted = Float64Array.from(lats).sort();
      rp50 = percentile(sorted, 0.5);
      rp99 = percentile(sorted, 0.99);
    } finally {
      // remove what the bench wrote (SCAN, so a shared Redis is not blocked)
      let cursor = '0';
      do {
        const [next, found] = await store.client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
        if (found.length > 0) await store.client.del(...found);
        cursor = next;
      } while (cursor !== '0');
      await store.close();
    }
  }

  const memP99ms = percentile(lat, 0.99) / 1000;
  return {
    credentials: n,
    memory_checks_per_s: Math.round(checks / memSeconds),
    memory_checks_per_cpu_s: Math.round(checks / Math.max(memCpuSeconds, 1e-6)),
    memory_check_p50_us: round(percentile(lat, 0.5)),
    memory_check_p99_us: round(percentile(lat, 0.99)),
    redis_checks_per_s: redisRate === null ? null : Math.round(redisRate),
    redis_concurrency: concurrency,
    redis_p50_ms: rp50 === null ? null : round(rp50, 4),
    redis_p99_ms: rp99 === null ? null : round(rp99, 4),
    redis_client_cpu_us_per_check: clientUs === null ? null : round(clientUs, 2),
    added_p99_ms: round(rp99 ?? memP99ms, 4),
    node: process.version,
    load_average: round(loadavg()[0]!, 2),
    cpus: cpus().length,
  };
}
