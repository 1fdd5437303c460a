/**
 * encodeEntryAround / closeEntry: an entry encoded with its nonce left open, closed with a value,
 * must be byte for byte the entry encoded with that value (the intake writes the closed text
 * from SQL, and the leaf hash of an auditor's export must match it).
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { isCustosError } from '../core/errors.js';
import { closeEntry, configureAuditRedaction, encodeEntry, encodeEntryAround, type AuditEntry } from './chain.js';

const entry = (data: Record<string, unknown>): AuditEntry => ({ at: 1_764_000_000_123, actor: 'pipeline', action: 'withdrawal.transition', subject: 'withdrawal:wd_1', data });

describe('audit entries with the nonce left open', () => {
  afterEach(() => configureAuditRedaction(null));

  it('closed with n, the text equals the entry encoded with nonce n, for small, large and random nonces', () => {
    const data = { from: 'received', to: 'approved', decisions: [{ stage: 'syntax', outcome: 'pass', reasons: [{ code: 'syntax_ok', message: 'ok' }] }], fee: 21000n, policyVersion: 2 };
    const values = [0n, 1n, 9n, 10n, 2n ** 64n - 1n, 2n ** 255n, ...Array.from({ length: 50 }, () => BigInt(`0x${randomBytes(1 + (randomBytes(1)[0] as number) % 16).toString('hex')}`))];
    const open = encodeEntryAround(entry({ ...data, nonce: null }), 'nonce');
    for (const n of values) expect(closeEntry(open, n)).toBe(encodeEntry(entry({ ...data, nonce: n })));
  });

  it('strings in the entry that imitate the marker or the member are left alone', () => {
    const tricky = { memo: '"nonce":"\u0000custos-open:x"', nonce_: '\u0000custos-open:', nonc: 'e', z: ['"', '\\', '\u0000'] };
    const open = encodeEntryAround(entry({ ...tricky, nonce: null }), 'nonce');
    expect(closeEntry(open, 42n)).toBe(encodeEntry(entry({ ...tricky, nonce: 42n })));
    expect(JSON.parse(closeEntry(open, 42n)).data.memo).toBe(tricky.memo);
  });

  it('a negative value is refused', () => {
    const open = encodeEntryAround(entry({ nonce: null }), 'nonce');
    expect(() => closeEntry(open, -1n)).toThrow(RangeError);
  });

  it('redaction may not cover data.nonce (it could not be left open); other paths still work', () => {
    const key = new Uint8Array(32).fill(7);
    for (const paths of [['data.nonce'], ['data.*'], ['*.nonce']]) {
      let err: unknown;
      try {
        configureAuditRedaction({ key, paths });
      } catch (e) {
        err = e;
      }
      expect(isCustosError(err) && err.code).toBe('audit_redaction_invalid');
    }
    configureAuditRedaction({ key, paths: ['data.customer'] });
    const open = encodeEntryAround(entry({ customer: 'acme', nonce: null }), 'nonce');
    const closed = closeEntry(open, 7n);
    expect(closed).toBe(encodeEntry(entry({ customer: 'acme', nonce: 7n })));
    expect(JSON.parse(closed).data.customer).toMatch(/^hmac-sha256:/);
  });
});
