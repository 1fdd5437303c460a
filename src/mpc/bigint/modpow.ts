/**
 * Modular exponentiation, the hot spot of CGGMP21. Paths behind one small API:
 *
 * - DH route: node's OpenSSL through a Diffie–Hellman object whose "prime" is our modulus (one
 *   cached object per modulus): `computeSecret(base)` with the exponent as private key computes
 *   base^priv mod p, and OpenSSL computes it for a composite p too (node only records a verify
 *   error). Any odd modulus of at least 512 bits and any exponent length. OpenSSL runs it with the
 *   private key flagged BN_FLG_CONSTTIME, i.e. BN_mod_exp_mont_consttime (fixed-window Montgomery,
 *   cache-safe table access): the path for secret exponents, and the fast path for 4096-bit moduli
 *   (N²). Building the object costs about one modexp (node checks the modulus), hence the cache.
 * - RSA route (`modPowRsa`): an RSA public-key operation without padding. OpenSSL limits the exponent
 *   to 64 bits above 3072-bit moduli, so there long exponents go in 63-bit chunks (about 3× slower
 *   than the DH route); up to 3072 bits it is as fast as the DH route. Variable time.
 * - `modPow` / `modPowNative` (public exponents, the default): RSA route up to 3072-bit moduli, DH
 *   route above. Even or small moduli, bases 0 and 1, and negative exponents (the base is inverted
 *   first) are handled outside OpenSSL.
 * - `modPowBigInt`: pure-BigInt sliding-window exponentiation, the portable reference; tests check
 *   the native paths against it.
 * - `modPowSecret` / `modPowSecretSigned` (secret exponents with a declared bit bound): the DH
 *   route above (constant-time in OpenSSL's sense, see modPowSecret); the signed variant shifts the
 *   exponent by 2^bound so the sign is never branched on. Where OpenSSL cannot serve (small or even
 *   modulus, base 0 or 1) they fall back to `modPowLadder`.
 * - `modPowLadder`: Montgomery ladder over BigInt with a fixed number of iterations and a branch-free
 *   conditional swap. Limits: JavaScript BigInt multiplication and remainder take time that depends
 *   on the operands' magnitudes and V8 gives no constant-time guarantee, so this removes the
 *   exponent-dependent branch and iteration count but is not constant time in the strict sense.
 *
 * @example
 *   modPow(4n, 13n, 497n);                 // 445n
 *   modPowSecret(4n, 13n, 497n, 256);      // 445n, the same work for every exponent below 2^256
 */
import { constants, createDiffieHellman, createPublicKey, publicEncrypt, type DiffieHellman, type KeyObject } from 'node:crypto';
import { CustosError } from '../../core/errors.js';
import { bitLength, fromBytes, mod, modInverse, toBytes } from './arith.js';

const SMALL_MODULUS_BITS = 3072; // OpenSSL's OPENSSL_RSA_SMALL_MODULUS_BITS

function b64u(x: bigint): string {
  return Buffer.from(toBytes(x)).toString('base64url');
}

function checkModulus(m: bigint): void {
  if (m <= 0n) throw new CustosError('bigint_bad_modulus', 'modulus must be positive');
}

function normalise(base: bigint, exp: bigint, m: bigint): [bigint, bigint] {
  checkModulus(m);
  let b = mod(base, m);
  if (exp < 0n) {
    b = modInverse(b, m);
    exp = -exp;
  }
  return [b, exp];
}

/** One OpenSSL RSA public operation: x^e mod n, requires odd n > x and e > 0 (≤ 64 bits if n > 3072 bits). */
function rsaRaw(x: bigint, e: bigint, n: bigint, nBytes: number): bigint {
  const key: KeyObject = createPublicKey({ key: { kty: 'RSA', n: b64u(n), e: b64u(e) }, format: 'jwk' });
  const out = publicEncrypt({ key, padding: constants.RSA_NO_PADDING }, toBytes(x, nBytes));
  return fromBytes(out);
}

