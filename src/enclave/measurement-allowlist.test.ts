import { createHash } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { describe, expect, it } from 'vitest';
import { manualClock } from '../core/clock.js';
import { createDevelopmentRoot, pinDevelopmentRoot } from './development-ca.js';
import { DevelopmentAttester } from './development-attester.js';
import { AttestationError } from './errors.js';
import {
  allowlistSigningBytes,
  checkMeasurement,
  signAllowlist,
  verifyAllowlist,
  type MeasurementAllowlist,
  type ReleasePolicy,
} from './measurement-allowlist.js';
import { verifyAttestation } from './verify-attestation.js';

const T0 = Date.UTC(2026, 10, 24);
const keys = [1, 2, 3, 4].map((i) => new Uint8Array(32).fill(i)); // fixed release-signer keys for the test
const pub = (k: Uint8Array) => Buffer.from(ed25519.getPublicKey(k)).toString('hex');
const policy: ReleasePolicy = { threshold: 2, signers: keys.slice(0, 3).map(pub) }; // 2 of 3; keys[3] is an outsider
const measurement = createHash('sha384').update('custos 0.3.1').digest();
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

const allowlist: MeasurementAllowlist = {
  version: 7,
  issuedAt: T0 - 1000,
  expiresAt: T0 + 30 * 86_400_000,
  measurements: [{ name: 'custos 0.3.1', pcrs: { '0': hex(measurement) } }],
};

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof AttestationError) return err.code;
    throw err;
  }
  return 'accepted';
}

const signedBy = (...idx: number[]) => ({ allowlist, signatures: idx.map((i) => signAllowlist(allowlist, keys[i]!)) });

