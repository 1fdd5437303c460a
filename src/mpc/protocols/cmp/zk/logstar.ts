/**
 * Π^log* (paper, Figure "Knowledge of Exponent vs Paillier Encryption"): the prover knows
 * x ∈ ±2^ℓ and ρ with C = (1+N0)^x ρ^N0 mod N0² and X = x·g for a public base point g.
 *   α ← ±2^{ℓ+ε}, μ ← ±2^ℓ·N̂, r ← Z*_N0, γ ← ±2^{ℓ+ε}·N̂
 *   S = s^x t^μ, A = (1+N0)^α r^N0, Y = α·g, D = s^α t^γ;  e ← ±q
 *   z1 = α + e·x, z2 = r·ρ^e mod N0, z3 = γ + e·μ
 * Verifier: z1 ∈ ±2^{ℓ+ε}; (1+N0)^z1 z2^N0 = A·C^e; z1·g = Y + e·X; s^z1 t^z3 = D·S^e mod N̂.
 *
 * @example
 *   const proof = proveLogStar(ctx, { pk, C, X, g, setup }, { x, rho }, rng);
 */
import type { ByteSource } from '../../../bigint/index.js';
import { mulP, mulPublic, pointToHex, type Point } from '../group.js';
import { ELL, EPS, Q } from '../params.js';
import type { PaillierPublicKey, PaillierSecretKey } from '../paillier.js';
import type { RingPedersen } from '../pedersen.js';
import { bitsOf, boundTimes, encryptFor, holdsWithChallenge, inRange, nonceFor, nonceToChallenge, sampleRange, transcriptFor, type ProofContext } from './common.js';
import { utf8ToBytes } from '@noble/hashes/utils.js';

export interface LogStarStatement {
  readonly pk: PaillierPublicKey;
  readonly C: bigint;
  readonly X: Point;
  readonly g: Point;
  readonly setup: RingPedersen;
}

export interface LogStarProof {
  readonly S: bigint;
  readonly A: bigint;
  readonly Y: Point;
  readonly D: bigint;
  readonly z1: bigint;
  readonly z2: bigint;
  readonly z3: bigint;
}

function challenge(ctx: ProofContext, st: LogStarStatement, S: bigint, A: bigint, Y: Point, D: bigint): bigint {
  const t = transcriptFor('logstar', ctx);
  t.int('N0', st.pk.n).int('C', st.C).bytes('X', utf8ToBytes(pointToHex(st.X))).bytes('g', utf8ToBytes(pointToHex(st.g)));
  t.int('Nhat', st.setup.n).int('s', st.setup.s).int('t', st.setup.t);
  t.int('S', S).int('A', A).bytes('Y', utf8ToBytes(pointToHex(Y))).int('D', D);
  return t.challengeSigned(Q);
}

export function proveLogStar(
  ctx: ProofContext,
  st: LogStarStatement,
  w: { x: bigint; rho: bigint },
  rng: ByteSource,
  own?: PaillierSecretKey,
): LogStarProof {
  const { pk, setup } = st;
  const alpha = sampleRange(boundTimes(ELL + EPS), rng);
  const muB = boundTimes(ELL, setup.n);
  const gammaB = boundTimes(ELL + EPS, setup.n);
  const mu = sampleRange(muB, rng);
  const r = nonceFor(pk, rng, own);
  const gamma = sampleRange(gammaB, rng);
  const xBits = Math.max(ELL, bitsOf(w.x < 0n ? -w.x : w.x));
  const S = setup.commitSecret(w.x, xBits, mu, bitsOf(muB));
  const A = encryptFor(pk, alpha, r, own);
  const Y = mulP(st.g, alpha);
  const D = setup.commitSecret(alpha, ELL + EPS, gamma, bitsOf(gammaB));
  const e = challenge(ctx, st, S, A, Y, D);
  return { S, A, Y, D, z1: alpha + e * w.x, z2: (r * nonceToChallenge(pk, w.rho, e, own)) % pk.n, z3: gamma + e * mu };
}

/** `own`: the verifier's Paillier key, if at hand, for the ring-Pedersen check on its own N̂. */
export function verifyLogStar(ctx: ProofContext, st: LogStarStatement, p: LogStarProof, own?: PaillierSecretKey): boolean {
  const { pk, setup } = st;
  if (!pk.areCiphertexts([st.C, p.A], [p.z2])) return false;
  if (!setup.areUnits([p.S, p.D])) return false;
  if (!inRange(p.z1, boundTimes(ELL + EPS))) return false;
  const e = challenge(ctx, st, p.S, p.A, p.Y, p.D);
  if (!holdsWithChallenge(pk.encrypt(p.z1, p.z2), p.A, st.C, e, pk.n2)) return false;
  // public scalars: variable-time multiplication
  if (!mulPublic(st.g, p.z1).equals(p.Y.add(mulPublic(st.X, e)))) return false;
  return setup.verifyEquation(p.z1, p.z3, p.D, p.S, e, own); // D, S are units (checked above)
}
