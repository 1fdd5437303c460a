import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { awsNitroRoot } from './aws-nitro-root.js';
import { parseAttestationDocument } from './attestation-document.js';
import { parseCoseSign1 } from './cose-sign1.js';
import { parseCertificate } from './certificate.js';
import { AttestationError } from './errors.js';
import { verifyAttestation, type VerifyAttestationOptions } from './verify-attestation.js';

/** Real AWS Nitro documents (see testdata/SOURCES.md), base64 or raw. */
function load(name: string): Uint8Array {
  const raw = readFileSync(new URL(`./testdata/${name}`, import.meta.url));
  return new Uint8Array(name.endsWith('.b64') ? Buffer.from(raw.toString('utf8').trim(), 'base64') : raw);
}

const REAL = [
  'evervault-beta-valid-attestation-doc.bin',
  'evervault-beta-debug-attestation-doc.bin',
  'evervault-valid-attestation-doc.b64',
  'nitrite-attestation.b64',
  'nitrite-attestation-debug.b64',
] as const;

const roots = [awsNitroRoot()];

function ownTime(doc: Uint8Array): number {
  return parseAttestationDocument(parseCoseSign1(doc).payload).timestamp;
}

const noNonceDoc = (): Uint8Array => load('evervault-beta-debug-attestation-doc.bin');

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof AttestationError) return err.code;
    throw err;
  }
  return 'accepted';
}

function opts(doc: Uint8Array, extra: Partial<VerifyAttestationOptions> = {}): VerifyAttestationOptions {
  return { roots, at: ownTime(doc), maxAgeMs: 5 * 60_000, ...extra };
}

/** Offset of `needle` inside `hay` (to flip a bit inside a known field). */
function indexOf(hay: Uint8Array, needle: Uint8Array): number {
  return Buffer.from(hay).indexOf(Buffer.from(needle));
}

function flip(doc: Uint8Array, offset: number, bit = 0): Uint8Array {
  const out = doc.slice();
  out[offset]! ^= 1 << bit;
  return out;
}

