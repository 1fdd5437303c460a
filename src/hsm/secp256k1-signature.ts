/**
 * Turns a raw ECDSA secp256k1 signature (r||s, as PKCS#11 CKM_ECDSA returns it) into the form chains
 * need: s normalised to the lower half of the group order, and the recovery id. Both come from one
 * computation with @noble/curves point arithmetic: R = (e/s)·G + (r/s)·Q. The signature verifies
 * exactly when R is not the identity and R.x mod n = r (the ECDSA verification equation); the
 * recovery id is R.y's parity, plus 2 in the (never yet observed) case R.x >= n.
 *
 * @example
 *   const { signature, recovery } = normaliseSecp256k1(rawRS, digest32, publicKey65);
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { CustosError } from '../core/errors.js';
import type { Secp256k1Signature } from './hsm.js';

const Point = secp256k1.Point;
const Fn = Point.Fn;
const N = Fn.ORDER;

function invalid(why: string): CustosError {
  return new CustosError('hsm_signature_invalid', `the HSM returned an ECDSA signature that ${why}`, 502);
}

/** Digest to scalar as ECDSA does for a 256-bit curve: the 32 bytes big-endian, reduced mod n. */
function digestScalar(digest: Uint8Array): bigint {
  return Fn.create(BigInt('0x' + (Buffer.from(digest).toString('hex') || '0')));
}

export function normaliseSecp256k1(raw: Uint8Array, digest: Uint8Array, publicKey: Uint8Array): Secp256k1Signature {
  if (raw.length !== 64) throw invalid('has the wrong length');
  if (digest.length !== 32) throw new CustosError('hsm_invalid_input', 'an ECDSA digest is exactly 32 bytes', 400);
  let sig;
  try {
    sig = secp256k1.Signature.fromBytes(raw, 'compact');
  } catch {
    throw invalid('has r or s out of range');
  }
  const r = sig.r;
  const s = sig.s > N >> 1n ? N - sig.s : sig.s;
  if (r === 0n || s === 0n) throw invalid('has r or s out of range');
  const Q = Point.fromBytes(publicKey);
  const w = Fn.inv(s);
  const R = Point.BASE.mulAddUnsafe(Fn.mul(digestScalar(digest), w), Q, Fn.mul(r, w));
  if (R.is0()) throw invalid('does not verify under its public key');
  const { x, y } = R.toAffine();
  if (Fn.create(x) !== r) throw invalid('does not verify under its public key');
  const recovery = Number(y & 1n) | (x >= N ? 2 : 0);
  return { signature: new secp256k1.Signature(r, s).toBytes('compact'), recovery };
}

/** Verifies a low-S compact signature over a 32-byte digest (no hashing inside). */
export function verifySecp256k1Digest(signature: Uint8Array, digest: Uint8Array, publicKey: Uint8Array): boolean {
  try {
    return secp256k1.verify(signature, digest, publicKey, { prehash: false, lowS: true });
  } catch {
    return false;
  }
}
