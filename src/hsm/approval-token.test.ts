import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  approvalKeyId,
  decodeApprovalToken,
  encodeApprovalToken,
  signApproval,
  verifyApproval,
  type ApprovalAlgorithm,
  type ApprovalKey,
  type ApprovalPayload,
  type ApprovalToken,
} from './approval-token.js';
import { DevelopmentHsm } from './development-hsm.js';

const T0 = Date.UTC(2026, 10, 24, 3, 0, 0);
const payload: ApprovalPayload = {
  withdrawalId: 'wd_01J9Z5K3',
  withdrawalDigest: 'a'.repeat(64),
  asset: 'ETH',
  amount: 250_000_000_000_000_000_000n,
  destination: '0x52908400098527886E0F7030069857D2E4169EE7',
  policyVersion: 7,
  approvers: ['carol', 'alice'],
  issuedAt: T0,
  expiresAt: T0 + 15 * 60_000,
};

let dir: string;
let hsm: DevelopmentHsm;
const pinned: Record<ApprovalAlgorithm, ApprovalKey> = {} as Record<ApprovalAlgorithm, ApprovalKey>;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'custos-approval-'));
  hsm = await DevelopmentHsm.open({ dataDir: dir, passphrase: 'approval test passphrase' });
  await hsm.generateEd25519('approval-ed');
  await hsm.generateSecp256k1('approval-k1');
  await hsm.generateEd25519('intruder-ed');
  await hsm.generateSecp256k1('intruder-k1');
  pinned.ed25519 = { algorithm: 'ed25519', publicKey: await hsm.publicKey('approval-ed') };
  pinned['ecdsa-secp256k1-sha256'] = { algorithm: 'ecdsa-secp256k1-sha256', publicKey: await hsm.publicKey('approval-k1') };
});
afterAll(async () => {
  await hsm.close();
  rmSync(dir, { recursive: true, force: true });
});

const cases: [ApprovalAlgorithm, string, string][] = [
  ['ed25519', 'approval-ed', 'intruder-ed'],
  ['ecdsa-secp256k1-sha256', 'approval-k1', 'intruder-k1'],
];

describe.each(cases)('approval tokens (%s)', (algorithm, label, intruder) => {
  const opts = (now = T0 + 1000) => ({ trustedKeys: [pinned.ed25519, pinned['ecdsa-secp256k1-sha256']], now });

  it('verifies a token for the withdrawal it names, through the wire form', async () => {
    const token = await signApproval(hsm, label, algorithm, payload);
    const decoded = decodeApprovalToken(encodeApprovalToken(token));
    const got = verifyApproval(decoded, {
      ...opts(),
      expected: { withdrawalId: payload.withdrawalId, withdrawalDigest: payload.withdrawalDigest, amount: payload.amount, destination: payload.destination, asset: 'ETH', policyVersion: 7 },
    });
    expect(got.approvers).toEqual(['alice', 'carol']);
    expect(got.amount).toBe(payload.amount);
  });

  it('refuses every tampered field', async () => {
    const token = await signApproval(hsm, label, algorithm, payload);
    const tampered: Partial<ApprovalPayload>[] = [
      { amount: payload.amount + 1n },
      { destination: '0x52908400098527886E0F7030069857D2E4169EE8' },
      { withdrawalId: 'wd_01J9Z5K4' },
      { withdrawalDigest: 'b'.repeat(64) },
      { asset: 'USDC' },
      { policyVersion: 8 },
      { approvers: ['alice'] },
      { approvers: ['alice', 'carol', 'mallory'] },
      { approvers: ['alice', 'mallory'] },
      { expiresAt: payload.expiresAt + 60_000 },
      { issuedAt: payload.issuedAt - 1 },
    ];
    for (const change of tampered) {
      const t: ApprovalToken = { ...token, payload: { ...token.payload, ...change } };
      expect(() => verifyApproval(t, opts())).toThrow(expect.objectContaining({ code: 'approval_signature_invalid' }));
    }
    const flipped = new Uint8Array(token.signature);
    flipped[5] = (flipped[5] as number) ^ 1;
    expect(() => verifyApproval({ ...token, signature: flipped }, opts())).toThrow(expect.objectContaining({ code: 'approval_signature_invalid' }));
  });

  it('refuses an expired or future token, and one for another withdrawal', async () => {
    const token = await signApproval(hsm, label, algorithm, payload);
    expect(() => verifyApproval(token, opts(payload.expiresAt))).toThrow(expect.objectContaining({ code: 'approval_expired' }));
    expect(() => verifyApproval(token, opts(payload.expiresAt + 86_400_000))).toThrow(expect.objectContaining({ code: 'approval_expired' }));
    expect(() => verifyApproval(token, opts(payload.issuedAt - 120_000))).toThrow(expect.objectContaining({ code: 'approval_not_yet_valid' }));
    expect(verifyApproval(token, opts(payload.expiresAt - 1)).withdrawalId).toBe(payload.withdrawalId);
    for (const expected of [{ withdrawalId: 'wd_other' }, { amount: 1n }, { destination: '0xdead' }, { withdrawalDigest: 'c'.repeat(64) }, { policyVersion: 6 }]) {
      expect(() => verifyApproval(token, { ...opts(), expected })).toThrow(expect.objectContaining({ code: 'approval_mismatch' }));
    }
  });

  it('refuses a signature from another key, even under the pinned key id', async () => {
    const forged = await signApproval(hsm, intruder, algorithm, payload);
    expect(() => verifyApproval(forged, opts())).toThrow(expect.objectContaining({ code: 'approval_unknown_key' }));
    const pinnedId = approvalKeyId(algorithm === 'ed25519' ? pinned.ed25519.publicKey : secp256k1.Point.fromBytes(pinned[algorithm].publicKey).toBytes(true));
    expect(() => verifyApproval({ ...forged, keyId: pinnedId }, opts())).toThrow(expect.objectContaining({ code: 'approval_signature_invalid' }));
    // No pinned key at all: nothing verifies.
    const good = await signApproval(hsm, label, algorithm, payload);
    expect(() => verifyApproval(good, { trustedKeys: [], now: T0 })).toThrow(expect.objectContaining({ code: 'approval_unknown_key' }));
  });
});

