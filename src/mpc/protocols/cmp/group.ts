/**
 * secp256k1 group helpers for the protocol: scalar reduction, g^x on the (noble) constant-time
 * ladder, point encoding and decoding with validation, and hashing to a scalar.
 *
 * @example
 *   const X = mulG(x); const bytes = pointToBytes(X); pointFromBytes(bytes).equals(X); // true
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { CustosError } from '../../../core/errors.js';
import { mod } from '../../bigint/index.js';
import { Q } from './params.js';

export const Point = secp256k1.Point;
export type Point = InstanceType<typeof secp256k1.Point>;

export function scalar(x: bigint): bigint {
  return mod(x, Q);
}

/** x·G for a (possibly secret) integer x, reduced mod q. */
export function mulG(x: bigint): Point {
  const k = scalar(x);
  return k === 0n ? Point.ZERO : Point.BASE.multiply(k);
}

/** x·P for an integer x (reduced mod q). */
export function mulP(p: Point, x: bigint): Point {
  const k = scalar(x);
  return k === 0n || p.is0() ? Point.ZERO : p.multiply(k);
}

/** x·P for a PUBLIC integer x (a challenge or a response): variable-time, faster. */
export function mulPublic(p: Point, x: bigint): Point {
  const k = scalar(x);
  return k === 0n || p.is0() ? Point.ZERO : p.multiplyUnsafe(k);
}

/** Compressed encoding; the identity encodes as a single zero byte. */
export function pointToHex(p: Point): string {
  return p.is0() ? '00' : p.toHex(true);
}

/** A compressed point's encoding as this code writes it (lower-case hex, 33 bytes). */
export const COMPRESSED_POINT_HEX = /^0[23][0-9a-f]{64}$/;

/**
 * The x coordinate and the parity of y of a compressed point, read from its encoding without
 * decoding the point (no square root). For points this code encoded itself (a stored R);
 * `pointFromHex` is the check for anything received.
 */
export function compressedXY(hex: string): { x: bigint; yOdd: boolean } {
  if (!COMPRESSED_POINT_HEX.test(hex)) throw new CustosError('cmp_bad_point', 'not a compressed curve point');
  return { x: BigInt(`0x${hex.slice(2)}`), yOdd: hex[1] === '3' };
}

/** Decodes and validates a point (on curve); `allowZero` admits the identity. */
export function pointFromHex(hex: string, allowZero = false): Point {
  if (hex === '00') {
    if (allowZero) return Point.ZERO;
    throw new CustosError('cmp_bad_point', 'point at infinity is not allowed here');
  }
  try {
    const p = Point.fromHex(hex);
    p.assertValidity();
    return p;
  } catch {
    throw new CustosError('cmp_bad_point', 'malformed curve point');
  }
}

export function modQInverse(x: bigint): bigint {
  const k = scalar(x);
  if (k === 0n) throw new CustosError('cmp_zero_scalar', 'zero has no inverse');
  return secp256k1.Point.Fn.inv(k);
}
