import { describe, expect, it } from 'vitest';
import { forgetModuli, isModulusWarm, isSafePrime, modPow } from '../../bigint/index.js';
import { PaillierPublicKey, paillierFromPrimes } from './paillier.js';
import { ringPedersenGenerate, RingPedersen } from './pedersen.js';
import { fixturePaillier, SAFE_PRIMES, secureRng } from './testdata/fixtures.js';

describe('fixture safe primes', () => {
  it('are all 1024-bit safe primes, pairwise distinct', () => {
    expect(SAFE_PRIMES.length).toBe(32);
    for (const p of SAFE_PRIMES) expect(isSafePrime(p)).toBe(true);
    expect(new Set(SAFE_PRIMES).size).toBe(32);
  });
});

describe('Paillier', () => {
  const sk = fixturePaillier(0);
  const pk = sk.pk;

  it('encrypts and decrypts signed values, homomorphically', () => {
    for (const m of [0n, 1n, -1n, 42n, (1n << 1500n) + 7n, -(1n << 1500n)]) {
      const c = pk.encrypt(m, pk.randomNonce(secureRng));
      expect(sk.decryptSigned(c)).toBe(m);
    }
    const a = pk.encrypt(1000n, pk.randomNonce(secureRng));
    const b = pk.encrypt(-58n, pk.randomNonce(secureRng));
    expect(sk.decryptSigned(pk.add(a, pk.mul(b, 3n)))).toBe(1000n - 174n);
    expect(sk.decryptSigned(pk.mul(a, -2n))).toBe(-2000n);
  });

  it('same randomness gives the same ciphertext; different randomness does not', () => {
    const r = pk.randomNonce(secureRng);
    expect(pk.encrypt(5n, r)).toBe(pk.encrypt(5n, r));
    expect(pk.encrypt(5n, r)).not.toBe(pk.encrypt(5n, pk.randomNonce(secureRng)));
  });

  it('rejects malformed ciphertexts and keys', () => {
    expect(() => sk.decrypt(0n)).toThrow(/unit/);
    expect(() => sk.decrypt(pk.n2)).toThrow(/unit/);
    expect(() => sk.decrypt(pk.n)).toThrow(/unit/);
    expect(() => new PaillierPublicKey(10n)).toThrow();
    const p = SAFE_PRIMES[0] as bigint;
    expect(() => paillierFromPrimes(p, p)).toThrow(/differ/);
    expect(() => paillierFromPrimes(p, 1000003n)).toThrow(/bits/);
  });

  it('encryptOwn (CRT) equals encrypt', () => {
    for (const m of [0n, 5n, -77n]) {
      const r = pk.randomNonce(secureRng);
      expect(sk.encryptOwn(m, r)).toBe(pk.encrypt(m, r));
    }
  });

  it('nthPower (Teichmüller lift per prime) equals ρ^N mod N² computed directly, edge nonces included', () => {
    const p = sk.p;
    const q = sk.q;
    const n = pk.n;
    // ρ ≡ 1 mod p (and random mod q), ρ ≡ -1 mod q, ρ = 1, N - 1, 2, and random units
    const oneModP = 1n + p * ((pk.randomNonce(secureRng) % (q - 2n)) + 1n);
    const minusOneModQ = q - 1n + q * ((pk.randomNonce(secureRng) % (p - 2n)) + 1n);
    const nonces = [1n, 2n, n - 1n, oneModP % n, minusOneModQ % n, ...Array.from({ length: 6 }, () => pk.randomNonce(secureRng))];
    for (const rho of nonces) {
      const want = modPow(rho, n, pk.n2);
      expect(sk.nthPowerPlain(rho)).toBe(want);
      expect(sk.nthPower(rho)).toBe(want);
    }
    // non-units (a multiple of p) agree too
    expect(sk.nthPower(p * 3n)).toBe(modPow(p * 3n, n, pk.n2));
  });

  it('decrypts 0, multiples of p and N - 1 (a decryption exponentiation whose result is 1)', () => {
    for (const m of [0n, sk.p, 5n * sk.q, pk.n - 1n]) {
      expect(sk.decrypt(pk.encrypt(m, pk.randomNonce(secureRng)))).toBe(m);
      expect(sk.decrypt(sk.encryptOwn(m, 1n))).toBe(m);
    }
  });

  it('powModN (CRT) equals exponentiation modulo N for exponents of any sign and size', () => {
    const x = pk.randomNonce(secureRng);
    for (const e of [0n, 1n, -1n, 65537n, -(1n << 255n) + 9n, (1n << 1022n) + 1n, (1n << 1100n) + 5n, -(1n << 3000n), sk.p - 1n, sk.q - 1n]) {
      expect(sk.powModN(x, e)).toBe(modPow(x, e, pk.n));
    }
  });

  it('checkModPrimes gives the truth value of the congruence modulo N', () => {
    const a = pk.randomNonce(secureRng);
    const b = pk.randomNonce(secureRng);
    for (const [e1, e2] of [[(1n << 2800n) + 3n, -(1n << 700n)], [-5n, 7n], [0n, sk.p + 2n]] as const) {
      const rhs = (modPow(a, e1, pk.n) * modPow(b, e2, pk.n)) % pk.n;
      expect(sk.checkModPrimes((pow, r) => (pow(a, e1) * pow(b, e2)) % r === rhs % r)).toBe(true);
      expect(sk.checkModPrimes((pow, r) => (pow(a, e1) * pow(b, e2)) % r === ((rhs + 1n) % pk.n) % r)).toBe(false);
    }
  });

  it('prepare() sets up every modulus the key computes modulo', () => {
    const k = fixturePaillier(5);
    forgetModuli([...k.secretModuli(), k.pk.n, k.pk.n2]);
    expect([...k.secretModuli(), k.pk.n, k.pk.n2].some(isModulusWarm)).toBe(false);
    k.prepare();
    expect([...k.secretModuli(), k.pk.n, k.pk.n2].every(isModulusWarm)).toBe(true);
  });

  it('powModN2 (CRT) equals exponentiation modulo N², negative exponents included', () => {
    const c = pk.encrypt(9n, pk.randomNonce(secureRng));
    for (const e of [0n, 1n, -1n, (1n << 800n) + 3n, -(1n << 900n)]) expect(sk.powModN2(c, e)).toBe(modPow(c, e, pk.n2));
  });

  it('powSecretModN agrees with public exponentiation', () => {
    const x = pk.randomNonce(secureRng);
    const e = (1n << 2000n) + 12345n;
    expect(sk.powSecretModN(x, e)).toBe(modPow(x, e, pk.n));
  });
});

describe('ring-Pedersen', () => {
  it('s = t^λ and commitments on the secret path equal the public path', () => {
    const sk = fixturePaillier(1);
    const { params, lambda } = ringPedersenGenerate(sk, secureRng);
    expect(sk.powSecretModN(params.t, lambda)).toBe(params.s);
    const x = -(1n << 700n) + 3n;
    const y = (1n << 2300n) - 1n;
    expect(params.commitSecret(x, 700, y, 2300)).toBe(params.commitPublic(x, y));
    expect(() => new RingPedersen(params.n, params.s, params.s)).toThrow();
    expect(() => new RingPedersen(params.n, 1n, params.t)).toThrow();
  });
});
