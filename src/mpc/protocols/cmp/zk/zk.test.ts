import { describe, expect, it } from 'vitest';
import { isProbablePrime, randomBelow } from '../../../bigint/index.js';
import { mulG } from '../group.js';
import { ELL, ELL_PRIME, EPS, Q } from '../params.js';
import { fixtureAux, fixturePaillier, SAFE_PRIMES, secureRng as rng } from '../testdata/fixtures.js';
import { proveAffG, verifyAffG, type AffGStatement } from './affg.js';
import { proveEnc, verifyEnc } from './enc.js';
import { proveFac, verifyFac } from './fac.js';
import { proveLogStar, verifyLogStar } from './logstar.js';
import { proveMod, verifyMod } from './mod.js';
import { proveOpening, verifyOpening } from './open.js';
import { provePrm, verifyPrm } from './prm.js';
import { schCommit, schProve, schVerify } from './sch.js';

const ctx = { session: 'sid-1', prover: 'alice' };
const otherSession = { session: 'sid-2', prover: 'alice' };
const otherProver = { session: 'sid-1', prover: 'bob' };
const prover = fixturePaillier(0); // prover's Paillier key
const verifier = fixtureAux(1); // verifier's ring-Pedersen setup

describe('Π^sch', () => {
  it('honest proof verifies; wrong key, session, prover or tampered z fail', () => {
    const x = randomBelow(Q, rng);
    const X = mulG(x);
    const p = schProve(ctx, X, x, schCommit(rng));
    expect(schVerify(ctx, X, p)).toBe(true);
    expect(schVerify(ctx, mulG(x + 1n), p)).toBe(false);
    expect(schVerify(otherSession, X, p)).toBe(false);
    expect(schVerify(otherProver, X, p)).toBe(false);
    expect(schVerify(ctx, X, { ...p, z: (p.z + 1n) % Q })).toBe(false);
    expect(schVerify(ctx, X, { ...p, z: p.z + Q })).toBe(false);
  });
});

describe('Π^enc', () => {
  const pk = prover.pk;
  const st = (K: bigint) => ({ pk, K, setup: verifier.rp });

  it('honest proof verifies; tampering, wrong session, wrong prover fail', () => {
    const k = randomBelow(Q, rng);
    const rho = pk.randomNonce(rng);
    const K = pk.encrypt(k, rho);
    const p = proveEnc(ctx, st(K), { k, rho }, rng);
    expect(verifyEnc(ctx, st(K), p)).toBe(true);
    expect(verifyEnc(ctx, st(K), proveEnc(ctx, st(K), { k, rho }, rng, prover))).toBe(true);
    expect(verifyEnc(otherSession, st(K), p)).toBe(false);
    expect(verifyEnc(otherProver, st(K), p)).toBe(false);
    expect(verifyEnc(ctx, st(pk.encrypt(k + 1n, rho)), p)).toBe(false);
    expect(verifyEnc(ctx, st(K), { ...p, z1: p.z1 + 1n })).toBe(false);
    expect(verifyEnc(ctx, st(K), { ...p, z3: p.z3 + 1n })).toBe(false);
    expect(verifyEnc(ctx, st(K), { ...p, z2: 0n })).toBe(false);
    expect(verifyEnc(ctx, st(K), { ...p, S: (p.S * 4n) % verifier.rp.n })).toBe(false);
  });

  it('an out-of-range plaintext (|k| ≫ 2^ℓ) cannot be proven', () => {
    for (const k of [1n << BigInt(ELL + EPS + 2), -(1n << BigInt(ELL + EPS + 2)), pk.n / 3n]) {
      const rho = pk.randomNonce(rng);
      const K = pk.encrypt(k, rho);
      expect(verifyEnc(ctx, st(K), proveEnc(ctx, st(K), { k, rho }, rng))).toBe(false);
    }
  });
});

describe('Π^log*', () => {
  const pk = prover.pk;
  it('honest proof verifies against a non-standard base; tampering fails; range enforced', () => {
    const g = mulG(randomBelow(Q, rng));
    const x = randomBelow(Q, rng);
    const rho = pk.randomNonce(rng);
    const C = pk.encrypt(x, rho);
    const st = { pk, C, X: g.multiply(x), g, setup: verifier.rp };
    const p = proveLogStar(ctx, st, { x, rho }, rng);
    expect(verifyLogStar(ctx, st, p)).toBe(true);
    expect(verifyLogStar(otherSession, st, p)).toBe(false);
    expect(verifyLogStar(ctx, { ...st, X: g.multiply(x + 1n) }, p)).toBe(false);
    expect(verifyLogStar(ctx, { ...st, g: mulG(1n) }, p)).toBe(false);
    expect(verifyLogStar(ctx, st, { ...p, z1: p.z1 - 1n })).toBe(false);
    const big = 1n << BigInt(ELL + EPS + 3);
    const Cb = pk.encrypt(big, rho);
    const stb = { ...st, C: Cb, X: g.multiply(big % Q) };
    expect(verifyLogStar(ctx, stb, proveLogStar(ctx, stb, { x: big, rho }, rng))).toBe(false);
  });
});