/** x^e mod n through OpenSSL's RSA public operation (chunked for long exponents). Falls back to BigInt where OpenSSL cannot (even or tiny n). */
export function modPowRsa(base: bigint, exp: bigint, m: bigint): bigint {
  const [b, e] = normalise(base, exp, m);
  if (m === 1n) return 0n;
  if (e === 0n) return 1n;
  if ((m & 1n) === 0n || m < 1n << 512n) return modPowBigInt(b, e, m);
  if (b === 0n) return 0n;
  if (e === 1n) return b;
  const nBits = bitLength(m);
  const nBytes = Math.ceil(nBits / 8);
  // OpenSSL wants e < n, and e ≤ 64 bits once n exceeds 3072 bits.
  const chunkBits = nBits <= SMALL_MODULUS_BITS ? nBits - 1 : 63;
  const eBits = bitLength(e);
  if (eBits <= chunkBits) return rsaRaw(b, e, m, nBytes);
  const over = eBits - chunkBits;
  if (nBits <= SMALL_MODULUS_BITS && over <= 64) {
    // Slightly too long (e.g. e = N modulo N): b^e = (b^(2^over))^(e >> over) · b^(e mod 2^over).
    let b2 = b;
    for (let i = 0; i < over; i++) b2 = (b2 * b2) % m;
    const high = e >> BigInt(over);
    const low = e & ((1n << BigInt(over)) - 1n);
    const rh = b2 === 0n ? 0n : rsaRaw(b2, high, m, nBytes);
    return low === 0n ? rh : (rh * modPowBigInt(b, low, m)) % m;
  }
  // Long exponent: Horner over chunkBits-bit chunks, most significant first.
  const width = BigInt(chunkBits);
  const chunks: bigint[] = [];
  for (let x = e; x > 0n; x >>= width) chunks.push(x & ((1n << width) - 1n));
  const shiftE = 1n << width;
  let r = 1n;
  for (let i = chunks.length - 1; i >= 0; i--) {
    if (r !== 1n) r = rsaRaw(r, shiftE, m, nBytes);
    const c = chunks[i] as bigint;
    if (c !== 0n) r = (r * (c === 1n ? b : rsaRaw(b, c, m, nBytes))) % m;
  }
  return r;
}

/** Pure-BigInt left-to-right sliding-window exponentiation (window 5). Variable time. */
export function modPowBigInt(base: bigint, exp: bigint, m: bigint): bigint {
  const [b, e] = normalise(base, exp, m);
  if (m === 1n) return 0n;
  if (e === 0n) return 1n;
  const W = 5;
  const b2 = (b * b) % m;
  const table: bigint[] = [b]; // odd powers b^1, b^3, ..., b^(2^W - 1)
  for (let i = 1; i < 1 << (W - 1); i++) table.push(((table[i - 1] as bigint) * b2) % m);
  const bits = e.toString(2);
  let r = 1n;
  let i = 0;
  while (i < bits.length) {
    if (bits[i] === '0') {
      r = (r * r) % m;
      i++;
      continue;
    }
    let j = Math.min(i + W, bits.length);
    while (bits[j - 1] === '0') j--;
    const val = parseInt(bits.slice(i, j), 2);
    for (let k = i; k < j; k++) r = (r * r) % m;
    r = (r * (table[(val - 1) >> 1] as bigint)) % m;
    i = j;
  }
  return r;
}

const DH_MIN_BITS = 512;

// One DH object per modulus, reused: node's DiffieHellman constructor runs OpenSSL's DH_check on
// the modulus (a Miller–Rabin round, i.e. about one full modexp, for N² or N̂), which used to cost
// more than the exponentiation itself. The base goes in as the peer "public key" of computeSecret,
// which OpenSSL also computes with the private key flagged BN_FLG_CONSTTIME (fixed-window
// Montgomery; measured here: 2^2040 and 2^2041 - 1 take the same CPU time modulo a 2048-bit N,
// where the variable-time RSA route is 20 % faster for the sparse one).
// Public moduli (N, N², N̂ of any party) and a party's own secret moduli (p, q, p², q²: see
// paillier.ts, where secret exponents meet them) go through this route. For a prime modulus the
// check is a full primality test of m and (m-1)/2 (about 40 ms for 1024 bits), which is why
// `warmModulus` lets a key share pay the set-up once, when it is loaded.
const DH_CACHE = new Map<bigint, DiffieHellman>();
const DH_CACHE_MAX = 128;

