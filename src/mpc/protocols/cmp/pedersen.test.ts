import { describe, expect, it } from 'vitest';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { modPowBigInt, randomSymmetric, randomUnit } from '../../bigint/index.js';
import { mulP, mulPublic, Point } from './group.js';
import { fixtureAux, secureRng } from './testdata/fixtures.js';
import { holdsWithChallenge } from './zk/common.js';

// Each optimised path against the plain one it replaces.
describe('ring-Pedersen and verification shortcuts agree with the plain computation', () => {
  const { sk, rp } = fixtureAux(2);
  const plain = (x: bigint, y: bigint) => (modPowBigInt(rp.s, x, rp.n) * modPowBigInt(rp.t, y, rp.n)) % rp.n;

  it('commitSecret (OpenSSL constant-time on shifted exponents, cached corrections) = s^x t^y by BigInt', () => {
    for (let i = 0; i < 3; i++) {
      const x = randomSymmetric(768, secureRng);
      const y = randomSymmetric(2816, secureRng);
      expect(rp.commitSecret(x, 768, y, 2816)).toBe(plain(x, y)); // second round: cached corrections
    }
    expect(rp.commitSecret(1n << 768n, 768, -(1n << 2816n), 2816)).toBe(plain(1n << 768n, -(1n << 2816n)));
    expect(rp.commitSecret(0n, 256, 0n, 256)).toBe(1n);
    expect(rp.powTSecret(-5n, 256)).toBe(modPowBigInt(rp.t, -5n, rp.n));
    expect(() => rp.commitSecret((1n << 768n) + 1n, 768, 0n, 10)).toThrow(/bound/);
  });

  it('verify modulo the own primes (blinded CRT) = verify modulo N̂, for holding and failing equations, both signs of e', () => {
    for (const e of [12345n, -12345n, (1n << 255n) + 3n, -(1n << 255n)]) {
      const z1 = randomSymmetric(800, secureRng);
      const z2 = randomSymmetric(2900, secureRng);
      const b = randomUnit(rp.n, secureRng);
      // A = s^z1 t^z2 · B^-e, so the check holds
      const a = (plain(z1, z2) * modPowBigInt(b, -e, rp.n)) % rp.n;
      expect(rp.verify(z1, z2, a, b, e)).toBe(true);
      expect(rp.verify(z1, z2, a, b, e, sk)).toBe(true);
      expect(rp.verify(z1 + 1n, z2, a, b, e)).toBe(false);
      expect(rp.verify(z1 + 1n, z2, a, b, e, sk)).toBe(false);
      expect(rp.verify(z1, z2, a, b, e + 1n, sk)).toBe(false);
      const aModQOnly = a + ((sk.p * ((1n << 20n) + 1n)) % rp.n); // same modulo p, different modulo q
      expect(rp.verify(z1, z2, aModQOnly % rp.n, b, e, sk)).toBe(rp.verify(z1, z2, aModQOnly % rp.n, b, e));
    }
  });

  it('holdsWithChallenge (no inverse for e < 0) = the check with B^e', () => {
    const m = sk.pk.n2;
    for (const e of [7n, -7n, 0n, -(1n << 200n)]) {
      const a = randomUnit(sk.pk.n, secureRng);
      const b = randomUnit(sk.pk.n, secureRng);
      const lhs = (a * modPowBigInt(b, e, m)) % m;
      expect(holdsWithChallenge(lhs, a, b, e, m)).toBe(true);
      expect(holdsWithChallenge((lhs * 2n) % m, a, b, e, m)).toBe(false);
    }
  });

  it('areCiphertexts / areUnits (one gcd) = every value checked alone', () => {
    const pk = sk.pk;
    const good = [pk.encrypt(5n, pk.randomNonce(secureRng)), pk.encrypt(-9n, pk.randomNonce(secureRng))];
    expect(pk.areCiphertexts(good)).toBe(good.every((c) => pk.isCiphertext(c)));
    expect(pk.areCiphertexts(good)).toBe(true);
    expect(pk.areCiphertexts([...good, sk.p * 3n])).toBe(false); // shares the factor p
    expect(pk.areCiphertexts([...good, 0n])).toBe(false);
    expect(pk.areCiphertexts([...good, pk.n2])).toBe(false);
    const unit = pk.randomNonce(secureRng);
    expect(pk.areCiphertexts(good, [unit])).toBe(pk.isUnit(unit));
    expect(pk.areCiphertexts(good, [sk.q])).toBe(false);
    expect(pk.areCiphertexts(good, [pk.n + 1n])).toBe(false); // a unit must be below N
    expect(rp.areUnits([rp.s, rp.t])).toBe(true);
    expect(rp.areUnits([rp.s, sk.q * 5n])).toBe(false);
  });

  it('mulPublic (variable time, public scalars) = mulP', () => {
    const P = Point.BASE.multiply(987654321n);
    for (const x of [0n, 1n, -1n, secp256k1.Point.Fn.ORDER + 5n, -(1n << 300n)]) expect(mulPublic(P, x).equals(mulP(P, x))).toBe(true);
    expect(mulPublic(Point.ZERO, 5n).is0()).toBe(true);
  });
});