describe('approval token edge cases', () => {
  it('refuses algorithm confusion and a high-S (malleated) ECDSA signature', async () => {
    const token = await signApproval(hsm, 'approval-k1', 'ecdsa-secp256k1-sha256', payload);
    const keys = { trustedKeys: [pinned['ecdsa-secp256k1-sha256']], now: T0 };
    expect(() => verifyApproval({ ...token, algorithm: 'ed25519' }, keys)).toThrow(expect.objectContaining({ code: 'approval_unknown_key' }));
    const sig = secp256k1.Signature.fromBytes(token.signature, 'compact');
    const high = new secp256k1.Signature(sig.r, secp256k1.Point.CURVE().n - sig.s).toBytes('compact');
    expect(() => verifyApproval({ ...token, signature: high }, keys)).toThrow(expect.objectContaining({ code: 'approval_signature_invalid' }));
  });

  it('refuses malformed payloads and wire forms', async () => {
    const bad: Partial<ApprovalPayload>[] = [
      { approvers: ['alice', 'alice'] },
      { approvers: [] },
      { amount: 0n },
      { amount: -5n },
      { expiresAt: T0 },
      { expiresAt: T0 + 25 * 3_600_000 },
      { withdrawalDigest: 'A'.repeat(64) },
      { withdrawalId: '' },
      { destination: 'x'.repeat(300) },
      { policyVersion: 1.5 },
    ];
    for (const change of bad) {
      await expect(signApproval(hsm, 'approval-ed', 'ed25519', { ...payload, ...change })).rejects.toMatchObject({ code: 'approval_malformed' });
    }
    const wire = encodeApprovalToken(await signApproval(hsm, 'approval-ed', 'ed25519', payload));
    const o = JSON.parse(wire) as Record<string, unknown>;
    const variants = [
      'x'.repeat(20_000),
      wire.slice(0, -3),
      '[]',
      'null',
      JSON.stringify({ ...o, extra: 1 }),
      JSON.stringify({ ...o, v: 2 }),
      JSON.stringify({ ...o, signature: 'AAAA' }),
      JSON.stringify({ ...o, payload: { ...(o.payload as object), amount: '1e21' } }),
      JSON.stringify({ ...o, payload: { ...(o.payload as object), amount: 5 } }),
      JSON.stringify({ ...o, payload: { ...(o.payload as object), admin: true } }),
    ];
    for (const v of variants) expect(() => decodeApprovalToken(v)).toThrow(expect.objectContaining({ code: 'approval_malformed' }));
  });
});
