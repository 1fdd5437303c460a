import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parsePolicyText } from './policy-text.js';

describe('examples/policy.example.json', () => {
  it('validates, so the documented example cannot rot', () => {
    const text = readFileSync(new URL('./examples/policy.example.json', import.meta.url), 'utf8');
    const { policy } = parsePolicyText(text);
    expect(policy.rules.map((r) => r.name)).toEqual(['new-destination-large', 'night-review', 'risky-needs-hsm']);
    expect(policy.limits.customers['acme-treasury']?.perAsset.ETH?.perTransaction).toBe(500n * 10n ** 18n);
  });
});