function dhFor(m: bigint): DiffieHellman {
  let dh = DH_CACHE.get(m);
  if (dh) {
    DH_CACHE.delete(m); // LRU: re-inserted below as the most recent
  } else {
    dh = createDiffieHellman(bufferOf(m), Buffer.from([2]));
    if (DH_CACHE.size >= DH_CACHE_MAX) DH_CACHE.delete(DH_CACHE.keys().next().value as bigint);
  }
  DH_CACHE.set(m, dh);
  return dh;
}

/** Big-endian bytes of a non-negative integer straight into a Buffer (one hex pass, no extra copy). */
function bufferOf(x: bigint): Buffer {
  const hex = x.toString(16);
  return Buffer.from(hex.length & 1 ? '0' + hex : hex, 'hex');
}

function dhOnce(dh: DiffieHellman, b: bigint, e: bigint): bigint {
  dh.setPrivateKey(bufferOf(e));
  return fromBytes(dh.computeSecret(bufferOf(b)));
}

/** b^e mod m on OpenSSL's constant-time exponentiation; needs 2 ≤ b ≤ m - 2, e ≥ 1, odd m ≥ 2^511. */
function dhRaw(b: bigint, e: bigint, m: bigint): bigint {
  // computeSecret refuses the "public keys" 0, 1 and m - 1 (callers handle 0 and 1): (-1)^e.
  if (b === m - 1n) return (e & 1n) === 1n ? b : 1n;
  const dh = dhFor(m);
  try {
    return dhOnce(dh, b, e);
  } catch (err) {
    // OpenSSL also refuses a RESULT of 1 or m - 1 (SP 800-56A: a shared secret must not be ±1),
    // which is a legitimate value here (a decryption of 0, an element of order 2 from a peer). Then
    // b^(e-1) is not ±1 (else b = ±1, excluded above), so b^(e-1)·b succeeds on the same path; the
    // extra exponentiation reveals only that the result is ±1.
    if (e === 1n) throw err;
    return (dhOnce(dh, b, e - 1n) * b) % m;
  }
}

function dhUsable(m: bigint): boolean {
  return (m & 1n) === 1n && m >= 1n << BigInt(DH_MIN_BITS - 1);
}

/**
 * Builds (or keeps) the cached OpenSSL object of modulus m now, so that the first exponentiation
 * modulo m does not pay for it: the one-time per-modulus set-up that loading a key share does
 * (about one modexp for a composite modulus, a primality test of m and (m-1)/2 for a prime one).
 * Moduli the DH route does not serve (even, below 512 bits) are ignored.
 */
export function warmModulus(m: bigint): void {
  if (dhUsable(m)) dhFor(m);
}

/** Whether modulus m has its OpenSSL object cached (for tests and the benchmark's accounting). */
export function isModulusWarm(m: bigint): boolean {
  return DH_CACHE.has(m);
}

/**
 * Drops the cached OpenSSL object of each given modulus (the primes of a Paillier key that a
 * refresh replaced; a benchmark that measures the set-up again).
 */
export function forgetModuli(ms: readonly bigint[]): void {
  for (const m of ms) DH_CACHE.delete(m);
}

/**
 * x^e mod m through OpenSSL for a PUBLIC exponent: the RSA route up to 3072-bit moduli (no length
 * limit there with the overflow handling; and node's DH constructor runs a primality check on the
 * modulus, which is costly when the modulus happens to be prime), the DH route above that.
 */
export function modPowNative(base: bigint, exp: bigint, m: bigint): bigint {
  const [b, e] = normalise(base, exp, m);
  if (m === 1n) return 0n;
  if (e === 0n) return 1n;
  if (b === 0n || b === 1n) return b;
  if (bitLength(m) <= SMALL_MODULUS_BITS || !dhUsable(m)) return modPowRsa(b, e, m);
  return dhRaw(b, e, m);
}

