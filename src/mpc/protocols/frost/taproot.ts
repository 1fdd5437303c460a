/**
 * BIP-341 key-path tweak for a FROST (BIP-340) group key. The DKG outputs an internal key P; a
 * Taproot output commits to Q = lift_x(x(P)) + t·G with t = taggedHash("TapTweak", x(P) || merkle_root)
 * (empty merkle root for a key-path-only output, BIP-86). Every signer tweaks its own share
 * (s' = ±s + t, negated when P has odd Y) and the public package the same way, so the group signs
 * for Q without anyone learning more than before.
 *
 * @example
 *   const q = taprootOutputKey(groupPublicKey(keyShare), new Uint8Array(0));   // 32-byte x-only key
 */
import { schnorr, secp256k1 } from '@noble/curves/secp256k1.js';
import type { FrostPublic, FrostSecret } from '@noble/curves/abstract/frost.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { ProtocolMisuse } from '../round.js';

const { Point } = secp256k1;
const Fn = Point.Fn;

function checkMerkleRoot(merkleRoot: Uint8Array): void {
  if (!(merkleRoot instanceof Uint8Array) || (merkleRoot.length !== 0 && merkleRoot.length !== 32)) {
    throw new ProtocolMisuse('frost_bad_merkle_root', 'taproot merkle root must be empty or 32 bytes');
  }
}

/** The TapTweak scalar for internal key P (33-byte compressed or 32-byte x-only) and a merkle root. */
export function taprootTweak(internalKey: Uint8Array, merkleRoot: Uint8Array): bigint {
  checkMerkleRoot(merkleRoot);
  const x = internalKey.length === 33 ? internalKey.subarray(1) : internalKey;
  if (x.length !== 32) throw new ProtocolMisuse('frost_bad_public_key', 'internal key must be 32 or 33 bytes');
  const t = BigInt('0x' + bytesToHex(schnorr.utils.taggedHash('TapTweak', x, merkleRoot)));
  // BIP-341: a tweak ≥ n is invalid (it is never reduced).
  if (t >= Fn.ORDER) throw new ProtocolMisuse('frost_bad_tweak', 'TapTweak hash is not a valid scalar');
  return t;
}

/** The 32-byte x-only Taproot output key Q for a FROST group key P and a merkle root. */
export function taprootOutputKey(internalKey: Uint8Array, merkleRoot: Uint8Array): Uint8Array {
  const P = internalKey.length === 33 ? Point.fromBytes(internalKey) : schnorr.utils.lift_x(BigInt('0x' + bytesToHex(internalKey)));
  const even = P.y % 2n === 0n ? P : P.negate();
  const Q = even.add(Point.BASE.multiply(taprootTweak(internalKey, merkleRoot)));
  return Q.toBytes(true).subarray(1);
}

/** Applies the tweak to a public key package (even-Y internal key, then + t·G where the key enters). */
export function tweakPublic(pub: FrostPublic, merkleRoot: Uint8Array): FrostPublic {
  const P = Point.fromBytes(pub.commitments[0] as Uint8Array);
  const flip = P.y % 2n !== 0n;
  const tG = Point.BASE.multiply(taprootTweak(pub.commitments[0] as Uint8Array, merkleRoot));
  const adjust = (bytes: Uint8Array, addTweak: boolean): Uint8Array => {
    let p = Point.fromBytes(bytes);
    if (flip) p = p.negate();
    if (addTweak) p = p.add(tG);
    return p.toBytes(true);
  };
  return {
    signers: { ...pub.signers },
    commitments: pub.commitments.map((c, i) => adjust(c, i === 0)),
    verifyingShares: Object.fromEntries(Object.entries(pub.verifyingShares).map(([id, v]) => [id, adjust(v, true)])),
  } as FrostPublic;
}

/** Applies the tweak to one party's secret share: s' = (P odd ? -s : s) + t. */
export function tweakSecret(secret: FrostSecret, internalKey: Uint8Array, merkleRoot: Uint8Array): FrostSecret {
  const P = Point.fromBytes(internalKey);
  let s = Fn.fromBytes(secret.signingShare);
  if (P.y % 2n !== 0n) s = Fn.neg(s);
  s = Fn.add(s, taprootTweak(internalKey, merkleRoot));
  return { identifier: secret.identifier, signingShare: Fn.toBytes(s) } as FrostSecret;
}