describe('Π^aff-g', () => {
  const pk0 = fixturePaillier(1).pk; // verifier's Paillier key
  const pk1 = prover.pk;
  function statement(x: bigint, y: bigint) {
    const C = pk0.encrypt(randomBelow(Q, rng), pk0.randomNonce(rng));
    const rho = pk0.randomNonce(rng);
    const rhoY = pk1.randomNonce(rng);
    const D = pk0.add(pk0.mul(C, x), pk0.encrypt(y, rho));
    const st: AffGStatement = { pk0, pk1, C, D, Y: pk1.encrypt(y, rhoY), X: mulG(x), setup: verifier.rp };
    return { st, w: { x, y, rho, rhoY } };
  }

  it('honest proof verifies; tampering, wrong session fail', () => {
    const { st, w } = statement(randomBelow(Q, rng), randomBelow(1n << BigInt(ELL_PRIME), rng));
    const p = proveAffG(ctx, st, w, rng, prover);
    expect(verifyAffG(ctx, st, p)).toBe(true);
    // the verifier's CRT path (its own key for N0) agrees, on honest and tampered proofs
    const own0 = fixturePaillier(1);
    expect(verifyAffG(ctx, st, p, own0)).toBe(true);
    expect(verifyAffG(ctx, st, { ...p, z1: p.z1 + 1n }, own0)).toBe(false);
    expect(verifyAffG(ctx, st, { ...p, w: (p.w * 3n) % pk0.n }, own0)).toBe(false);
    expect(verifyAffG(otherSession, st, p)).toBe(false);
    expect(verifyAffG(ctx, { ...st, X: mulG(w.x + 1n) }, p)).toBe(false);
    expect(verifyAffG(ctx, st, { ...p, z2: p.z2 + 1n })).toBe(false);
    expect(verifyAffG(ctx, st, { ...p, wy: (p.wy * 2n) % pk1.n })).toBe(false);
  });

  it('out-of-range x or y cannot be proven', () => {
    const a = statement(1n << BigInt(ELL + EPS + 2), 5n);
    expect(verifyAffG(ctx, a.st, proveAffG(ctx, a.st, a.w, rng))).toBe(false);
    const b = statement(7n, 1n << BigInt(ELL_PRIME + EPS + 2));
    expect(verifyAffG(ctx, b.st, proveAffG(ctx, b.st, b.w, rng))).toBe(false);
  });
});

describe('Π^mod', () => {
  const [p0, p1, p2, p3] = SAFE_PRIMES as [bigint, bigint, bigint, bigint];
  const honest = proveMod(ctx, { p: p0, q: p1 }, rng);
  const attempt = (n: bigint, p: bigint, q: bigint): boolean => {
    try {
      return verifyMod(ctx, n, proveMod(ctx, { p, q }, rng));
    } catch {
      return false; // the honest algorithm cannot even produce a proof
    }
  };

  it('honest Paillier-Blum modulus verifies; wrong session, other modulus and tampering fail', () => {
    expect(verifyMod(ctx, p0 * p1, honest)).toBe(true);
    expect(verifyMod(otherSession, p0 * p1, honest)).toBe(false);
    expect(verifyMod(ctx, p2 * p3, honest)).toBe(false);
    const x = [...honest.x];
    x[5] = (x[5] as bigint) + 1n;
    expect(verifyMod(ctx, p0 * p1, { ...honest, x })).toBe(false);
    const z = [...honest.z];
    z[79] = 1n;
    expect(verifyMod(ctx, p0 * p1, { ...honest, z })).toBe(false);
    expect(verifyMod(ctx, p0 * p1, { ...honest, w: p0 })).toBe(false);
  });

  it('a prime modulus, a non-Blum modulus and a prime-power modulus are refused', () => {
    expect(verifyMod(ctx, p0, honest)).toBe(false);
    let q = p1 + 2n;
    while ((q & 3n) !== 1n || !isProbablePrime(q)) q += 2n; // a prime ≡ 1 mod 4: N = p0·q is not Blum
    expect(attempt(p0 * q, p0, q)).toBe(false);
    expect(attempt(p0 * p0 * p1, p0 * p0, p1)).toBe(false); // N = p²q: gcd(N, φ(N)) ≠ 1
  });
});

