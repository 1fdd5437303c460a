import { describe, expect, it } from 'vitest';
import { benchDecisions } from './bench.js';

describe('benchDecisions', () => {
  it('runs a small seeded batch and reports well-formed numbers (no timing assertion)', () => {
    const r = benchDecisions({ customers: 20, iterations: 200 });
    expect(r.iterations).toBe(200);
    expect(r.decisions_per_s).toBeGreaterThan(0);
    expect(r.p50_ms).toBeGreaterThanOrEqual(0);
    expect(r.p99_ms).toBeGreaterThanOrEqual(r.p50_ms);
  });
});
