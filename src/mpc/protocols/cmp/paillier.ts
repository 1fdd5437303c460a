/**
 * Paillier encryption over N = pq (p, q safe primes, so N is a Paillier-Blum modulus): encryption
 * with injected randomness ρ, decryption (CRT over p², q², secret exponents blinded by the known
 * group order, see bigint/blinded.ts),
 * and the homomorphic operations the protocol needs (⊕ add, ⊙ scalar multiplication).
 * Plaintexts are signed integers taken modulo N; `decryptSigned` returns the centred representative
 * in (-N/2, N/2].
 *
 * @example
 *   const sk = paillierFromPrimes(p, q);
 *   const c = sk.pk.encrypt(42n, sk.pk.randomNonce(rng));
 *   sk.decryptSigned(sk.pk.add(c, sk.pk.mul(c, -2n))); // -42n
 */
import { CustosError } from '../../../core/errors.js';
import {
  allCoprime,
  bitLength,
  gcd,
  mod,
  modInverse,
  modPow,
  modPowBlinded,
  randomUnit,
  type ByteSource,
} from '../../bigint/index.js';
import { PRIME_BITS } from './params.js';

export class PaillierPublicKey {
  readonly n: bigint;
  readonly n2: bigint;

  constructor(n: bigint) {
    if (n <= 3n || (n & 1n) === 0n) throw new CustosError('paillier_bad_modulus', 'Paillier modulus must be odd and greater than 3');
    this.n = n;
    this.n2 = n * n;
  }

  /** Enc(m; ρ) = (1 + N)^m · ρ^N mod N². */
  encrypt(m: bigint, rho: bigint): bigint {
    const gm = (1n + mod(m, this.n) * this.n) % this.n2;
    return (gm * modPow(rho, this.n, this.n2)) % this.n2;
  }

  randomNonce(rng: ByteSource): bigint {
    return randomUnit(this.n, rng);
  }

  add(c1: bigint, c2: bigint): bigint {
    return (c1 * c2) % this.n2;
  }

  /** k ⊙ c = c^k mod N² (public k). */
  mul(c: bigint, k: bigint): bigint {
    return modPow(c, k, this.n2);
  }

  /** A well-formed ciphertext is a unit of Z_{N²}. */
  isCiphertext(c: bigint): boolean {
    return c > 0n && c < this.n2 && gcd(c, this.n) === 1n;
  }

  /** Every c is a well-formed ciphertext and every u a unit of Z_N (one gcd for all). */
  areCiphertexts(cs: readonly bigint[], units: readonly bigint[] = []): boolean {
    return cs.every((c) => c > 0n && c < this.n2) && units.every((u) => u > 0n && u < this.n) && allCoprime([...cs, ...units], this.n);
  }

  /** A well-formed nonce / element of Z_N^*. */
  isUnit(x: bigint): boolean {
    return x > 0n && x < this.n && gcd(x, this.n) === 1n;
  }
}

export class PaillierSecretKey {
  readonly pk: PaillierPublicKey;
  readonly p: bigint;
  readonly q: bigint;
  /** φ(N) = (p-1)(q-1). */
  readonly phi: bigint;
  private readonly p2: bigint;
  private readonly q2: bigint;
  private readonly hp: bigint;
  private readonly hq: bigint;
  private readonly pInvQ: bigint;
  private readonly p2InvQ2: bigint;

  constructor(p: bigint, q: bigint) {
    if (p === q) throw new CustosError('paillier_bad_primes', 'Paillier primes must differ');
    this.p = p;
    this.q = q;
    this.pk = new PaillierPublicKey(p * q);
    this.phi = (p - 1n) * (q - 1n);
    this.p2 = p * p;
    this.q2 = q * q;
    const g = 1n + this.pk.n;
    this.hp = modInverse(lfun(modPow(g, p - 1n, this.p2), p), p);
    this.hq = modInverse(lfun(modPow(g, q - 1n, this.q2), q), q);
    this.pInvQ = modInverse(p, q);
    this.p2InvQ2 = modInverse(this.p2, this.q2);
  }

  /** Plaintext in [0, N). Throws on a malformed ciphertext. */
  decrypt(c: bigint): bigint {
    if (!this.pk.isCiphertext(c)) throw new CustosError('paillier_bad_ciphertext', 'ciphertext is not a unit modulo N²');
    const mp = (lfun(modPowBlinded(c % this.p2, this.p - 1n, this.p2, this.p * (this.p - 1n)), this.p) * this.hp) % this.p;
    const mq = (lfun(modPowBlinded(c % this.q2, this.q - 1n, this.q2, this.q * (this.q - 1n)), this.q) * this.hq) % this.q;
    return crt(mp, mq, this.p, this.q, this.pInvQ);
  }

