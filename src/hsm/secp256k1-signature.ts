/**
 * Turns a raw ECDSA secp256k1 signature (r||s, as PKCS#11 CKM_ECDSA returns it) into the form chains
 * need: s normalised to the lower half of the group order, and the recovery id found by trying each
 * candidate with @noble/curves until it recovers the signer's public key. Recovery is the
 * verification: the key recovered from (r, s, digest) equals the signer's only if the signature
 * verifies under it, so a separate verify would compute the same equation twice.
 *
 * @example
 *   const { signature, recovery } = normaliseSecp256k1(rawRS, digest32, publicKey65);
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { CustosError } from '../core/errors.js';
import type { Secp256k1Signature } from './hsm.js';

const N = secp256k1.Point.CURVE().n;

export function normaliseSecp256k1(raw: Uint8Array, digest: Uint8Array, publicKey: Uint8Array): Secp256k1Signature {
  if (raw.length !== 64) throw new CustosError('hsm_signature_invalid', 'the HSM returned an ECDSA signature of the wrong length', 502);
  let sig;
  try {
    sig = secp256k1.Signature.fromBytes(raw, 'compact');
  } catch {
    throw new CustosError('hsm_signature_invalid', 'the HSM returned an ECDSA signature with r or s out of range', 502);
  }
  if (sig.s > N >> 1n) sig = new secp256k1.Signature(sig.r, N - sig.s);
  const compact = sig.toBytes('compact');
  const expected = secp256k1.Point.fromBytes(publicKey);
  for (let recovery = 0; recovery < 4; recovery++) {
    let recovered;
    try {
      recovered = sig.addRecoveryBit(recovery).recoverPublicKey(digest);
    } catch {
      continue;
    }
    if (recovered.equals(expected)) return { signature: compact, recovery };
  }
  throw new CustosError('hsm_signature_invalid', 'the HSM returned an ECDSA signature that does not verify under its public key', 502);
}

/** Verifies a low-S compact signature over a 32-byte digest (no hashing inside). */
export function verifySecp256k1Digest(signature: Uint8Array, digest: Uint8Array, publicKey: Uint8Array): boolean {
  try {
    return secp256k1.verify(signature, digest, publicKey, { prehash: false, lowS: true });
  } catch {
    return false;
  }
}
