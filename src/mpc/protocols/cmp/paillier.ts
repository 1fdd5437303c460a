/**
 * Paillier encryption over N = pq (p, q safe primes, so N is a Paillier-Blum modulus): encryption
 * with injected randomness ρ, decryption (CRT over p², q²), and the homomorphic operations the
 * protocol needs (⊕ add, ⊙ scalar multiplication). Every exponentiation modulo the secret p, q, p²,
 * q² runs on OpenSSL's constant-time path (bigint modPowSecret), whose one-time per-modulus set-up
 * `prepare()` does when a key share is loaded.
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
  modPowSecret,
  randomBelow,
  randomUnit,
  warmModulus,
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

  /** One-time OpenSSL set-up of N (also the ring-Pedersen modulus N̂) and N² (see bigint warmModulus). */
  prepare(): void {
    warmModulus(this.n);
    warmModulus(this.n2);
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
  /** q mod (p-1) and p mod (q-1): N mod (p-1) and N mod (q-1), see nthPower. */
  private readonly dP: bigint;
  private readonly dQ: bigint;
  private readonly bits: number;

  constructor(p: bigint, q: bigint) {
    if (p === q) throw new CustosError('paillier_bad_primes', 'Paillier primes must differ');
    this.p = p;
    this.q = q;
    this.pk = new PaillierPublicKey(p * q);
    this.phi = (p - 1n) * (q - 1n);
    this.p2 = p * p;
    this.q2 = q * q;
    // (1+N)^(p-1) = 1 + (p-1)N mod N², so L_p((1+N)^(p-1) mod p²) = (p-1)q mod p = -q mod p
    this.hp = modInverse(mod(-q, p), p);
    this.hq = modInverse(mod(-p, q), q);
    this.pInvQ = modInverse(p, q);
    this.p2InvQ2 = modInverse(this.p2, this.q2);
    this.dP = q % (p - 1n);
    this.dQ = p % (q - 1n);
    this.bits = Math.max(bitLength(p), bitLength(q));
  }

  /**
   * A uniform element of Z*_N, its unit test done with the primes (r mod p, r mod q) rather than
   * a gcd with N (same distribution as pk.randomNonce, cheaper).
   */
  randomNonce(rng: ByteSource): bigint {
    for (;;) {
      const r = randomBelow(this.pk.n, rng);
      if (r % this.p !== 0n && r % this.q !== 0n) return r;
    }
  }

  /** The secret moduli this key computes modulo (p, q, p², q²). */
  secretModuli(): bigint[] {
    return [this.p, this.q, this.p2, this.q2];
  }

  /**
   * One-time OpenSSL set-up of p, q, p², q², N and N² (about 80 ms, mostly the primality test
   * OpenSSL runs on a prime modulus), so that no protocol run pays it. Loading a key share does it.
   */
  prepare(): void {
    for (const m of this.secretModuli()) warmModulus(m);
    this.pk.prepare();
  }

  /** Plaintext in [0, N). Throws on a malformed ciphertext. */
  decrypt(c: bigint): bigint {
    if (!this.pk.isCiphertext(c)) throw new CustosError('paillier_bad_ciphertext', 'ciphertext is not a unit modulo N²');
    // secret exponent p - 1 modulo the secret p² on the constant-time path
    const mp = (lfun(modPowSecret(c % this.p2, this.p - 1n, this.p2, this.bits), this.p) * this.hp) % this.p;
    const mq = (lfun(modPowSecret(c % this.q2, this.q - 1n, this.q2, this.bits), this.q) * this.hq) % this.q;
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

  /** x^e mod N for a secret exponent and a unit x, by CRT over p and q (exponents reduced modulo p-1, q-1). */
  powSecretModN(x: bigint, e: bigint): bigint {
    const xp = modPowSecret(x % this.p, mod(e, this.p - 1n), this.p, this.bits);
    const xq = modPowSecret(x % this.q, mod(e, this.q - 1n), this.q, this.bits);
    return crt(xp, xq, this.p, this.q, this.pInvQ);
  }

  /**
   * x^e modulo the prime r ∈ {p, q} for a PUBLIC exponent of any sign and a unit x: an exponent in
   * [0, 2^(bits-1)) goes to OpenSSL as is, any other is first reduced modulo the secret r - 1
   * (Fermat), so the exponent that reaches OpenSSL's constant-time path is then secret-derived.
   */
  private powPrime(x: bigint, e: bigint, r: bigint): bigint {
    const k = e >= 0n && bitLength(e) < this.bits ? e : mod(e, r - 1n);
    return modPowSecret(x % r, k, r, this.bits);
  }

  /** x^e mod N for a PUBLIC exponent of any sign and a unit x (which may be secret, e.g. a nonce), by CRT. */
  powModN(x: bigint, e: bigint): bigint {
    return crt(this.powPrime(x, e, this.p), this.powPrime(x, e, this.q), this.p, this.q, this.pInvQ);
  }

  /**
   * Evaluates a check of a congruence modulo N as the same check modulo p and modulo q: `check`
   * gets a power function for PUBLIC exponents of any sign (base a unit; see powPrime) and the
   * prime r, and must compare both sides modulo r.
   */
  checkModPrimes(check: (pow: (x: bigint, e: bigint) => bigint, r: bigint) => boolean): boolean {
    for (const r of [this.p, this.q]) {
      if (!check((x, e) => this.powPrime(x, e, r), r)) return false;
    }
    return true;
  }

  /** x^e mod N² for a PUBLIC exponent (any sign), by CRT over p² and q² (faster than modulo N²). */
  powModN2(x: bigint, e: bigint): bigint {
    const ap = modPow(x % this.p2, e, this.p2);
    const aq = modPow(x % this.q2, e, this.q2);
    return ap + this.p2 * mod((aq - ap) * this.p2InvQ2, this.q2);
  }

  /**
   * ρ^N mod N² by CRT over p² and q². Modulo p², Z*_{p²} is the product of the (p-1)-th roots of
   * unity and the subgroup 1 + pZ of order p; the exponent N = pq kills the latter, so ρ^N is the
   * (p-1)-th root of unity ω(ρ)^N = ω(ρ)^(N mod (p-1)) = ω(ρ^(q mod (p-1))), where ω(y) = y^p mod p²
   * (the Teichmüller lift, which depends on y mod p only). That is one exponentiation modulo p and
   * one with a 1024-bit exponent modulo p², instead of a 2048-bit exponent modulo p²; both exponents
   * are secret, on the constant-time path. `nthPowerPlain` is the direct formula (tests compare).
   */
  nthPower(rho: bigint): bigint {
    const rp = modPowSecret(modPowSecret(rho % this.p, this.dP, this.p, this.bits), this.p, this.p2, this.bits);
    const rq = modPowSecret(modPowSecret(rho % this.q, this.dQ, this.q, this.bits), this.q, this.q2, this.bits);
    return rp + this.p2 * mod((rq - rp) * this.p2InvQ2, this.q2);
  }

  /** ρ^N mod N² by CRT with the exponent N itself (the reference for nthPower). */
  nthPowerPlain(rho: bigint): bigint {
    const n = this.pk.n;
    const rp = modPow(rho % this.p2, n, this.p2);
    const rq = modPow(rho % this.q2, n, this.q2);
    return rp + this.p2 * mod((rq - rp) * this.p2InvQ2, this.q2);
  }

  /** Enc(m; ρ) under this (own) key, by CRT (same result as pk.encrypt, faster). */
  encryptOwn(m: bigint, rho: bigint): bigint {
    const n = this.pk.n;
    const gm = (1n + mod(m, n) * n) % this.pk.n2;
    return (gm * this.nthPower(rho)) % this.pk.n2;
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