  /** Plaintext as the centred representative in (-N/2, N/2]. */
  decryptSigned(c: bigint): bigint {
    const m = this.decrypt(c);
    return m > this.pk.n / 2n ? m - this.pk.n : m;
  }

  /**
   * The nonce of a ciphertext: the unique ρ ∈ Z*_N with C ≡ (1+N)^m ρ^N (mod N²) for m = dec(C),
   * i.e. the N-th root of C modulo N (gcd(N, φ(N)) = 1), by CRT with blinded secret exponents.
   */
  nonceOf(c: bigint): bigint {
    if (!this.pk.isCiphertext(c)) throw new CustosError('paillier_bad_ciphertext', 'ciphertext is not a unit modulo N²');
    return this.powSecretModN(c % this.pk.n, modInverse(this.pk.n, this.phi));
  }

  /** x^e mod N for a secret exponent and a unit x, by CRT over p and q with exponent blinding. */
  powSecretModN(x: bigint, e: bigint): bigint {
    const xp = modPowBlinded(x % this.p, mod(e, this.p - 1n), this.p, this.p - 1n);
    const xq = modPowBlinded(x % this.q, mod(e, this.q - 1n), this.q, this.q - 1n);
    return crt(xp, xq, this.p, this.q, this.pInvQ);
  }

  /**
   * Evaluates a check of a congruence modulo N as the same check modulo p and modulo q: `check`
   * gets a power function for PUBLIC exponents of any sign (base a unit; exponent reduced modulo
   * r - 1 and blinded, since r is secret) and the prime r, and must compare both sides modulo r.
   */
  checkModPrimes(check: (pow: (x: bigint, e: bigint) => bigint, r: bigint) => boolean): boolean {
    for (const r of [this.p, this.q]) {
      const bits = bitLength(r);
      // A public exponent shorter than r goes to OpenSSL as is (like encryptOwn's exponent N under
      // p²); a longer or negative one is reduced modulo the secret r - 1, hence blinded.
      const pow = (x: bigint, e: bigint) => (e >= 0n && bitLength(e) < bits ? modPow(x % r, e, r) : modPowBlinded(x % r, mod(e, r - 1n), r, r - 1n));
      if (!check(pow, r)) return false;
    }
    return true;
  }

  /** x^e mod N² for a PUBLIC exponent (any sign), by CRT over p² and q² (faster than modulo N²). */
  powModN2(x: bigint, e: bigint): bigint {
    const ap = modPow(x % this.p2, e, this.p2);
    const aq = modPow(x % this.q2, e, this.q2);
    return ap + this.p2 * mod((aq - ap) * this.p2InvQ2, this.q2);
  }

  /** Enc(m; ρ) under this (own) key, by CRT over p² and q² (same result as pk.encrypt, faster). */
  encryptOwn(m: bigint, rho: bigint): bigint {
    const n = this.pk.n;
    const gm = (1n + mod(m, n) * n) % this.pk.n2;
    const rp = modPow(rho % this.p2, n, this.p2);
    const rq = modPow(rho % this.q2, n, this.q2);
    const rn = rp + this.p2 * mod((rq - rp) * this.p2InvQ2, this.q2);
    return (gm * rn) % this.pk.n2;
  }
}

function lfun(x: bigint, p: bigint): bigint {
  return (x - 1n) / p;
}

function crt(ap: bigint, aq: bigint, p: bigint, q: bigint, pInvQ: bigint): bigint {
  // x ≡ ap (mod p), x ≡ aq (mod q)
  return ap + p * mod((aq - ap) * pInvQ, q);
}

/**
 * Paillier key from two primes of PRIME_BITS bits each, both ≡ 3 mod 4 (safe primes are).
 * Primality is the caller's duty (generateSafePrime / isSafePrime); this checks shape only.
 */
export function paillierFromPrimes(p: bigint, q: bigint): PaillierSecretKey {
  if (bitLength(p) !== PRIME_BITS || bitLength(q) !== PRIME_BITS) {
    throw new CustosError('paillier_bad_primes', `Paillier primes must have ${PRIME_BITS} bits`);
  }
  if ((p & 3n) !== 3n || (q & 3n) !== 3n) throw new CustosError('paillier_bad_primes', 'Paillier primes must be 3 mod 4');
  return new PaillierSecretKey(p, q);
}
