import { sign, verify, type KeyObject } from 'node:crypto';
import { decodeCbor, type CborMap } from './cbor-decode.js';
import { encodeCbor } from './cbor-encode.js';
import { AttestationError } from './errors.js';

/** COSE algorithm identifier for ECDSA with SHA-384 on P-384 (RFC 9053). */
export const COSE_ALG_ES384 = -35;
/** CBOR tag of a tagged COSE_Sign1 message (RFC 9052); Nitro documents are untagged. */
export const COSE_SIGN1_TAG = 18;
const ES384_SIGNATURE_BYTES = 96;

/** A COSE_Sign1 message whose structure has been checked; its signature has not been verified yet. */
export interface CoseSign1 {
  /** The protected header exactly as it was serialised (it is part of what is signed). */
  readonly protectedHeader: Uint8Array;
  readonly payload: Uint8Array;
  /** Raw r || s, 48 bytes each. */
  readonly signature: Uint8Array;
}

/**
 * Parse a COSE_Sign1 message signed with ES384: `[protected: bstr, unprotected: {}, payload: bstr,
 * signature: bstr]`, optionally under tag 18. The protected header must be a map whose only
 * parameter is `alg: -35` (ES384); the unprotected header must be empty (Nitro sets none, and a
 * parameter there is not covered by the signature); a detached (nil) payload is refused.
 *
 * @example
 *   const cose = parseCoseSign1(documentBytes); verifyCoseSign1(cose, leafPublicKey);
 */
export function parseCoseSign1(bytes: Uint8Array, maxBytes = 32 * 1024): CoseSign1 {
  let top = decodeCbor(bytes, { maxBytes, maxDepth: 4, maxItems: 64, allowedTags: [COSE_SIGN1_TAG] });
  if (top !== null && typeof top === 'object' && 'tag' in top) top = top.value;
  if (!Array.isArray(top) || top.length !== 4) throw bad('COSE_Sign1 must be an array of four items');
  const [protectedHeader, unprotected, payload, signature] = top;
  if (!(protectedHeader instanceof Uint8Array)) throw bad('COSE_Sign1 protected header must be a byte string');
  if (!(unprotected instanceof Map)) throw bad('COSE_Sign1 unprotected header must be a map');
  if (unprotected.size !== 0) throw bad('COSE_Sign1 unprotected header must be empty');
  if (!(payload instanceof Uint8Array)) throw bad('COSE_Sign1 payload must be an attached byte string');
  if (!(signature instanceof Uint8Array)) throw bad('COSE_Sign1 signature must be a byte string');
  const header = decodeCbor(protectedHeader, { maxBytes: 256, maxDepth: 2, maxItems: 16 });
  if (!(header instanceof Map)) throw bad('COSE_Sign1 protected header must encode a map');
  checkAlgorithm(header);
  if (signature.length !== ES384_SIGNATURE_BYTES) {
    throw new AttestationError('attestation_signature', `ES384 signature must be ${ES384_SIGNATURE_BYTES} bytes, got ${signature.length}`);
  }
  return { protectedHeader, payload, signature };
}

function checkAlgorithm(header: CborMap): void {
  const alg = header.get(1);
  if (alg === undefined) throw bad('COSE_Sign1 protected header has no algorithm');
  if (alg !== COSE_ALG_ES384) {
    throw new AttestationError('attestation_algorithm', `COSE algorithm ${JSON.stringify(alg)} is not ES384 (-35)`);
  }
  if (header.size !== 1) throw bad('COSE_Sign1 protected header has parameters other than alg');
}

/**
 * The bytes an ES384 COSE_Sign1 signature covers (RFC 9052 §4.4):
 * `["Signature1", protected, external_aad = h'', payload]`.
 *
 * @example
 *   const tbs = sigStructure(cose.protectedHeader, cose.payload);
 */
export function sigStructure(protectedHeader: Uint8Array, payload: Uint8Array): Uint8Array {
  return encodeCbor(['Signature1', protectedHeader, new Uint8Array(0), payload]);
}

/**
 * Verify the ES384 signature of a parsed COSE_Sign1 under a P-384 public key; throws
 * `attestation_algorithm` for another key type and `attestation_signature` when it does not verify.
 *
 * @example
 *   verifyCoseSign1(parseCoseSign1(bytes), leafCertificate.publicKey);
 */
export function verifyCoseSign1(cose: CoseSign1, publicKey: KeyObject): void {
  requireP384(publicKey);
  const ok = verify('sha384', sigStructure(cose.protectedHeader, cose.payload), { key: publicKey, dsaEncoding: 'ieee-p1363' }, cose.signature);
  if (!ok) throw new AttestationError('attestation_signature', 'COSE_Sign1 signature does not verify under the leaf certificate key');
}

/**
 * Sign a payload as an untagged ES384 COSE_Sign1 message (the Nitro layout).
 *
 * @example
 *   const doc = signCoseSign1(encodeCbor(payloadMap), leafPrivateKey);
 */
export function signCoseSign1(payload: Uint8Array, privateKey: KeyObject): Uint8Array {
  requireP384(privateKey);
  const protectedHeader = encodeCbor(new Map([[1, COSE_ALG_ES384]]));
  const signature = sign('sha384', sigStructure(protectedHeader, payload), { key: privateKey, dsaEncoding: 'ieee-p1363' });
  return encodeCbor([protectedHeader, new Map(), payload, new Uint8Array(signature)]);
}

function requireP384(key: KeyObject): void {
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'secp384r1') {
    throw new AttestationError('attestation_algorithm', 'ES384 needs an EC P-384 key');
  }
}

function bad(message: string): AttestationError {
  return new AttestationError('attestation_format', message);
}