describe('verifyAttestation on real AWS Nitro documents', () => {
  it.each(REAL)('%s verifies at its own timestamp against the pinned AWS root', (name) => {
    const doc = load(name);
    const att = verifyAttestation(doc, opts(doc));
    expect(att.root).toBe('aws-nitro-g1');
    expect(att.timestamp).toBe(ownTime(doc));
    expect(att.moduleId).toMatch(/^i-[0-9a-f]{17}-enc[0-9a-f]{16}$/);
    expect(att.pcrs.size).toBe(16);
    for (const pcr of att.pcrs.values()) expect(pcr.length).toBe(48);
  });

  it('debug documents show zero PCRs and isDebug; production ones do not', () => {
    const debugDocs = ['evervault-beta-debug-attestation-doc.bin', 'nitrite-attestation-debug.b64', 'evervault-valid-attestation-doc.b64'];
    for (const name of debugDocs) {
      const att = verifyAttestation(load(name), opts(load(name)));
      expect(att.isDebug, name).toBe(true);
      for (const i of [0, 1, 2]) expect(att.pcrs.get(i)!.every((b) => b === 0), `${name} PCR${i}`).toBe(true);
    }
    for (const name of ['evervault-beta-valid-attestation-doc.bin', 'nitrite-attestation.b64']) {
      const att = verifyAttestation(load(name), opts(load(name)));
      expect(att.isDebug, name).toBe(false);
      expect(att.pcrs.get(0)!.some((b) => b !== 0)).toBe(true);
    }
  });

  it('returns the bound public key, user data and nonce of the document', () => {
    const doc = load('evervault-beta-debug-attestation-doc.bin');
    const att = verifyAttestation(doc, opts(doc));
    expect(Buffer.from(att.publicKey!).toString()).toBe('my super secret key');
    expect(Buffer.from(att.userData!).toString()).toBe('hello, world!');
    expect(att.nonce).toBeUndefined();
  });

  it.each(REAL)('%s: one flipped bit in a PCR (payload) fails the signature', (name) => {
    const doc = load(name);
    const pcr0 = parseAttestationDocument(parseCoseSign1(doc).payload).pcrs.get(0)!;
    const at = indexOf(doc, pcr0);
    expect(at).toBeGreaterThan(0);
    for (const bit of [0, 7]) expect(code(() => verifyAttestation(flip(doc, at + 17, bit), opts(doc)))).toBe('attestation_signature');
  });

  it.each(REAL)('%s: one flipped bit in the signature fails', (name) => {
    const doc = load(name);
    for (const back of [1, 48, 96]) expect(code(() => verifyAttestation(flip(doc, doc.length - back), opts(doc)))).toBe('attestation_signature');
  });

  it('a flipped bit in the nonce, the user data or the timestamp fails the signature', () => {
    const doc = load('nitrite-attestation.b64');
    const parsed = parseAttestationDocument(parseCoseSign1(doc).payload);
    for (const field of [parsed.nonce!, parsed.userData!, parsed.publicKey!]) {
      expect(code(() => verifyAttestation(flip(doc, indexOf(doc, field) + 100), opts(doc)))).toBe('attestation_signature');
    }
    const ts = indexOf(doc, Buffer.from('timestamp')) + 'timestamp'.length + 1 + 7; // low byte of the u64
    expect(code(() => verifyAttestation(flip(doc, ts), opts(doc)))).toBe('attestation_signature');
  });

  it.each(REAL)('%s: a time after the leaf certificate expires fails', (name) => {
    const doc = load(name);
    const leaf = parseCertificate(parseAttestationDocument(parseCoseSign1(doc).payload).certificate);
    expect(code(() => verifyAttestation(doc, { ...opts(doc), at: leaf.notAfter + 1000, maxAgeMs: 365 * 86_400_000 }))).toBe('attestation_expired');
    expect(code(() => verifyAttestation(doc, { ...opts(doc), at: leaf.notBefore - 1000 }))).toBe('attestation_expired');
    // just inside the leaf's validity, with a generous max age, it still verifies
    expect(code(() => verifyAttestation(doc, { ...opts(doc), at: leaf.notAfter, maxAgeMs: 86_400_000 }))).toBe('accepted');
  });

  it('a document older than maxAge or dated in the future fails as expired', () => {
    const doc = load('nitrite-attestation.b64');
    const t = ownTime(doc);
    expect(code(() => verifyAttestation(doc, { ...opts(doc), at: t + 60_001, maxAgeMs: 60_000 }))).toBe('attestation_expired');
    expect(code(() => verifyAttestation(doc, { ...opts(doc), at: t + 60_000, maxAgeMs: 60_000 }))).toBe('accepted');
    expect(code(() => verifyAttestation(doc, { ...opts(doc), at: t - 120_000 }))).toBe('attestation_expired');
  });

  it('the self-signed non-AWS document fails against the pinned AWS root', () => {
    const doc = load('nitrite-selfsigned-NOT-AWS.b64');
    // It is not even a well-formed Nitro document (null unprotected header and cabundle), so the
    // parser stops it first; its certificate is then shown to be refused by the root pin itself.
    expect(code(() => verifyAttestation(doc, { roots, at: 1713379906_000, maxAgeMs: 1e12 }))).toBe('attestation_format');
  });

  it('a document whose chain ends in an unpinned root fails with attestation_root', () => {
    const doc = load('nitrite-attestation.b64');
    expect(code(() => verifyAttestation(doc, { ...opts(doc), roots: [] }))).toBe('attestation_root');
  });

  it('checks the nonce, public key and user data bindings', () => {
    const doc = load('nitrite-attestation.b64');
    const p = parseAttestationDocument(parseCoseSign1(doc).payload);
    expect(code(() => verifyAttestation(doc, opts(doc, { expectedNonce: p.nonce!, expectedPublicKey: p.publicKey!, expectedUserData: p.userData! })))).toBe('accepted');
    const other = p.nonce!.slice();
    other[0]! ^= 1;
    expect(code(() => verifyAttestation(doc, opts(doc, { expectedNonce: other })))).toBe('attestation_nonce');
    expect(code(() => verifyAttestation(doc, opts(doc, { expectedNonce: p.nonce!.subarray(1) })))).toBe('attestation_nonce');
    const changed = (b: Uint8Array): Uint8Array => {
      const c = b.slice();
      c[c.length - 1]! ^= 0x80;
      return c;
    };
    expect(code(() => verifyAttestation(doc, opts(doc, { expectedPublicKey: changed(p.publicKey!) })))).toBe('attestation_public_key');
    expect(code(() => verifyAttestation(doc, opts(doc, { expectedUserData: changed(p.userData!) })))).toBe('attestation_user_data');
    expect(code(() => verifyAttestation(noNonceDoc(), opts(noNonceDoc(), { expectedUserData: new TextEncoder().encode('hello, world') })))).toBe('attestation_user_data');
    const noNonce = noNonceDoc();
    expect(code(() => verifyAttestation(noNonce, opts(noNonce, { expectedNonce: new Uint8Array(32) })))).toBe('attestation_nonce');
  });

  it('refuses truncated, oversized and trailing-byte documents without crashing', () => {
    const doc = load('nitrite-attestation.b64');
    for (const cut of [0, 1, 10, doc.length / 2, doc.length - 1]) {
      expect(code(() => verifyAttestation(doc.subarray(0, cut), opts(doc)))).toBe('attestation_format');
    }
    const trailing = new Uint8Array(doc.length + 1);
    trailing.set(doc);
    expect(code(() => verifyAttestation(trailing, opts(doc)))).toBe('attestation_format');
    expect(code(() => verifyAttestation(new Uint8Array(20_000), opts(doc)))).toBe('attestation_too_large');
  });

  it('bit flips spread over a whole real document, and every truncation, are refused with a code', () => {
    const doc = load('nitrite-attestation.b64');
    for (let i = 3; i < doc.length; i += 53) {
      const c = code(() => verifyAttestation(flip(doc, i, i % 8), opts(doc)));
      expect(c, `byte ${i}`).not.toBe('accepted');
      expect(c).toMatch(/^attestation_/);
    }
    for (let n = 0; n < doc.length; n += 97) expect(code(() => verifyAttestation(doc.subarray(0, n), opts(doc)))).toBe('attestation_format');
  });
});
