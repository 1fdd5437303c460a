import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { bitLength, fromBytes } from './arith.js';
import { randomUnit } from './random.js';
import { forgetModuli, isModulusWarm, modPowBigInt, modPowLadder, modPowNative, modPowRsa, modPowSecret, modPowSecretSigned, warmModulus } from './modpow.js';

const rnd = (bits: number) => fromBytes(randomBytes(Math.ceil(bits / 8)));

describe('modular exponentiation paths agree', () => {
  it('small known value', () => {
    expect(modPowNative(4n, 13n, 497n)).toBe(445n);
    expect(modPowBigInt(4n, 13n, 497n)).toBe(445n);
    expect(modPowSecret(4n, 13n, 497n, 64)).toBe(445n);
    expect(modPowLadder(4n, 13n, 497n, 64)).toBe(445n);
    expect(modPowRsa(4n, 13n, 497n)).toBe(445n);
  });

  for (const bits of [520, 1024, 2048, 3072, 4096]) {
    it(`native = BigInt = ladder for ${bits}-bit odd moduli`, () => {
      const m = rnd(bits) | 1n | (1n << BigInt(bits - 1));
      for (const ebits of [1, 63, 64, 65, 200, bits]) {
        const e = rnd(ebits) >> BigInt((8 - (ebits % 8)) % 8);
        const x = rnd(bits) % m;
        const want = modPowBigInt(x, e, m);
        expect(modPowNative(x, e, m)).toBe(want);
        expect(modPowRsa(x, e, m)).toBe(want);
        expect(modPowSecret(x, e, m, ebits)).toBe(want);
        if (ebits <= 200) expect(modPowLadder(x, e, m, ebits)).toBe(want);
      }
    });
  }

  it('the cached DH route: many bases and exponents on one modulus, base m - 1, modulus reused after other moduli', () => {
    const m = rnd(4096) | 1n | (1n << 4095n);
    const others = [rnd(2048) | 1n | (1n << 2047n), rnd(3072) | 1n | (1n << 3071n)];
    for (let i = 0; i < 4; i++) {
      const x = rnd(4000) % m;
      const e = rnd(256 + 704 * i);
      expect(modPowSecret(x, e, m, 256 + 704 * i)).toBe(modPowBigInt(x, e, m));
      expect(modPowNative(x, e, m)).toBe(modPowBigInt(x, e, m));
      const o = others[i % 2]!;
      expect(modPowSecret(x % o, e, o, 256 + 704 * i)).toBe(modPowBigInt(x % o, e, o));
    }
    expect(modPowSecret(m - 1n, 5n, m, 8)).toBe(m - 1n);
    expect(modPowSecret(m - 1n, 6n, m, 8)).toBe(1n);
    expect(modPowNative(m - 1n, (1n << 300n) + 1n, m)).toBe(m - 1n);
  });

  it('4096-bit modulus with exponents whose 63-bit chunks are 0 or 1', () => {
    const m = rnd(4096) | 1n | (1n << 4095n);
    const x = rnd(4000);
    for (const e of [1n << 126n, (1n << 126n) + 1n, (1n << 189n) | (1n << 63n), (1n << 300n) - 1n]) {
      expect(modPowRsa(x, e, m)).toBe(modPowBigInt(x, e, m));
      expect(modPowNative(x, e, m)).toBe(modPowBigInt(x, e, m));
    }
  });

  it('exponents at or just above the modulus (e = N, 3N, N + 2^10) on the short-overflow path', () => {
    for (const bits of [1024, 2048, 3072]) {
      const m = rnd(bits) | 1n | (1n << BigInt(bits - 1));
      const x = rnd(bits - 8);
      for (const e of [m, 3n * m, m + 1024n, (1n << BigInt(bits + 63)) + 5n, (1n << BigInt(bits + 64)) + 7n, 1n << BigInt(bits)]) {
        expect(modPowNative(x, e, m)).toBe(modPowBigInt(x, e, m));
        expect(modPowRsa(x, e, m)).toBe(modPowBigInt(x, e, m));
      }
    }
  });

  it('bases 0, 1 and N-1, exponent 0, and a non-unit base on the secret path', () => {
    const m = rnd(1024) | 1n | (1n << 1023n);
    for (const b of [0n, 1n, m - 1n, m, m + 1n]) {
      for (const e of [0n, 1n, 5n, rnd(1024)]) {
        expect(modPowNative(b, e, m)).toBe(modPowBigInt(b, e, m));
        expect(modPowSecret(b, e, m, 1024)).toBe(modPowBigInt(b, e, m));
      }
    }
    const p = 1000003n;
    const mm = m * p; // base p is not a unit: the secret path falls back to the ladder
    expect(modPowSecret(p, 12345n, mm, 20)).toBe(modPowBigInt(p, 12345n, mm));
  });

  it('even and tiny moduli, zero and negative exponents', () => {
    expect(modPowNative(3n, 5n, 16n)).toBe(243n % 16n);
    expect(modPowNative(5n, 0n, 7n)).toBe(1n);
    expect(modPowNative(5n, 3n, 1n)).toBe(0n);
    const m = rnd(2048) | 1n | (1n << 2047n);
    const x = randomUnit(m, (n) => new Uint8Array(randomBytes(n)));
    expect((modPowNative(x, -5n, m) * modPowNative(x, 5n, m)) % m).toBe(1n);
    expect(modPowBigInt(x, -5n, m)).toBe(modPowNative(x, -5n, m));
  });

  it('results 1 and m - 1, which OpenSSL refuses as DH secrets, on prime and composite moduli', () => {
    const p = (1n << 521n) - 1n; // Mersenne prime: b^(p-1) = 1, b^((p-1)/2) = ±1 (Euler)
    for (const b of [2n, 3n, 5n, 7n, rnd(500)]) {
      expect(modPowSecret(b, p - 1n, p, 521)).toBe(1n);
      const half = modPowSecret(b, (p - 1n) / 2n, p, 521);
      expect(half === 1n || half === p - 1n).toBe(true);
      expect(half).toBe(modPowBigInt(b, (p - 1n) / 2n, p));
      expect(modPowSecretSigned(b, -(p - 1n), p, 522)).toBe(1n);
    }
    // 4096+-bit composite of Mersenne primes (the DH route of modPowNative too): b^lcm(p_i - 1) = 1
    const ps = [521n, 607n, 1279n, 2203n].map((k) => (1n << k) - 1n);
    const m = ps.reduce((a, b) => a * b);
    const gcdOf = (a: bigint, b: bigint): bigint => (b === 0n ? a : gcdOf(b, a % b));
    const order = ps.reduce((l, q) => (l * (q - 1n)) / gcdOf(l, q - 1n), 1n);
    const x = rnd(4000) % m;
    expect(modPowNative(x, order, m)).toBe(1n);
    expect(modPowSecret(x, order, m, bitLength(order))).toBe(1n);
    expect(modPowNative(x, order + 1n, m)).toBe(x);
    // an element of order 2 other than -1 (x ≡ -1 mod p_0, 1 elsewhere), squared and cubed
    const u = ps.slice(1).reduce((a, b) => a * b);
    const inv = modPowBigInt(u, ps[0]! - 2n, ps[0]!);
    const y = (((1n - 2n * u * inv) % m) + m) % m; // ≡ -1 mod p_0, ≡ 1 mod the others
    expect(modPowSecret(y, 2n, m, 8)).toBe(1n);
    expect(modPowSecret(y, 3n, m, 8)).toBe(y);
    expect(modPowNative(y, 1n << 200n, m)).toBe(1n);
  });

  it('secret paths refuse an exponent above its bound or negative', () => {
    expect(() => modPowSecret(3n, 1n << 70n, 1001n, 64)).toThrow(/bound/);
    expect(() => modPowSecret(3n, -1n, 1001n, 64)).toThrow(/non-negative/);
    expect(() => modPowLadder(3n, 1n << 70n, 1001n, 64)).toThrow(/bound/);
  });
});

