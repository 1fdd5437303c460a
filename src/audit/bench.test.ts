import { describe, expect, it } from 'vitest';
import { benchAuditCore, syntheticEntry } from './bench.js';
import { canonicalJson } from './canonical.js';

describe('benchAuditCore (small run; the numbers themselves are not asserted)', () => {
  it('synthetic entries are canonical JSON', () => {
    for (const seq of [1, 10, 123_456]) {
      const text = new TextDecoder().decode(syntheticEntry(seq));
      expect(canonicalJson(JSON.parse(text))).toBe(text);
    }
  });
  it('runs end to end on 3,000 entries and reports every field', async () => {
    const r = await benchAuditCore({ entries: 3000, batch: 256, proofs: 300, checkpoints: 4 });
    expect(r.entries).toBe(3000);
    expect(r.proofs).toBe(300);
    expect(r.memory_appends_per_s).toBeGreaterThan(0);
    expect(r.inclusion_proof_p99_ms).toBeGreaterThanOrEqual(r.inclusion_proof_p50_ms);
    expect(r.verify_1m_s).toBeGreaterThan(0);
    expect(r.entry_bytes_avg).toBeGreaterThan(200);
  });
});
