import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from './canonical.js';
import { HMAC_PREFIX, hmacField, hmacFields } from './redact.js';

const key = new Uint8Array(32).fill(0x42);
const entry = {
  action: 'withdrawal.received',
  data: {
    customerId: 'cust-8812',
    amount: 15_000n,
    beneficiaries: [{ iban: 'DE89370400440532013000', name: 'A' }, { iban: 'FR1420041010050500013M02606' }],
    tags: ['x', 'y'],
  },
};

describe('hmacFields', () => {
  it('replaces configured fields with HMAC-SHA256 tokens and leaves the rest', () => {
    const out = hmacFields(entry, { key, paths: ['data.customerId', 'data.beneficiaries.*.iban', 'data.missing.x'] });
    const want = HMAC_PREFIX + createHmac('sha256', key).update('"cust-8812"').digest('base64url');
    expect(out.data.customerId).toBe(want);
    expect(out.data.beneficiaries[0]!.iban).toMatch(/^hmac-sha256:[A-Za-z0-9_-]{43}$/);
    expect(out.data.beneficiaries[0]!.name).toBe('A');
    expect(out.data.amount).toBe(15_000n);
    expect(entry.data.customerId).toBe('cust-8812'); // input untouched
    const text = canonicalJson(out);
    expect(text).not.toContain('cust-8812');
    expect(text).not.toContain('DE89370400440532013000');
    expect(text).not.toContain('FR1420041010050500013M02606');
  });
  it('is deterministic per key (linkable for auditors), different across keys', () => {
    expect(hmacField(key, 'cust-8812')).toBe(hmacField(key, 'cust-8812'));
    expect(hmacField(key, 'cust-8812')).not.toBe(hmacField(new Uint8Array(32).fill(1), 'cust-8812'));
    expect(hmacField(key, 15_000n)).toBe(hmacField(key, '15000')); // bigint is canonicalised as its decimal string
    expect(hmacFields({ a: [1, 2] }, { key, paths: ['a.1'] }).a[0]).toBe(1);
  });
  it('refuses a short key without printing it, and empty path segments', () => {
    const short = new Uint8Array(16).fill(0x99);
    try {
      hmacFields(entry, { key: short, paths: ['data.customerId'] });
      expect.unreachable();
    } catch (e) {
      expect(String((e as Error).message)).not.toContain('99');
      expect(JSON.stringify(e)).not.toContain('153'); // 0x99 as a number
    }
    expect(() => hmacFields(entry, { key, paths: ['data..x'] })).toThrow(/invalid field path/);
  });
});