describe('modPowSecretSigned', () => {
  it('matches the public path for negative, zero and positive exponents at the bound', () => {
    const m = rnd(2048) | 1n | (1n << 2047n);
    const x = randomUnit(m, (n) => new Uint8Array(randomBytes(n)));
    for (const e of [0n, 1n, -1n, (1n << 300n) - 12345n, -(1n << 300n), 1n << 300n]) {
      expect(modPowSecretSigned(x, e, m, 300)).toBe(modPowBigInt(x, e, m));
    }
    expect(() => modPowSecretSigned(x, (1n << 300n) + 1n, m, 300)).toThrow(/bound/);
  });
});

describe('per-modulus set-up', () => {
  it('warmModulus caches the OpenSSL object, forgetModuli drops it, results unchanged either way', () => {
    const m = rnd(2048) | 1n | (1n << 2047n);
    const x = rnd(2000);
    const e = rnd(904);
    expect(isModulusWarm(m)).toBe(false);
    warmModulus(m);
    expect(isModulusWarm(m)).toBe(true);
    expect(modPowSecret(x, e, m, 904)).toBe(modPowBigInt(x, e, m));
    forgetModuli([m]);
    expect(isModulusWarm(m)).toBe(false);
    expect(modPowSecret(x, e, m, 904)).toBe(modPowBigInt(x, e, m));
    warmModulus(1000n); // even / small moduli are not served by OpenSSL: ignored
    expect(isModulusWarm(1000n)).toBe(false);
  });
});
