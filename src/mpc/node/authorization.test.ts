import { randomBytes } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { describe, expect, it } from 'vitest';
import {
  authorizationBytes, parseSignedAuthorization, rawMessageDigest, signAuthorization, verifyAuthorization,
  type DeriveDigest, type SigningAuthorization,
} from './authorization.js';

const secret = new Uint8Array(randomBytes(32));
const policyPublicKey = bytesToHex(ed25519.getPublicKey(secret));
const tx = new Uint8Array(randomBytes(100));
const base: SigningAuthorization = {
  withdrawalId: 'wd-1', keyId: 'sol-hot', chain: 'solana', unsignedTx: bytesToHex(tx), digest: bytesToHex(tx), to: 'DestAddr', amount: '1500000',
  policyVersion: 7, approvals: [{ approver: 'alice', at: 1 }, { approver: 'bob', at: 2 }], expiresAt: 10_000,
};
const opts = { policyPublicKey, now: 5_000, keyId: 'sol-hot', minApprovals: 2, deriveDigest: rawMessageDigest };
const code = (f: () => unknown): string => {
  try {
    f();
  } catch (err) {
    return (err as { code: string }).code;
  }
  return 'accepted';
};

describe('signing authorization', () => {
  it('verifies and yields the message the node re-derived', () => {
    const v = verifyAuthorization(JSON.parse(JSON.stringify(signAuthorization(base, secret))), opts);
    expect(bytesToHex(v.message)).toBe(bytesToHex(tx));
  });

  it('binds every field: changing any one breaks the policy signature', () => {
    const signed = signAuthorization(base, secret);
    const changes: Partial<SigningAuthorization>[] = [
      { withdrawalId: 'wd-2' }, { keyId: 'other' }, { chain: 'ethereum' }, { to: 'Elsewhere' }, { amount: '1500001' }, { policyVersion: 8 },
      { approvals: [{ approver: 'alice', at: 1 }, { approver: 'carol', at: 2 }] }, { expiresAt: 10_001 },
      { unsignedTx: bytesToHex(tx.slice(1)), digest: bytesToHex(tx.slice(1)) },
    ];
    for (const c of changes) {
      expect(code(() => verifyAuthorization({ ...signed, authorization: { ...base, ...c } }, { ...opts, keyId: c.keyId ?? 'sol-hot' }))).toBe('authorization_bad_signature');
    }
  });

  it('refuses another signer, expiry, another key, too few distinct approvals', () => {
    expect(code(() => verifyAuthorization(signAuthorization(base, new Uint8Array(randomBytes(32))), opts))).toBe('authorization_bad_signature');
    expect(code(() => verifyAuthorization(signAuthorization(base, secret), { ...opts, now: 10_000 }))).toBe('authorization_expired');
    expect(code(() => verifyAuthorization(signAuthorization(base, secret), { ...opts, keyId: 'btc-hot' }))).toBe('authorization_wrong_key');
    const dup = { ...base, approvals: [{ approver: 'alice', at: 1 }, { approver: 'alice', at: 3 }] };
    expect(code(() => verifyAuthorization(signAuthorization(dup, secret), opts))).toBe('authorization_not_enough_approvals');
  });

  it('refuses a digest, destination or amount that the transaction does not carry', () => {
    const lying = { ...base, digest: bytesToHex(new Uint8Array(randomBytes(32))) };
    expect(code(() => verifyAuthorization(signAuthorization(lying, secret), opts))).toBe('authorization_digest_mismatch');
    const parser: DeriveDigest = (_c, t) => ({ digest: t, to: 'DestAddr', amount: 1_500_000n });
    expect(code(() => verifyAuthorization(signAuthorization(base, secret), { ...opts, deriveDigest: parser }))).toBe('accepted');
    expect(code(() => verifyAuthorization(signAuthorization({ ...base, to: 'Other' }, secret), { ...opts, deriveDigest: parser }))).toBe('authorization_destination_mismatch');
    expect(code(() => verifyAuthorization(signAuthorization({ ...base, amount: '1' }, secret), { ...opts, deriveDigest: parser }))).toBe('authorization_amount_mismatch');
    const throwing: DeriveDigest = () => {
      throw new Error('bad tx');
    };
    expect(code(() => verifyAuthorization(signAuthorization(base, secret), { ...opts, deriveDigest: throwing }))).toBe('authorization_bad_transaction');
  });

  it('refuses malformed input: wrong types, huge transactions, non-canonical amounts', () => {
    const signed = signAuthorization(base, secret);
    for (const bad of [null, {}, { ...signed, signature: 'zz' }, { ...signed, authorization: { ...base, amount: '01' } },
      { ...signed, authorization: { ...base, amount: '-1' } }, { ...signed, authorization: { ...base, expiresAt: '1' } },
      { ...signed, authorization: { ...base, unsignedTx: 'ab'.repeat(200_000) } }, { ...signed, authorization: { ...base, approvals: 'alice' } },
      { ...signed, authorization: { ...base, withdrawalId: 'a b' } }]) {
      expect(code(() => parseSignedAuthorization(bad))).toBe('authorization_malformed');
    }
    expect(new TextDecoder().decode(authorizationBytes(base))).toMatch(/^custos\/signing-authorization\/v1\n\{"withdrawalId":"wd-1","keyId"/);
  });
});
