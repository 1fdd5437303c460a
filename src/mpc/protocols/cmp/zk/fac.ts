/**
 * Π^fac (paper, Figure "No Small Factor Proof"): N0 = pq with p, q ∈ ±2^ℓ·√N0, i.e. no factor
 * smaller than about 2^(|N0|/2 - ℓ - ε) — the defence against the small-factor key attacks
 * (TSSHOCK / BitForge family). Against the verifier's ring-Pedersen setup (N̂, s, t):
 *   α, β ← ±2^{ℓ+ε}·√N0; μ, ν ← ±2^ℓ·N̂; σ ← ±2^ℓ·N0·N̂; r ← ±2^{ℓ+ε}·N0·N̂; x, y ← ±2^{ℓ+ε}·N̂
 *   P = s^p t^μ, Q = s^q t^ν, A = s^α t^x, B = s^β t^y, T = Q^α t^r;  e ← ±q
 *   σ̂ = σ − ν·p, z1 = α + e·p, z2 = β + e·q, w1 = x + e·μ, w2 = y + e·ν, v = r + e·σ̂
 * Verifier, with R = s^N0 t^σ: s^z1 t^w1 = A·P^e, s^z2 t^w2 = B·Q^e, Q^z1 t^v = T·R^e (mod N̂),
 * and z1, z2 ∈ ±2^{ℓ+ε}·√N0 (√N0 rounded down).
 *
 * @example
 *   const proof = proveFac(ctx, { n: N0, setup }, { p, q }, rng); verifyFac(ctx, { n: N0, setup }, proof);
 */
import { modPowSecretSigned, modPow, type ByteSource } from '../../../bigint/index.js';
import { ELL, EPS, Q as ORDER } from '../params.js';
import type { RingPedersen } from '../pedersen.js';
import { bitsOf, boundTimes, inRange, isqrt, sampleRange, transcriptFor, type ProofContext } from './common.js';

export interface FacStatement {
  readonly n: bigint; // N0, the prover's modulus
  readonly setup: RingPedersen; // the verifier's (N̂, s, t)
}

export interface FacProof {
  readonly P: bigint;
  readonly Q: bigint;
  readonly A: bigint;
  readonly B: bigint;
  readonly T: bigint;
  readonly sigma: bigint;
  readonly z1: bigint;
  readonly z2: bigint;
  readonly w1: bigint;
  readonly w2: bigint;
  readonly v: bigint;
}

type Commitments = Pick<FacProof, 'P' | 'Q' | 'A' | 'B' | 'T' | 'sigma'>;

function challenge(ctx: ProofContext, st: FacStatement, c: Commitments): bigint {
  const t = transcriptFor('fac', ctx);
  t.int('N0', st.n).int('Nhat', st.setup.n).int('s', st.setup.s).int('t', st.setup.t);
  t.int('P', c.P).int('Q', c.Q).int('A', c.A).int('B', c.B).int('T', c.T).int('sigma', c.sigma);
  return t.challengeSigned(ORDER);
}

export function proveFac(ctx: ProofContext, st: FacStatement, wit: { p: bigint; q: bigint }, rng: ByteSource): FacProof {
  const { setup } = st;
  const nh = setup.n;
  const root = isqrt(st.n);
  const abB = boundTimes(ELL + EPS, root);
  const muB = boundTimes(ELL, nh);
  const sigmaB = boundTimes(ELL, st.n * nh);
  const rB = boundTimes(ELL + EPS, st.n * nh);
  const xyB = boundTimes(ELL + EPS, nh);
  const alpha = sampleRange(abB, rng);
  const beta = sampleRange(abB, rng);
  const mu = sampleRange(muB, rng);
  const nu = sampleRange(muB, rng);
  const sigma = sampleRange(sigmaB, rng);
  const r = sampleRange(rB, rng);
  const x = sampleRange(xyB, rng);
  const y = sampleRange(xyB, rng);
  const pqBits = Math.max(bitsOf(wit.p), bitsOf(wit.q));
  const P = setup.commitSecret(wit.p, pqBits, mu, bitsOf(muB));
  const Qc = setup.commitSecret(wit.q, pqBits, nu, bitsOf(muB));
  const A = setup.commitSecret(alpha, bitsOf(abB), x, bitsOf(xyB));
  const B = setup.commitSecret(beta, bitsOf(abB), y, bitsOf(xyB));
  const T = (modPowSecretSigned(Qc, alpha, nh, bitsOf(abB)) * setup.powTSecret(r, bitsOf(rB))) % nh;
  const c: Commitments = { P, Q: Qc, A, B, T, sigma };
  const e = challenge(ctx, st, c);
  const sigmaHat = sigma - nu * wit.p;
  return {
    ...c,
    z1: alpha + e * wit.p,
    z2: beta + e * wit.q,
    w1: x + e * mu,
    w2: y + e * nu,
    v: r + e * sigmaHat,
  };
}

export function verifyFac(ctx: ProofContext, st: FacStatement, p: FacProof): boolean {
  const { setup } = st;
  const nh = setup.n;
  if (st.n <= 3n || (st.n & 1n) === 0n) return false;
  for (const v of [p.P, p.Q, p.A, p.B, p.T]) if (!setup.isUnit(v)) return false;
  if (!inRange(p.sigma, boundTimes(ELL, st.n * nh))) return false;
  const zB = boundTimes(ELL + EPS, isqrt(st.n));
  if (!inRange(p.z1, zB) || !inRange(p.z2, zB)) return false;
  const e = challenge(ctx, st, p);
  if (!setup.verify(p.z1, p.w1, p.A, p.P, e)) return false;
  if (!setup.verify(p.z2, p.w2, p.B, p.Q, e)) return false;
  const R = setup.commitPublic(st.n, p.sigma);
  const lhs = (modPow(p.Q, p.z1, nh) * modPow(setup.t, p.v, nh)) % nh;
  return lhs === (p.T * modPow(R, e, nh)) % nh;
}
