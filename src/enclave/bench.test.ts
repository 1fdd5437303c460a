import { describe, expect, it } from 'vitest';
import { benchEnclave } from './bench.js';

describe('benchEnclave', () => {
  it('runs a small round and reports positive rates (no speed assertion: speed is for `custos bench`)', () => {
    const r = benchEnclave({ iterations: 10 });
    expect(r.attestation_verify_per_s).toBeGreaterThan(0);
    expect(r.attestation_verify_cold_ms).toBeGreaterThan(0);
    expect(r.development_attest_per_s).toBeGreaterThan(0);
  });
});
