/**
 * Plain big-integer helpers over native `bigint`: non-negative remainder, gcd, modular inverse,
 * Jacobi symbol, bit length and big-endian byte conversion. Everything here runs in variable time:
 * use it on public values, or on secrets only where the timing leak is accepted and documented.
 *
 * @example
 *   mod(-3n, 7n);           // 4n
 *   modInverse(3n, 7n);     // 5n
 *   jacobi(2n, 7n);         // 1
 */
import { CustosError } from '../../core/errors.js';

/** x mod m in [0, m). */
export function mod(x: bigint, m: bigint): bigint {
  const r = x % m;
  return r < 0n ? r + m : r;
}

export function abs(x: bigint): bigint {
  return x < 0n ? -x : x;
}

export function gcd(a: bigint, b: bigint): bigint {
  a = abs(a);
  b = abs(b);
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

/**
 * Whether every x in xs is coprime to n, with one gcd: a prime factor of n divides some x exactly
 * when it divides their product, so gcd(Π x mod n, n) = 1 iff each gcd(x, n) = 1.
 */
export function allCoprime(xs: readonly bigint[], n: bigint): boolean {
  let prod = 1n;
  for (const x of xs) prod = (prod * mod(x, n)) % n;
  return gcd(prod, n) === 1n;
}

/** a^-1 mod m; throws `bigint_not_invertible` when gcd(a, m) ≠ 1. */
export function modInverse(a: bigint, m: bigint): bigint {
  if (m <= 1n) throw new CustosError('bigint_bad_modulus', 'modulus must be greater than 1');
  let [r0, r1] = [mod(a, m), m];
  let [s0, s1] = [1n, 0n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  if (r0 !== 1n) throw new CustosError('bigint_not_invertible', 'value is not invertible modulo the modulus');
  return mod(s0, m);
}

/** Jacobi symbol (a/n) for odd n > 0: -1, 0 or 1. */
export function jacobi(a: bigint, n: bigint): -1 | 0 | 1 {
  if (n <= 0n || (n & 1n) === 0n) throw new CustosError('bigint_bad_modulus', 'Jacobi symbol needs an odd positive modulus');
  a = mod(a, n);
  let t: 1 | -1 = 1;
  while (a !== 0n) {
    while ((a & 1n) === 0n) {
      a >>= 1n;
      const r = n & 7n;
      if (r === 3n || r === 5n) t = t === 1 ? -1 : 1;
    }
    [a, n] = [n, a];
    if ((a & 3n) === 3n && (n & 3n) === 3n) t = t === 1 ? -1 : 1;
    a %= n;
  }
  return n === 1n ? t : 0;
}

/** Number of bits of |x| (0 for 0). */
export function bitLength(x: bigint): number {
  x = abs(x);
  if (x === 0n) return 0;
  const hex = x.toString(16);
  return (hex.length - 1) * 4 + (32 - Math.clz32(parseInt(hex[0] as string, 16)));
}

/** Non-negative integer to big-endian bytes, left-padded to `length` (or minimal). */
export function toBytes(x: bigint, length?: number): Uint8Array {
  if (x < 0n) throw new CustosError('bigint_negative', 'cannot encode a negative integer as unsigned bytes');
  let hex = x.toString(16);
  if (hex.length % 2) hex = '0' + hex;
  const n = hex.length / 2;
  const len = length ?? n;
  if (n > len) throw new CustosError('bigint_too_large', 'integer does not fit in the requested length');
  const out = new Uint8Array(len);
  const buf = Buffer.from(hex, 'hex');
  out.set(buf, len - n);
  return out;
}

/** Big-endian bytes to a non-negative integer. */
export function fromBytes(b: Uint8Array): bigint {
  if (b.length === 0) return 0n;
  return BigInt('0x' + Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex'));
}
