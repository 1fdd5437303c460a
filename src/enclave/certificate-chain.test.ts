import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AWS_NITRO_ROOT_G1_PEM, awsNitroRoot } from './aws-nitro-root.js';
import { decodeCbor, type CborMap } from './cbor-decode.js';
import { parseAttestationDocument } from './attestation-document.js';
import { parseCertificate } from './certificate.js';
import { verifyCertificateChain, type VerifyChainInput } from './certificate-chain.js';
import { parseCoseSign1 } from './cose-sign1.js';
import { AttestationError } from './errors.js';
import { issueCertificate } from './issue-certificate.js';
import { pinRoot } from './pinned-root.js';

const T0 = Date.UTC(2026, 0, 1);
const DAY = 86_400_000;

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof AttestationError) return err.code;
    throw err;
  }
  return 'accepted';
}

interface Ca {
  name: string;
  key: KeyObject;
  der: Uint8Array;
}

const key = () => generateKeyPairSync('ec', { namedCurve: 'P-384' });

function makeRoot(name = 'root', extra: Partial<Parameters<typeof issueCertificate>[0]> = {}): Ca {
  const k = key();
  const der = issueCertificate({ subject: name, issuer: name, subjectPublicKey: k.publicKey, issuerPrivateKey: k.privateKey, notBefore: T0 - DAY, notAfter: T0 + 365 * DAY, ca: true, ...extra });
  return { name, key: k.privateKey, der };
}

function issue(issuer: Ca, name: string, extra: Partial<Parameters<typeof issueCertificate>[0]> = {}): Ca {
  const k = key();
  const der = issueCertificate({ subject: name, issuer: issuer.name, subjectPublicKey: k.publicKey, issuerPrivateKey: issuer.key, notBefore: T0 - DAY, notAfter: T0 + 30 * DAY, ca: true, ...extra });
  return { name, key: k.privateKey, der };
}

const root = makeRoot();
const pinned = pinRoot({ name: 'test root', certificate: root.der, fingerprintSha256: parseCertificate(root.der).fingerprintSha256 });
const inter = issue(root, 'intermediate');
const leaf = issue(inter, 'leaf', { ca: false });

function check(overrides: Partial<VerifyChainInput>): string {
  return refusal(() => verifyCertificateChain({ leaf: leaf.der, cabundle: [root.der, inter.der], roots: [pinned], at: T0, ...overrides }));
}

