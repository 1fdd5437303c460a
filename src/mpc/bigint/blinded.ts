/**
 * Exponentiation with a SECRET exponent when the prover knows the group order (its own primes:
 * modulo p, p², q, q²): exponent blinding, the standard RSA side-channel countermeasure. Each call
 * uses e + r·order with a fresh 62-bit r, so the exponent OpenSSL processes differs on every call
 * and repeated traces do not accumulate on the secret; the result is unchanged because
 * base^order = 1 for units. It runs on OpenSSL's variable-time RSA route, which (unlike the DH route)
 * does not test the modulus for primality — these moduli (p, q) are prime.
 *
 * @example
 *   modPowBlinded(y, d, p, p - 1n); // = y^d mod p for y coprime to p
 */
import { randomBytes } from 'node:crypto';
import { CustosError } from '../../core/errors.js';
import { fromBytes, mod } from './arith.js';
import { modPowRsa } from './modpow.js';

/** base^e mod m where `order` is a multiple of the order of base in Z_m^* (e.g. φ(m)); base must be a unit. */
export function modPowBlinded(base: bigint, e: bigint, m: bigint, order: bigint): bigint {
  if (e < 0n) throw new CustosError('bigint_negative_exponent', 'secret exponent must be non-negative');
  // 62-bit blinding factor (the randomness does not affect the output): with e < order < m the
  // exponent stays within 63 bits of the modulus length, OpenSSL's RSA route's one-call case.
  const r = (fromBytes(randomBytes(8)) >> 2n) | 1n;
  return modPowRsa(mod(base, m), e + r * order, m);
}
