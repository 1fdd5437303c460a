import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { allCoprime, bitLength, fromBytes, gcd, jacobi, mod, modInverse, toBytes } from './arith.js';
import { modPowBigInt } from './modpow.js';
import { randomBelow, randomSymmetric, randomUnit } from './random.js';
import { generateSafePrime, isProbablePrime, isSafePrime } from './prime.js';

const rng = (n: number) => new Uint8Array(randomBytes(n));

describe('arith', () => {
  it('allCoprime (one gcd of the product) = gcd of each value', () => {
    const n = 1009n * 2003n;
    expect(allCoprime([5n, 7n, n + 11n], n)).toBe(true);
    expect(allCoprime([5n, 2003n * 4n, 11n], n)).toBe(false);
    expect(allCoprime([5n, 0n], n)).toBe(false);
    expect(allCoprime([], n)).toBe(true);
    for (let i = 0; i < 50; i++) {
      const xs = [fromBytes(randomBytes(3)), fromBytes(randomBytes(3))];
      expect(allCoprime(xs, n)).toBe(xs.every((x) => gcd(x, n) === 1n));
    }
  });

  it('mod, gcd, inverse', () => {
    expect(mod(-3n, 7n)).toBe(4n);
    expect(gcd(-12n, 18n)).toBe(6n);
    expect(modInverse(3n, 7n)).toBe(5n);
    expect(() => modInverse(6n, 9n)).toThrow(/not invertible/);
    const m = fromBytes(randomBytes(256)) | 1n;
    const a = randomUnit(m, rng);
    expect((a * modInverse(a, m)) % m).toBe(1n);
  });

  it('Jacobi symbol equals Euler criterion modulo a prime and is multiplicative in n', () => {
    const p = 1000000007n;
    const q = 998244353n;
    for (let i = 0; i < 50; i++) {
      const a = randomBelow(p * q, rng);
      const e = modPowBigInt(a, (p - 1n) / 2n, p);
      const want = e === 1n ? 1 : e === 0n ? 0 : -1;
      expect(jacobi(a, p)).toBe(want);
      expect(jacobi(a, p * q)).toBe(jacobi(a, p) * jacobi(a, q));
    }
    expect(() => jacobi(3n, 8n)).toThrow();
  });

  it('bytes and bit length', () => {
    expect(bitLength(0n)).toBe(0);
    expect(bitLength(1n)).toBe(1);
    expect(bitLength(255n)).toBe(8);
    expect(bitLength(-256n)).toBe(9);
    expect(toBytes(258n, 4)).toEqual(new Uint8Array([0, 0, 1, 2]));
    expect(fromBytes(new Uint8Array([1, 2]))).toBe(258n);
    expect(() => toBytes(65536n, 2)).toThrow();
  });

  it('random helpers stay in range and use the injected source', () => {
    for (let i = 0; i < 200; i++) {
      const x = randomBelow(1000n, rng);
      expect(x >= 0n && x < 1000n).toBe(true);
      const s = randomSymmetric(8, rng);
      expect(s >= -256n && s <= 256n).toBe(true);
    }
    const fixed = () => new Uint8Array([7]);
    expect(randomBelow(200n, fixed)).toBe(7n);
  });

  it('safe primes from OpenSSL are safe; composites are rejected', async () => {
    const p = await generateSafePrime(128);
    expect(bitLength(p)).toBe(128);
    expect(isSafePrime(p)).toBe(true);
    expect(isProbablePrime(p * 3n)).toBe(false);
    expect(isSafePrime(13n)).toBe(false); // (13-1)/2 = 6
    expect(isSafePrime(23n)).toBe(true);
  });
});