/**
 * base^exp mod m for a SECRET exponent 0 ≤ exp < 2^bound on OpenSSL's constant-time Montgomery
 * exponentiation (DH route); the BigInt ladder where OpenSSL cannot serve (small or even modulus,
 * base 0 or 1). OpenSSL's constant-time routine processes the exponent's length in 64-bit words, so
 * what can leak is how many leading 64-bit words of the exponent are zero: for the uniformly random
 * secrets of this protocol that is an event of probability about 2^-64. Negative exponents are refused.
 */
export function modPowSecret(base: bigint, exp: bigint, m: bigint, bound: number): bigint {
  checkModulus(m);
  if (exp < 0n) throw new CustosError('bigint_negative_exponent', 'secret exponent must be non-negative');
  if (bitLength(exp) > bound) throw new CustosError('bigint_exponent_too_long', 'secret exponent exceeds its declared bound');
  const b = mod(base, m);
  if (!dhUsable(m) || b <= 1n) return modPowLadder(b, exp, m, bound);
  if (exp === 0n) return 1n;
  return dhRaw(b, exp, m);
}

/**
 * base^exp mod m for a SECRET exponent 0 ≤ exp < 2^bound: Montgomery ladder with exactly `bound`
 * steps and a mask-based swap (see the module note for what this does and does not guarantee).
 * Negative exponents are refused (invert the base, which is public, before calling).
 */
export function modPowLadder(base: bigint, exp: bigint, m: bigint, bound: number): bigint {
  checkModulus(m);
  if (exp < 0n) throw new CustosError('bigint_negative_exponent', 'secret exponent must be non-negative');
  if (bitLength(exp) > bound) throw new CustosError('bigint_exponent_too_long', 'secret exponent exceeds its declared bound');
  const b = mod(base, m);
  let r0 = 1n % m;
  let r1 = b;
  const width = BigInt(bitLength(m) + 1);
  const full = (1n << width) - 1n;
  for (let i = bound - 1; i >= 0; i--) {
    const bit = (exp >> BigInt(i)) & 1n;
    const mask = full * bit; // all ones when bit = 1, zero otherwise; no branch on the secret
    let t = mask & (r0 ^ r1);
    r0 ^= t;
    r1 ^= t;
    r1 = (r0 * r1) % m;
    r0 = (r0 * r0) % m;
    t = mask & (r0 ^ r1);
    r0 ^= t;
    r1 ^= t;
  }
  return r0;
}

// Public corrections base^(-2^bound) mod m of modPowSecretSigned, by (m, base, bound): the same
// public base (a peer's ring-Pedersen s or t, a ciphertext K_j used by two Π^aff-g) recurs, and
// each correction costs a modular inverse and an exponentiation. Bounded, least recently used out.
const CORRECTIONS = new Map<string, bigint>();
const CORRECTIONS_MAX = 256;

function correction(base: bigint, m: bigint, bound: number): bigint {
  const key = `${m.toString(36)}:${base.toString(36)}:${bound}`;
  let c = CORRECTIONS.get(key);
  if (c !== undefined) {
    CORRECTIONS.delete(key);
  } else {
    c = modPowNative(base, -(1n << BigInt(bound)), m);
    if (CORRECTIONS.size >= CORRECTIONS_MAX) CORRECTIONS.delete(CORRECTIONS.keys().next().value as string);
  }
  CORRECTIONS.set(key, c);
  return c;
}

/**
 * base^exp mod m for a SECRET signed exponent |exp| ≤ 2^bound (the paper's ±2^ℓ intervals) without
 * branching on its sign: modPowSecret on exp + 2^bound (bound + 2 bits), then multiply by the public
 * correction base^(-2^bound) (cached: base and modulus must be PUBLIC values, only the exponent is
 * secret). The base must be invertible modulo m.
 */
export function modPowSecretSigned(base: bigint, exp: bigint, m: bigint, bound: number): bigint {
  const shift = 1n << BigInt(bound);
  if (exp > shift || exp < -shift) throw new CustosError('bigint_exponent_too_long', 'secret exponent exceeds its declared bound');
  const r = modPowSecret(base, exp + shift, m, bound + 2);
  return (r * correction(mod(base, m), m, bound)) % m;
}

/** The default path for public exponents. */
export const modPow = modPowNative;
