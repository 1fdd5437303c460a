import { describe, expect, it } from 'vitest';
import { benchRateLimit } from './bench.js';

// Shape and sanity only: speed goals are measured by `custos bench ratelimit`, never asserted here.
describe('benchRateLimit (tiny run)', () => {
  it('reports memory figures, and Redis figures only when a URL is given', async () => {
    const r = await benchRateLimit({ credentials: 200, memoryMs: 30, latencySamples: 200 });
    expect(r.credentials).toBe(200);
    expect(r.memory_checks_per_s).toBeGreaterThan(0);
    expect(r.memory_check_p99_us).toBeGreaterThanOrEqual(r.memory_check_p50_us);
    expect(r.redis_checks_per_s).toBeNull();
    expect(r.added_p99_ms).toBeCloseTo(r.memory_check_p99_us / 1000, 3);
  });

  it.skipIf(!process.env.REDIS_URL)('measures Redis at 64 concurrent checks (needs REDIS_URL; skipped without it)', async () => {
    const r = await benchRateLimit({ credentials: 200, memoryMs: 20, latencySamples: 100, redisUrl: process.env.REDIS_URL, redisMs: 200 });
    expect(r.redis_concurrency).toBe(64);
    expect(r.redis_checks_per_s).toBeGreaterThan(0);
    expect(r.redis_p99_ms!).toBeGreaterThanOrEqual(r.redis_p50_ms!);
    expect(r.added_p99_ms).toBe(r.redis_p99_ms);
  });
});