describe('verifyCertificateChain', () => {
  it('accepts root → intermediate → leaf at a time inside every validity', () => {
    expect(check({})).toBe('accepted');
    expect(verifyCertificateChain({ leaf: leaf.der, cabundle: [root.der, inter.der], roots: [pinned], at: T0 }).root.name).toBe('test root');
  });

  it('never trusts the root the document carries: an unpinned root with the same name is refused', () => {
    const impostor = makeRoot('root');
    const impInter = issue(impostor, 'intermediate');
    const impLeaf = issue(impInter, 'leaf', { ca: false });
    expect(check({ leaf: impLeaf.der, cabundle: [impostor.der, impInter.der] })).toBe('attestation_root');
    // the real root in cabundle[0] does not help an intermediate it did not sign
    expect(check({ leaf: impLeaf.der, cabundle: [root.der, impInter.der] })).toBe('attestation_chain');
  });

  it('refuses a leaf that does not chain to the given intermediate, or skips it', () => {
    const stranger = issue(root, 'intermediate'); // same name, other key
    expect(check({ cabundle: [root.der, stranger.der] })).toBe('attestation_chain');
    expect(check({ cabundle: [root.der] })).toBe('attestation_chain');
  });

  it('refuses chains that are too long or loop', () => {
    let ca = root;
    const cabundle = [root.der];
    for (let i = 0; i < 9; i++) {
      ca = issue(ca, `level ${i}`);
      cabundle.push(ca.der);
    }
    const deepLeaf = issue(ca, 'deep leaf', { ca: false });
    expect(check({ leaf: deepLeaf.der, cabundle })).toBe('attestation_chain');
    expect(check({ cabundle: [root.der, inter.der, inter.der] })).toBe('attestation_chain');
    expect(check({ cabundle: [root.der, root.der, inter.der] })).toBe('attestation_chain');
    expect(check({ cabundle: [] })).toBe('attestation_chain');
  });

  it('refuses an intermediate that is not a CA, or exceeds a path length', () => {
    const notCa = issue(root, 'not a ca', { ca: false });
    const under = issue(notCa, 'leaf', { ca: false });
    expect(check({ leaf: under.der, cabundle: [root.der, notCa.der] })).toBe('attestation_chain');

    const tight = issue(root, 'pathlen 0', { pathLen: 0 });
    const sub = issue(tight, 'sub', { pathLen: 0 });
    const subLeaf = issue(sub, 'leaf', { ca: false });
    expect(check({ leaf: subLeaf.der, cabundle: [root.der, tight.der, sub.der] })).toBe('attestation_chain');
    const okLeaf = issue(tight, 'leaf', { ca: false });
    expect(check({ leaf: okLeaf.der, cabundle: [root.der, tight.der] })).toBe('accepted');
  });

  it('refuses a document signer that is a CA certificate (an intermediate cannot sign documents itself)', () => {
    const caLeaf = issue(inter, 'leaf that is a CA');
    expect(check({ leaf: caLeaf.der })).toBe('attestation_chain');
    expect(check({ leaf: inter.der, cabundle: [root.der] })).toBe('attestation_chain');
  });

  it('refuses a certificate with an unknown critical extension', () => {
    const odd = issue(inter, 'leaf', { ca: false, extraExtensions: [{ oid: '1.3.6.1.4.1.99999.1', critical: true, value: Uint8Array.of(0x05, 0x00) }] });
    expect(check({ leaf: odd.der })).toBe('attestation_chain');
    const fine = issue(inter, 'leaf', { ca: false, extraExtensions: [{ oid: '1.3.6.1.4.1.99999.1', critical: false, value: Uint8Array.of(0x05, 0x00) }] });
    expect(check({ leaf: fine.der })).toBe('accepted');
  });

  it('checks every certificate, the root included, at the injected time', () => {
    expect(check({ at: T0 + 31 * DAY })).toBe('attestation_expired'); // leaf and intermediate expired
    expect(check({ at: T0 - 2 * DAY })).toBe('attestation_expired'); // not yet valid
    const shortInter = issue(root, 'short', { notAfter: T0 + DAY });
    const longLeaf = issue(shortInter, 'leaf', { ca: false, notAfter: T0 + 30 * DAY });
    expect(check({ leaf: longLeaf.der, cabundle: [root.der, shortInter.der], at: T0 + 2 * DAY })).toBe('attestation_expired');
    const expiredRoot = makeRoot('old root', { notAfter: T0 - 1000 });
    const pinnedExpired = pinRoot({ name: 'old', certificate: expiredRoot.der, fingerprintSha256: parseCertificate(expiredRoot.der).fingerprintSha256 });
    const i2 = issue(expiredRoot, 'i2', { notBefore: T0 - DAY });
    const l2 = issue(i2, 'l2', { ca: false });
    expect(refusal(() => verifyCertificateChain({ leaf: l2.der, cabundle: [expiredRoot.der, i2.der], roots: [pinnedExpired], at: T0 }))).toBe('attestation_expired');
  });

  it('handles GeneralizedTime validity (after 2049) exactly', () => {
    const far = issue(inter, 'far', { ca: false, notAfter: Date.UTC(2060, 5, 1, 12, 0, 0) });
    const parsed = parseCertificate(far.der);
    expect(parsed.notAfter).toBe(Date.UTC(2060, 5, 1, 12, 0, 0));
    expect(parsed.notBefore).toBe(T0 - DAY);
  });

  it('refuses garbage and truncated certificates with a code', () => {
    expect(check({ leaf: new Uint8Array(10) })).toBe('attestation_chain');
    expect(check({ leaf: leaf.der.subarray(0, leaf.der.length - 1) })).toBe('attestation_chain');
    const tampered = leaf.der.slice();
    tampered[tampered.length - 10]! ^= 1; // inside the signature
    expect(check({ leaf: tampered })).toBe('attestation_chain');
  });

  it('pinRoot checks the fingerprint of the shipped root and refuses a non-CA or swapped certificate', () => {
    expect(awsNitroRoot().certificate.fingerprintSha256).toBe('641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b');
    const fp = parseCertificate(root.der).fingerprintSha256;
    expect(refusal(() => pinRoot({ name: 'aws', certificate: root.der, fingerprintSha256: '641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b' }))).toBe('attestation_root');
    expect(refusal(() => pinRoot({ name: 'x', certificate: AWS_NITRO_ROOT_G1_PEM, fingerprintSha256: fp }))).toBe('attestation_root');
    expect(refusal(() => pinRoot({ name: 'x', certificate: leaf.der, fingerprintSha256: parseCertificate(leaf.der).fingerprintSha256 }))).toBe('attestation_root');
    expect(refusal(() => pinRoot({ name: 'x', certificate: root.der, fingerprintSha256: 'zz' }))).toBe('attestation_root');
    expect(refusal(() => pinRoot({ name: 'x', certificate: root.der, fingerprintSha256: fp.toUpperCase().replace(/(..)(?!$)/g, '$1:') }))).toBe('accepted');
  });

  it('the certificate of the self-signed non-AWS document is refused by the AWS root pin', () => {
    const raw = readFileSync(new URL('./testdata/nitrite-selfsigned-NOT-AWS.b64', import.meta.url), 'utf8');
    const doc = new Uint8Array(Buffer.from(raw.trim(), 'base64'));
    // parse the payload leniently enough to reach the certificate (the document itself is malformed Nitro)
    const payload = parseCoseSign1Loose(doc);
    const cert = payload.get('certificate') as Uint8Array;
    expect(refusal(() => verifyCertificateChain({ leaf: cert, cabundle: [cert], roots: [awsNitroRoot()], at: Date.UTC(2024, 3, 18) }))).toBe('attestation_root');
  });

  it('real AWS chains verify at their timestamp and reject a withdrawn (denied) intermediate', () => {
    const raw = readFileSync(new URL('./testdata/nitrite-attestation.b64', import.meta.url), 'utf8');
    const d = parseAttestationDocument(parseCoseSign1(new Uint8Array(Buffer.from(raw.trim(), 'base64'))).payload);
    const input = { leaf: d.certificate, cabundle: d.cabundle, roots: [awsNitroRoot()], at: d.timestamp };
    expect(refusal(() => verifyCertificateChain(input))).toBe('accepted');
    const zonal = parseCertificate(d.cabundle[2]!).fingerprintSha256;
    expect(refusal(() => verifyCertificateChain({ ...input, denyFingerprints: [zonal] }))).toBe('attestation_chain');
    // reordering the bundle breaks the chain
    expect(refusal(() => verifyCertificateChain({ ...input, cabundle: [d.cabundle[0]!, d.cabundle[2]!, d.cabundle[1]!, d.cabundle[3]!] }))).toBe('attestation_chain');
  });
});

function parseCoseSign1Loose(doc: Uint8Array): CborMap {
  const top = decodeCbor(doc) as Uint8Array[];
  return decodeCbor(top[2]!) as CborMap;
}