describe('measurement allowlist (M-of-N release signers)', () => {
  it('accepts M distinct authorised signatures, in any order', () => {
    expect(verifyAllowlist(signedBy(0, 1), policy, { at: T0 })).toEqual(allowlist);
    expect(refusal(() => verifyAllowlist(signedBy(2, 0, 1), policy, { at: T0 }))).toBe('accepted');
  });

  it('a duplicated signature counts once; an unknown signer does not count; a bad signature does not count', () => {
    expect(refusal(() => verifyAllowlist(signedBy(0, 0), policy, { at: T0 }))).toBe('attestation_allowlist');
    expect(refusal(() => verifyAllowlist(signedBy(0, 3), policy, { at: T0 }))).toBe('attestation_allowlist');
    const forged = signedBy(0, 1);
    const bad = { ...forged, signatures: [forged.signatures[0]!, { ...forged.signatures[1]!, signature: forged.signatures[0]!.signature }] };
    expect(refusal(() => verifyAllowlist(bad, policy, { at: T0 }))).toBe('attestation_allowlist');
    // the same key written in upper case is still one signer
    const upper = { ...forged, signatures: [forged.signatures[0]!, { ...forged.signatures[0]!, signer: forged.signatures[0]!.signer.toUpperCase() }] };
    expect(refusal(() => verifyAllowlist(upper, policy, { at: T0 }))).toBe('attestation_allowlist');
  });

  it('signatures do not carry over to a changed allowlist', () => {
    const s = signedBy(0, 1);
    const widened = { ...allowlist, measurements: [...allowlist.measurements, { name: 'evil', pcrs: { '0': 'ab'.repeat(48) } }] };
    expect(refusal(() => verifyAllowlist({ ...s, allowlist: widened }, policy, { at: T0 }))).toBe('attestation_allowlist');
    expect(refusal(() => verifyAllowlist({ ...s, allowlist: { ...allowlist, expiresAt: allowlist.expiresAt + 1 } }, policy, { at: T0 }))).toBe('attestation_allowlist');
    expect(new TextDecoder().decode(allowlistSigningBytes(allowlist))).toMatch(/^custos-measurement-allowlist-v1\n\{"version":7,/);
  });

  it('refuses an expired, not-yet-issued or rolled-back allowlist', () => {
    expect(refusal(() => verifyAllowlist(signedBy(0, 1), policy, { at: allowlist.expiresAt }))).toBe('attestation_allowlist');
    expect(refusal(() => verifyAllowlist(signedBy(0, 1), policy, { at: allowlist.issuedAt - 1 }))).toBe('attestation_allowlist');
    expect(refusal(() => verifyAllowlist(signedBy(0, 1), policy, { at: T0, minVersion: 8 }))).toBe('attestation_allowlist');
    expect(refusal(() => verifyAllowlist(signedBy(0, 1), policy, { at: T0, minVersion: 7 }))).toBe('accepted');
  });

  it('refuses malformed documents and policies', () => {
    const bads: unknown[] = [
      null,
      { allowlist },
      { allowlist, signatures: [], extra: 1 },
      { allowlist: { ...allowlist, measurements: [] }, signatures: [] },
      { allowlist: { ...allowlist, measurements: [{ name: 'no pcr0', pcrs: { '1': hex(measurement) } }] }, signatures: [] },
      { allowlist: { ...allowlist, measurements: [{ name: 'debug', pcrs: { '0': '00'.repeat(48) } }] }, signatures: [] },
      { allowlist: { ...allowlist, measurements: [{ name: 'short', pcrs: { '0': 'ab'.repeat(32) } }] }, signatures: [] },
      { allowlist: { ...allowlist, measurements: [{ name: 'idx', pcrs: { '0': hex(measurement), '32': hex(measurement) } }] }, signatures: [] },
      { allowlist: { ...allowlist, version: 1.5 }, signatures: [] },
      { allowlist: { ...allowlist, extra: true }, signatures: [] },
      { allowlist, signatures: [{ signer: 1, signature: 2 }] },
    ];
    for (const b of bads) expect(refusal(() => verifyAllowlist(b, policy, { at: T0 })), JSON.stringify(b)?.slice(0, 80)).toBe('attestation_allowlist');
    expect(refusal(() => verifyAllowlist(signedBy(0, 1), { threshold: 0, signers: policy.signers }, { at: T0 }))).toBe('attestation_allowlist');
    expect(refusal(() => verifyAllowlist(signedBy(0, 1), { threshold: 4, signers: policy.signers }, { at: T0 }))).toBe('attestation_allowlist');
    expect(refusal(() => verifyAllowlist(signedBy(0, 1), { threshold: 1, signers: [policy.signers[0]!, policy.signers[0]!] }, { at: T0 }))).toBe('attestation_allowlist');
  });

  it('checkMeasurement: an attested node on the list passes; one changed byte of code, or a debug enclave, does not', () => {
    const root = createDevelopmentRoot({ now: T0 - 86_400_000 });
    const clock = manualClock(T0);
    const verified = (m: Uint8Array) =>
      verifyAttestation(new DevelopmentAttester({ ca: root, moduleId: 'n1', measurement: m, clock }).attest({}), { roots: [pinDevelopmentRoot(root)], at: T0, maxAgeMs: 0 });
    const list = verifyAllowlist(signedBy(0, 2), policy, { at: T0 });
    expect(checkMeasurement(verified(measurement).pcrs, list).name).toBe('custos 0.3.1');
    const changed = createHash('sha384').update('custos 0.3.1 with one byte changed').digest();
    expect(refusal(() => checkMeasurement(verified(changed).pcrs, list))).toBe('attestation_measurement');
    expect(refusal(() => checkMeasurement(verified(new Uint8Array(48)).pcrs, list))).toBe('attestation_measurement');
    // an entry that pins PCR0 and PCR1 needs both
    const two: MeasurementAllowlist = { ...allowlist, measurements: [{ name: 'two', pcrs: { '0': hex(measurement), '1': 'ab'.repeat(48) } }] };
    expect(refusal(() => checkMeasurement(verified(measurement).pcrs, two))).toBe('attestation_measurement');
    expect(refusal(() => checkMeasurement(new Map(), list))).toBe('attestation_measurement');
  });
});
