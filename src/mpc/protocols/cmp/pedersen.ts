/**
 * Ring-Pedersen parameters (N̂, s, t) with t = r² and s = t^λ mod N̂ for a secret λ ∈ Z_φ(N̂)
 * (paper, section 1.2 / Figure "aux info"), and the commitment s^x · t^y mod N̂ used by every range
 * proof. Commitments to secrets run on OpenSSL's constant-time exponentiation (modPowSecretSigned);
 * verification equations use public exponents, modulo the verifier's own primes when it holds them.
 *
 * @example
 *   const { params, lambda } = ringPedersenGenerate(sk, rng);
 *   const c = params.commitSecret(x, ELL, mu, ELL + MODULUS_BITS);
 */
import { CustosError } from '../../../core/errors.js';
import {
  allCoprime,
  bitLength,
  gcd,
  modPow,
  modPowSecretSigned,
  randomBelow,
  randomUnit,
  type ByteSource,
} from '../../bigint/index.js';
import type { PaillierSecretKey } from './paillier.js';

export class RingPedersen {
  readonly n: bigint;
  readonly s: bigint;
  readonly t: bigint;

  constructor(n: bigint, s: bigint, t: bigint) {
    if (n <= 3n || (n & 1n) === 0n) throw new CustosError('pedersen_bad_modulus', 'ring-Pedersen modulus must be odd');
    for (const v of [s, t]) {
      if (v <= 1n || v >= n || gcd(v, n) !== 1n) throw new CustosError('pedersen_bad_params', 'ring-Pedersen s and t must be units other than 1');
    }
    if (s === t) throw new CustosError('pedersen_bad_params', 'ring-Pedersen s and t must differ');
    this.n = n;
    this.s = s;
    this.t = t;
  }

  /**
   * s^x t^y mod N̂ for secret x ∈ ±2^xBits, y ∈ ±2^yBits: OpenSSL's constant-time exponentiation on
   * the shifted exponents, times cached public corrections (see modPowSecretSigned).
   */
  commitSecret(x: bigint, xBits: number, y: bigint, yBits: number): bigint {
    return (modPowSecretSigned(this.s, x, this.n, xBits) * modPowSecretSigned(this.t, y, this.n, yBits)) % this.n;
  }

  /** t^y mod N̂ for secret y ∈ ±2^yBits. */
  powTSecret(y: bigint, yBits: number): bigint {
    return modPowSecretSigned(this.t, y, this.n, yBits);
  }

  /** s^x t^y mod N̂ for public exponents (verification side). */
  commitPublic(x: bigint, y: bigint): bigint {
    return (modPow(this.s, x, this.n) * modPow(this.t, y, this.n)) % this.n;
  }

  /**
   * Checks s^z1 t^z2 = A · B^e mod N̂ (the shape of every ring-Pedersen verification). A negative e
   * moves B^|e| to the left side instead of inverting B. `own`: the verifier's Paillier key when N̂
   * is its own modulus (as aux info generates it): the check then runs modulo p and modulo q
   * (PaillierSecretKey.checkModPrimes: same truth value, about 3× less work).
   */
  verify(z1: bigint, z2: bigint, a: bigint, b: bigint, e: bigint, own?: PaillierSecretKey): boolean {
    return this.areUnits([a, b]) && this.verifyEquation(z1, z2, a, b, e, own);
  }

  /**
   * The equation of `verify` alone, for a caller that has already checked a and b to be units of
   * Z_N̂ (the range proofs check all their commitments with one areUnits first).
   */
  verifyEquation(z1: bigint, z2: bigint, a: bigint, b: bigint, e: bigint, own?: PaillierSecretKey): boolean {
    if (own && own.pk.n === this.n) {
      return own.checkModPrimes((pow, r) => (pow(this.s, z1) * pow(this.t, z2)) % r === (a * pow(b, e)) % r);
    }
    if (e >= 0n) return this.commitPublic(z1, z2) === (a * modPow(b, e, this.n)) % this.n;
    return (this.commitPublic(z1, z2) * modPow(b, -e, this.n)) % this.n === a % this.n;
  }

  isUnit(x: bigint): boolean {
    return x > 0n && x < this.n && gcd(x, this.n) === 1n;
  }

  /** Every x is a unit of Z_N̂ (one gcd for all). */
  areUnits(xs: readonly bigint[]): boolean {
    return xs.every((x) => x > 0n && x < this.n) && allCoprime(xs, this.n);
  }

  bits(): number {
    return bitLength(this.n);
  }
}

/** Fresh ring-Pedersen parameters over the party's own Paillier modulus; λ stays secret. */
export function ringPedersenGenerate(sk: PaillierSecretKey, rng: ByteSource): { params: RingPedersen; lambda: bigint } {
  const n = sk.pk.n;
  for (;;) {
    const r = randomUnit(n, rng);
    const t = (r * r) % n;
    const lambda = randomBelow(sk.phi, rng);
    const s = sk.powSecretModN(t, lambda);
    if (t > 1n && s > 1n && s !== t) return { params: new RingPedersen(n, s, t), lambda };
  }
}
