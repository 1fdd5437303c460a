import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { fromBytes } from './arith.js';
import { modPowBlinded } from './blinded.js';
import { FixedBase } from './fixedbase.js';
import { modPowBigInt } from './modpow.js';
import { randomUnit } from './random.js';

const rng = (n: number) => new Uint8Array(randomBytes(n));

describe('FixedBase', () => {
  it('agrees with BigInt exponentiation for signed exponents up to the bound', () => {
    const m = fromBytes(randomBytes(256)) | 1n | (1n << 2047n);
    const g = randomUnit(m, rng);
    const fb = new FixedBase(g, m);
    for (const e of [0n, 1n, -1n, 15n, 16n, (1n << 699n), -(1n << 699n), fromBytes(randomBytes(80)) - (1n << 600n)]) {
      expect(fb.powSigned(e, 699)).toBe(modPowBigInt(g, e, m));
    }
    expect(fb.pow(12345n, 14)).toBe(modPowBigInt(g, 12345n, m));
    expect(() => fb.powSigned((1n << 699n) + 1n, 699)).toThrow(/bound/);
    expect(() => fb.pow(-1n, 10)).toThrow(/bound/);
    expect(() => fb.pow(1n << 20n, 10)).toThrow(/bound/);
    expect(fb.powSigned(-5n, 3000)).toBe(modPowBigInt(g, -5n, m)); // table grows on demand
  });
});

describe('modPowBlinded', () => {
  it('gives the same result as plain exponentiation modulo a prime and a prime square', () => {
    const p = 1000000007n;
    for (let i = 0; i < 20; i++) {
      const y = randomUnit(p, rng);
      const e = fromBytes(randomBytes(16));
      expect(modPowBlinded(y, e, p, p - 1n)).toBe(modPowBigInt(y, e, p));
      expect(modPowBlinded(y, e, p * p, p * (p - 1n))).toBe(modPowBigInt(y, e, p * p));
    }
  });
});
