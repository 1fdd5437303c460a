import { describe, expect, it } from 'vitest';
import { benchKeyRelease } from './key-release-bench.js';

describe('benchKeyRelease', () => {
  it('runs real releases end to end and reports their timing (no speed asserted)', async () => {
    const r = await benchKeyRelease({ iterations: 3 });
    expect(r.key_release_iterations).toBe(3);
    expect(r.key_release_ms).toBeGreaterThan(0);
    expect(r.key_release_p95_ms).toBeGreaterThanOrEqual(r.key_release_ms);
    expect(r.key_release_hsm).toContain('development');
  });
});
