/**
 * Prime generation and tests through node's OpenSSL: safe primes p = 2p' + 1 (for Paillier-Blum
 * moduli, p ≡ 3 mod 4 follows) and a probabilistic primality test for checks on received values.
 *
 * @example
 *   const p = await generateSafePrime(1024); // p and (p-1)/2 prime
 */
import { checkPrimeSync, generatePrime } from 'node:crypto';
import { CustosError } from '../../core/errors.js';

/** A random safe prime of exactly `bits` bits (OpenSSL; asynchronous, runs on the libuv pool). */
export function generateSafePrime(bits: number): Promise<bigint> {
  if (!Number.isInteger(bits) || bits < 16) throw new CustosError('bigint_bad_bits', 'safe prime size must be at least 16 bits');
  return new Promise((resolve, reject) => {
    generatePrime(bits, { safe: true, bigint: true }, (err, p) => (err ? reject(err) : resolve(p)));
  });
}

/** Miller–Rabin through OpenSSL (error probability below 2^-128 with OpenSSL's default rounds). */
export function isProbablePrime(x: bigint): boolean {
  if (x < 2n) return false;
  return checkPrimeSync(x);
}

/** True when p and (p - 1) / 2 are both prime. */
export function isSafePrime(p: bigint): boolean {
  return p > 5n && (p & 3n) === 3n && isProbablePrime(p) && isProbablePrime((p - 1n) / 2n);
}
