import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { manualClock } from '../core/clock.js';
import { awsNitroRoot } from './aws-nitro-root.js';
import { createDevelopmentIntermediate, createDevelopmentRoot, pinDevelopmentRoot } from './development-ca.js';
import { DEFAULT_LEAF_VALIDITY_MS, DevelopmentAttester } from './development-attester.js';
import { AttestationError } from './errors.js';
import { verifyAttestation } from './verify-attestation.js';
import { parseAttestationDocument } from './attestation-document.js';
import { parseCoseSign1 } from './cose-sign1.js';

const T0 = Date.UTC(2026, 10, 24, 3, 0, 0);
const measurement = createHash('sha384').update('custos node code + config').digest();

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof AttestationError) return err.code;
    throw err;
  }
  return 'accepted';
}

describe('DevelopmentAttester', () => {
  const root = createDevelopmentRoot({ now: T0 - 86_400_000 });
  const pinned = pinDevelopmentRoot(root);

  it('produces Nitro-format documents that the same verifier accepts under the development root', () => {
    const clock = manualClock(T0);
    const attester = new DevelopmentAttester({ ca: root, moduleId: 'dev-node-1', measurement, clock });
    const nonce = new Uint8Array(randomBytes(32));
    const publicKey = new Uint8Array(randomBytes(65));
    const userData = new TextEncoder().encode('node-1 sealing key request');
    const doc = attester.attest({ nonce, publicKey, userData });
    const att = verifyAttestation(doc, {
      roots: [awsNitroRoot(), pinned],
      at: clock.now(),
      maxAgeMs: 60_000,
      expectedNonce: nonce,
      expectedPublicKey: publicKey,
      expectedUserData: userData,
    });
    expect(att.root).toBe(root.name);
    expect(att.moduleId).toBe('dev-node-1');
    expect(att.timestamp).toBe(T0);
    expect(Buffer.from(att.pcrs.get(0)!)).toEqual(measurement);
    expect(att.pcrs.size).toBe(16);
    expect(att.isDebug).toBe(false);
    // same wire layout as the NSM: untagged COSE_Sign1, alg ES384 in the protected header, fields in NSM order
    expect(Buffer.from(doc.subarray(0, 6)).toString('hex')).toBe('8444a1013822');
    const fields = [...parseAttestationDocument(parseCoseSign1(doc).payload).pcrs.keys()];
    expect(fields).toEqual([...Array(16).keys()]);
  });

  it('is refused by a verifier pinned only to the AWS root, and a development root does not admit AWS-looking trust', () => {
    const clock = manualClock(T0);
    const doc = new DevelopmentAttester({ ca: root, moduleId: 'dev-node-1', measurement, clock }).attest({});
    expect(code(() => verifyAttestation(doc, { roots: [awsNitroRoot()], at: T0, maxAgeMs: 60_000 }))).toBe('attestation_root');
    const otherRoot = createDevelopmentRoot({ now: T0 - 1000, name: root.name }); // same name, other key
    expect(code(() => verifyAttestation(doc, { roots: [pinDevelopmentRoot(otherRoot)], at: T0, maxAgeMs: 60_000 }))).toBe('attestation_root');
  });

  it('renews its leaf certificate before expiry; an old document fails after its leaf expires', () => {
    const clock = manualClock(T0);
    const attester = new DevelopmentAttester({ ca: root, moduleId: 'dev-node-1', measurement, clock });
    const first = attester.attest({});
    const leafOf = (d: Uint8Array) => Buffer.from(parseAttestationDocument(parseCoseSign1(d).payload).certificate).toString('hex');
    clock.advance(60_000);
    expect(leafOf(attester.attest({}))).toBe(leafOf(first));
    clock.advance(DEFAULT_LEAF_VALIDITY_MS - 60_000);
    const later = attester.attest({});
    expect(leafOf(later)).not.toBe(leafOf(first));
    expect(code(() => verifyAttestation(later, { roots: [pinned], at: clock.now(), maxAgeMs: 60_000 }))).toBe('accepted');
    expect(code(() => verifyAttestation(first, { roots: [pinned], at: clock.now() + 1000, maxAgeMs: 365 * 86_400_000 }))).toBe('attestation_expired');
  });

  it('chains through an intermediate; a withdrawn intermediate is refused (intermediate rotation)', () => {
    const clock = manualClock(T0);
    const oldIntermediate = createDevelopmentIntermediate(root, { now: T0 - 1000, name: 'intermediate 2026a' });
    const newIntermediate = createDevelopmentIntermediate(root, { now: T0 - 1000, name: 'intermediate 2026b' });
    const docOld = new DevelopmentAttester({ ca: oldIntermediate, moduleId: 'n1', measurement, clock }).attest({});
    const docNew = new DevelopmentAttester({ ca: newIntermediate, moduleId: 'n1', measurement, clock }).attest({});
    const base = { roots: [pinned], at: T0, maxAgeMs: 60_000 };
    expect(code(() => verifyAttestation(docOld, base))).toBe('accepted');
    expect(code(() => verifyAttestation(docNew, base))).toBe('accepted');
    const deny = { ...base, denyFingerprints: [oldIntermediate.fingerprintSha256] };
    expect(code(() => verifyAttestation(docOld, deny))).toBe('attestation_chain');
    expect(code(() => verifyAttestation(docNew, deny))).toBe('accepted');
  });

  it('root rotation: the old root is accepted until its cutover, the new root from it', () => {
    const cutover = T0 + 3_600_000;
    const oldRoot = createDevelopmentRoot({ now: T0 - 86_400_000, name: 'dev root 2025' });
    const newRoot = createDevelopmentRoot({ now: T0 - 86_400_000, name: 'dev root 2026' });
    const roots = [pinDevelopmentRoot(oldRoot, { acceptUntil: cutover }), pinDevelopmentRoot(newRoot, { acceptFrom: cutover })];
    const clock = manualClock(T0);
    const underOld = new DevelopmentAttester({ ca: oldRoot, moduleId: 'n1', measurement, clock });
    const underNew = new DevelopmentAttester({ ca: newRoot, moduleId: 'n1', measurement, clock });
    for (const at of [cutover - 60_000, cutover - 1, cutover, cutover + 60_000]) {
      clock.set(at);
      const before = at < cutover;
      expect(code(() => verifyAttestation(underOld.attest({}), { roots, at, maxAgeMs: 60_000 })), `old @${at - cutover}`).toBe(before ? 'accepted' : 'attestation_root');
      expect(code(() => verifyAttestation(underNew.attest({}), { roots, at, maxAgeMs: 60_000 })), `new @${at - cutover}`).toBe(before ? 'attestation_root' : 'accepted');
    }
  });

  it('a debug-like measurement of zeros is reported as isDebug', () => {
    const clock = manualClock(T0);
    const doc = new DevelopmentAttester({ ca: root, moduleId: 'n1', measurement: new Uint8Array(48), clock }).attest({});
    expect(verifyAttestation(doc, { roots: [pinned], at: T0, maxAgeMs: 0 }).isDebug).toBe(true);
  });

  it('every single-bit flip of a development document is refused with a code, never accepted or crashing', () => {
    const clock = manualClock(T0);
    const doc = new DevelopmentAttester({ ca: root, moduleId: 'n1', measurement, clock }).attest({ nonce: new Uint8Array(16).fill(7) });
    const codes = new Map<string, number>();
    // every 11th byte, rotating bit: about 130 verifications over the whole document
    for (let i = 0; i < doc.length; i += 11) {
      const bad = doc.slice();
      bad[i]! ^= 1 << (i % 8);
      const c = code(() => verifyAttestation(bad, { roots: [pinned], at: T0, maxAgeMs: 60_000 }));
      expect(c, `byte ${i}`).not.toBe('accepted');
      codes.set(c, (codes.get(c) ?? 0) + 1);
    }
    expect(codes.get('attestation_signature')).toBeGreaterThan(0);
    expect(codes.get('attestation_chain')).toBeGreaterThan(0);
  });

  it('refuses a measurement that is not 48 bytes and oversized bindings', () => {
    const clock = manualClock(T0);
    expect(() => new DevelopmentAttester({ ca: root, moduleId: 'n1', measurement: new Uint8Array(32), clock })).toThrow(TypeError);
    const attester = new DevelopmentAttester({ ca: root, moduleId: 'n1', measurement, clock });
    expect(() => attester.attest({ userData: new Uint8Array(1025) })).toThrow(TypeError);
  });
});
