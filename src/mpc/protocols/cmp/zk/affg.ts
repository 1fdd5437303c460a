/**
 * Π^aff-g (paper, Figure "Paillier Affine Operation with Group Commitment in Range ZK"): the prover
 * (Paillier key N1) knows x ∈ ±2^ℓ, y ∈ ±2^ℓ', ρ ∈ Z*_N0, ρy ∈ Z*_N1 with
 *   D = C^x (1+N0)^y ρ^N0 mod N0²,  Y = (1+N1)^y ρy^N1 mod N1²,  X = x·G,
 * against the verifier's ring-Pedersen setup (N̂, s, t).
 *   α ← ±2^{ℓ+ε}, β ← ±2^{ℓ'+ε}, r ← Z*_N0, ry ← Z*_N1, γ, δ ← ±2^{ℓ+ε}·N̂, m, μ ← ±2^ℓ·N̂
 *   A = C^α (1+N0)^β r^N0, Bx = α·G, By = (1+N1)^β ry^N1, E = s^α t^γ, S = s^x t^m,
 *   F = s^β t^δ, T = s^y t^μ;  e ← ±q
 *   z1 = α + e·x, z2 = β + e·y, z3 = γ + e·m, z4 = δ + e·μ, w = r·ρ^e mod N0, wy = ry·ρy^e mod N1
 * Verifier: z1 ∈ ±2^{ℓ+ε}, z2 ∈ ±2^{ℓ'+ε}, and the five equations (see verifyAffG).
 *
 * @example
 *   const proof = proveAffG(ctx, st, { x, y, rho, rhoY }, rng);
 *   verifyAffG(ctx, st, proof); // true
 */
import { utf8ToBytes } from '@noble/hashes/utils.js';
import { modPow, modPowSecretSigned, randomUnit, type ByteSource } from '../../../bigint/index.js';
import { mulG, mulPublic, Point, pointToHex } from '../group.js';
import { ELL, ELL_PRIME, EPS, Q } from '../params.js';
import type { PaillierPublicKey, PaillierSecretKey } from '../paillier.js';
import type { RingPedersen } from '../pedersen.js';
import { bitsOf, boundTimes, encryptFor, holdsWithChallenge, inRange, nonceFor, nonceToChallenge, ownKeyOf, sampleRange, transcriptFor, type ProofContext } from './common.js';

export interface AffGStatement {
  readonly pk0: PaillierPublicKey; // N0: the verifier's Paillier key (C and D live here)
  readonly pk1: PaillierPublicKey; // N1: the prover's Paillier key (Y lives here)
  readonly C: bigint;
  readonly D: bigint;
  readonly Y: bigint;
  readonly X: Point;
  readonly setup: RingPedersen;
}

export interface AffGProof {
  readonly A: bigint;
  readonly Bx: Point;
  readonly By: bigint;
  readonly E: bigint;
  readonly S: bigint;
  readonly F: bigint;
  readonly T: bigint;
  readonly z1: bigint;
  readonly z2: bigint;
  readonly z3: bigint;
  readonly z4: bigint;
  readonly w: bigint;
  readonly wy: bigint;
}

type Commitments = Pick<AffGProof, 'A' | 'Bx' | 'By' | 'E' | 'S' | 'F' | 'T'>;

function challenge(ctx: ProofContext, st: AffGStatement, c: Commitments): bigint {
  const t = transcriptFor('aff-g', ctx);
  t.int('N0', st.pk0.n).int('N1', st.pk1.n).int('C', st.C).int('D', st.D).int('Y', st.Y);
  t.bytes('X', utf8ToBytes(pointToHex(st.X)));
  t.int('Nhat', st.setup.n).int('s', st.setup.s).int('t', st.setup.t);
  t.int('A', c.A).bytes('Bx', utf8ToBytes(pointToHex(c.Bx))).int('By', c.By);
  t.int('E', c.E).int('S', c.S).int('F', c.F).int('T', c.T);
  return t.challengeSigned(Q);
}

function absBits(x: bigint, min: number): number {
  return Math.max(min, bitsOf(x < 0n ? -x : x));
}

