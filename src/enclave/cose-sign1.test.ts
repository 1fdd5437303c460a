import { generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { CborValue } from './cbor-decode.js';
import { encodeCbor } from './cbor-encode.js';
import { parseCoseSign1, sigStructure, signCoseSign1, verifyCoseSign1 } from './cose-sign1.js';
import { AttestationError } from './errors.js';

const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const payload = new TextEncoder().encode('payload');

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof AttestationError) return err.code;
    throw err;
  }
  return 'accepted';
}

/** A COSE_Sign1 with a chosen protected header, signed correctly with the P-384 key. */
function withHeader(header: Map<number, CborValue>, unprotected: CborValue = new Map()): Uint8Array {
  const protectedHeader = encodeCbor(header);
  const sig = sign('sha384', sigStructure(protectedHeader, payload), { key: p384.privateKey, dsaEncoding: 'ieee-p1363' });
  return encodeCbor([protectedHeader, unprotected, payload, new Uint8Array(sig)]);
}

describe('COSE_Sign1 ES384', () => {
  it('Sig_structure is ["Signature1", protected, h\'\', payload] in CBOR', () => {
    expect(Buffer.from(sigStructure(Uint8Array.of(0xa1, 0x01, 0x38, 0x22), Uint8Array.of(1))).toString('hex')).toBe(
      '84' + '6a' + Buffer.from('Signature1').toString('hex') + '44a1013822' + '40' + '4101',
    );
  });

  it('signs and verifies; accepts the tagged form too', () => {
    const msg = signCoseSign1(payload, p384.privateKey);
    const cose = parseCoseSign1(msg);
    expect(cose.payload).toEqual(payload);
    expect(refusal(() => verifyCoseSign1(cose, p384.publicKey))).toBe('accepted');
    const tagged = Uint8Array.of(0xd2, ...msg);
    expect(refusal(() => verifyCoseSign1(parseCoseSign1(tagged), p384.publicKey))).toBe('accepted');
  });

  it('refuses another signer, a changed payload and a changed protected header', () => {
    const other = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    const cose = parseCoseSign1(signCoseSign1(payload, p384.privateKey));
    expect(refusal(() => verifyCoseSign1(cose, other.publicKey))).toBe('attestation_signature');
    expect(refusal(() => verifyCoseSign1({ ...cose, payload: new TextEncoder().encode('payloae') }, p384.publicKey))).toBe('attestation_signature');
    // same algorithm, different serialisation of the protected header (non-shortest -35): not what was signed
    expect(refusal(() => verifyCoseSign1({ ...cose, protectedHeader: Uint8Array.of(0xa1, 0x01, 0x39, 0x00, 0x22) }, p384.publicKey))).toBe('attestation_signature');
  });

  it('refuses a wrong COSE algorithm and a key that is not P-384', () => {
    expect(refusal(() => parseCoseSign1(withHeader(new Map([[1, -7]]))))).toBe('attestation_algorithm'); // ES256
    expect(refusal(() => parseCoseSign1(withHeader(new Map([[1, -36]]))))).toBe('attestation_algorithm'); // ES512
    expect(refusal(() => parseCoseSign1(withHeader(new Map([[1, 'ES384']]))))).toBe('attestation_algorithm');
    const cose = parseCoseSign1(signCoseSign1(payload, p384.privateKey));
    expect(refusal(() => verifyCoseSign1(cose, p256.publicKey))).toBe('attestation_algorithm');
    expect(refusal(() => signCoseSign1(payload, p256.privateKey))).toBe('attestation_algorithm');
  });

  it('refuses malformed structures', () => {
    const sig96 = new Uint8Array(96);
    const ph = encodeCbor(new Map([[1, -35]]));
    const cases: [string, CborValue][] = [
      ['not an array', new Map()],
      ['three items', [ph, new Map(), payload]],
      ['five items', [ph, new Map(), payload, sig96, sig96]],
      ['protected not bytes', [new Map([[1, -35]]), new Map(), payload, sig96]],
      ['unprotected not a map', [ph, null, payload, sig96]],
      ['unprotected carries alg', [ph, new Map([[1, -35]]), payload, sig96]],
      ['detached payload', [ph, new Map(), null, sig96]],
      ['signature not bytes', [ph, new Map(), payload, 'sig']],
      ['protected without alg', [encodeCbor(new Map([[4, new Uint8Array(1)]])), new Map(), payload, sig96]],
      ['protected with extra crit', [encodeCbor(new Map<number, CborValue>([[1, -35], [2, [99]]])), new Map(), payload, sig96]],
      ['protected is not a map', [encodeCbor([1, -35]), new Map(), payload, sig96]],
    ];
    for (const [name, value] of cases) expect(refusal(() => parseCoseSign1(encodeCbor(value))), name).toBe('attestation_format');
    expect(refusal(() => parseCoseSign1(encodeCbor([ph, new Map(), payload, new Uint8Array(95)])))).toBe('attestation_signature');
    expect(refusal(() => parseCoseSign1(Uint8Array.of(0xd1, ...encodeCbor([ph, new Map(), payload, sig96]))))).toBe('attestation_format'); // tag 17
  });
});