describe('Π^prm', () => {
  it('honest parameters verify; s not in <t>, wrong session, tampering fail', () => {
    const { sk, rp, lambda } = fixtureAux(2);
    const proof = provePrm(ctx, sk, rp, lambda, rng);
    expect(verifyPrm(ctx, rp, proof)).toBe(true);
    expect(verifyPrm(otherSession, rp, proof)).toBe(false);
    const z = [...proof.z];
    z[0] = (z[0] as bigint) + 1n;
    expect(verifyPrm(ctx, rp, { ...proof, z })).toBe(false);
    // a cheater who does not know λ for s (here: a wrong λ) is caught
    const bad = provePrm(ctx, sk, rp, lambda + 1n, rng);
    expect(verifyPrm(ctx, rp, bad)).toBe(false);
  });
});

describe('Π^fac', () => {
  const setup = verifier.rp;
  it('honest 1024+1024-bit factorisation verifies; wrong session, tampering fail', () => {
    const st = { n: prover.pk.n, setup };
    const proof = proveFac(ctx, st, { p: prover.p, q: prover.q }, rng);
    expect(verifyFac(ctx, st, proof)).toBe(true);
    expect(verifyFac(otherSession, st, proof)).toBe(false);
    expect(verifyFac(ctx, st, { ...proof, v: proof.v + 1n })).toBe(false);
    expect(verifyFac(ctx, { ...st, n: fixturePaillier(3).pk.n }, proof)).toBe(false);
  });

  it('a modulus with a small factor cannot be proven (TSSHOCK / BitForge family)', () => {
    // N = small · big with |N| = 2048: the cheater's honest-shape proof fails the range checks
    const small = 65537n;
    const big = (prover.p * prover.q) / small + 1n; // any big cofactor; N need not be well-formed for the attack
    const n = small * big;
    const st = { n, setup };
    expect(verifyFac(ctx, st, proveFac(ctx, st, { p: small, q: big }, rng))).toBe(false);
    // a 256-bit factor is still far below the bound 2^{ℓ+ε}·√N / 2^{ℓ+ε} … caught as well
    const p256 = (1n << 255n) + 297n;
    const cof = (1n << 1792n) + 1n;
    const st2 = { n: p256 * cof, setup };
    expect(verifyFac(ctx, st2, proveFac(ctx, st2, { p: p256, q: cof }, rng))).toBe(false);
  });
});

void ELL_PRIME;

describe('Paillier opening (identifiable abort)', () => {
  const sk = prover;
  const pk = sk.pk;

  it('reveals the centred plaintext with a proof; wrong plaintext (also ±N), tampering, other session or prover fail', () => {
    for (const m of [0n, 5n, -7n, (1n << 1800n) + 3n, -(pk.n / 2n)]) {
      const C = pk.encrypt(m, pk.randomNonce(rng));
      const o = proveOpening(ctx, C, sk, rng);
      expect(o.m).toBe(m);
      expect(verifyOpening(ctx, pk, C, o)).toBe(true);
      expect(verifyOpening(ctx, pk, C, { ...o, m: m + 1n })).toBe(false);
      expect(verifyOpening(ctx, pk, C, { ...o, m: m + pk.n })).toBe(false);
      expect(verifyOpening(ctx, pk, C, { ...o, m: m - pk.n })).toBe(false);
      expect(verifyOpening(ctx, pk, C, { ...o, z: (o.z * 2n) % pk.n })).toBe(false);
      expect(verifyOpening(ctx, pk, C, { ...o, A: (o.A * 2n) % pk.n2 })).toBe(false);
      expect(verifyOpening(otherSession, pk, C, o)).toBe(false);
      expect(verifyOpening(otherProver, pk, C, o)).toBe(false);
      expect(verifyOpening(ctx, pk, pk.encrypt(m, pk.randomNonce(rng)), o)).toBe(false);
    }
  });

  it('the nonce stays hidden: nonceOf recovers it, and the opening carries neither it nor the primes', () => {
    const rho = pk.randomNonce(rng);
    const C = pk.encrypt(123n, rho);
    expect(sk.nonceOf(C)).toBe(rho);
    const o = proveOpening(ctx, C, sk, rng);
    const text = JSON.stringify({ m: o.m.toString(16), A: o.A.toString(16), z: o.z.toString(16) });
    for (const secret of [rho, sk.p, sk.q]) expect(text.includes(secret.toString(16))).toBe(false);
  });
});
