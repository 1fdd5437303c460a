/**
 * Uniform random integers from an injected byte source (rejection sampling, no modulo bias):
 * below a bound, in a symmetric interval ±2^bits, and in Z_N^* (units modulo N).
 *
 * @example
 *   const rng = (n: number) => new Uint8Array(randomBytes(n));
 *   const r = randomUnit(n, rng); // 0 < r < n, gcd(r, n) = 1
 */
import { CustosError } from '../../core/errors.js';
import { bitLength, fromBytes, gcd } from './arith.js';

/** Returns `n` fresh uniformly random bytes (node:crypto's randomBytes in production). */
export type ByteSource = (n: number) => Uint8Array;

/** Uniform integer in [0, bound). */
export function randomBelow(bound: bigint, rng: ByteSource): bigint {
  if (bound <= 0n) throw new CustosError('bigint_bad_bound', 'random bound must be positive');
  const bits = bitLength(bound - 1n);
  if (bits === 0) return 0n;
  const bytes = Math.ceil(bits / 8);
  const excess = BigInt(bytes * 8 - bits);
  for (;;) {
    const x = fromBytes(rng(bytes)) >> excess;
    if (x < bound) return x;
  }
}

/** Uniform integer in [-2^bits, 2^bits] (the paper's ±2^ℓ intervals). */
export function randomSymmetric(bits: number, rng: ByteSource): bigint {
  const b = 1n << BigInt(bits);
  return randomBelow(2n * b + 1n, rng) - b;
}

/** Uniform element of Z_n^*: 0 < r < n with gcd(r, n) = 1. */
export function randomUnit(n: bigint, rng: ByteSource): bigint {
  for (;;) {
    const r = randomBelow(n, rng);
    if (r !== 0n && gcd(r, n) === 1n) return r;
  }
}