export function proveAffG(
  ctx: ProofContext,
  st: AffGStatement,
  w: { x: bigint; y: bigint; rho: bigint; rhoY: bigint },
  rng: ByteSource,
  own?: PaillierSecretKey,
): AffGProof {
  const { pk0, pk1, setup } = st;
  const alpha = sampleRange(boundTimes(ELL + EPS), rng);
  const beta = sampleRange(boundTimes(ELL_PRIME + EPS), rng);
  const r = randomUnit(pk0.n, rng);
  const ry = nonceFor(pk1, rng, own);
  const bigB = boundTimes(ELL + EPS, setup.n);
  const smallB = boundTimes(ELL, setup.n);
  const gamma = sampleRange(bigB, rng);
  const m = sampleRange(smallB, rng);
  const delta = sampleRange(bigB, rng);
  const mu = sampleRange(smallB, rng);
  const A = (modPowSecretSigned(st.C, alpha, pk0.n2, ELL + EPS) * pk0.encrypt(beta, r)) % pk0.n2;
  const c: Commitments = {
    A,
    Bx: mulG(alpha),
    By: encryptFor(pk1, beta, ry, own),
    E: setup.commitSecret(alpha, ELL + EPS, gamma, bitsOf(bigB)),
    S: setup.commitSecret(w.x, absBits(w.x, ELL), m, bitsOf(smallB)),
    F: setup.commitSecret(beta, ELL_PRIME + EPS, delta, bitsOf(bigB)),
    T: setup.commitSecret(w.y, absBits(w.y, ELL_PRIME), mu, bitsOf(smallB)),
  };
  const e = challenge(ctx, st, c);
  return {
    ...c,
    z1: alpha + e * w.x,
    z2: beta + e * w.y,
    z3: gamma + e * m,
    z4: delta + e * mu,
    w: (r * modPow(w.rho, e, pk0.n)) % pk0.n,
    wy: (ry * nonceToChallenge(pk1, w.rhoY, e, own)) % pk1.n,
  };
}

/**
 * `own`: the verifier's Paillier secret key (for N0), if at hand, to compute modulo N0² by CRT and
 * the ring-Pedersen checks modulo its primes (when N̂ is its own modulus).
 */
export function verifyAffG(ctx: ProofContext, st: AffGStatement, p: AffGProof, own?: PaillierSecretKey): boolean {
  const { pk0, pk1, setup } = st;
  const crt = ownKeyOf(pk0, own);
  const pow0 = (x: bigint, e: bigint) => (crt ? crt.powModN2(x, e) : modPow(x, e, pk0.n2));
  if (!pk0.areCiphertexts([st.C, st.D, p.A], [p.w]) || !pk1.areCiphertexts([st.Y, p.By], [p.wy])) return false;
  if (!setup.areUnits([p.E, p.S, p.F, p.T])) return false;
  if (!inRange(p.z1, boundTimes(ELL + EPS)) || !inRange(p.z2, boundTimes(ELL_PRIME + EPS))) return false;
  const e = challenge(ctx, st, p);
  // C^z1 (1+N0)^z2 w^N0 = A · D^e mod N0²
  const enc0 = encryptFor(pk0, p.z2, p.w, crt);
  if (!holdsWithChallenge((pow0(st.C, p.z1) * enc0) % pk0.n2, p.A, st.D, e, pk0.n2, (x, k) => pow0(x, k))) return false;
  // z1·G = Bx + e·X (public scalars)
  if (!mulPublic(Point.BASE, p.z1).equals(p.Bx.add(mulPublic(st.X, e)))) return false;
  // (1+N1)^z2 wy^N1 = By · Y^e mod N1²
  if (!holdsWithChallenge(pk1.encrypt(p.z2, p.wy), p.By, st.Y, e, pk1.n2)) return false;
  // E, S, F, T are units (checked above)
  return setup.verifyEquation(p.z1, p.z3, p.E, p.S, e, own) && setup.verifyEquation(p.z2, p.z4, p.F, p.T, e, own);
}
