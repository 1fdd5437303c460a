/**
 * Π^sch (paper, Figure "Schnorr PoK"): knowledge of x with X = x·G. The first message A = α·G may
 * be produced ahead (keygen commits to it in round 1), then e = H(ctx, X, A) mod q and z = α + e·x.
 * Verifier: z·G = A + e·X.
 *
 * @example
 *   const c = schCommit(rng); const proof = schProve(ctx, X, x, c); schVerify(ctx, X, proof); // true
 */
import { utf8ToBytes } from '@noble/hashes/utils.js';
import { randomBelow, type ByteSource } from '../../../bigint/index.js';
import { mulG, pointToHex, scalar, type Point } from '../group.js';
import { Q } from '../params.js';
import { transcriptFor, type ProofContext } from './common.js';

export interface SchCommitment {
  readonly alpha: bigint; // secret nonce: never leaves the prover
  readonly A: Point;
}

export interface SchProof {
  readonly A: Point;
  readonly z: bigint;
}

export function schCommit(rng: ByteSource): SchCommitment {
  const alpha = randomBelow(Q - 1n, rng) + 1n;
  return { alpha, A: mulG(alpha) };
}

function challenge(ctx: ProofContext, X: Point, A: Point): bigint {
  const t = transcriptFor('sch', ctx);
  t.bytes('X', utf8ToBytes(pointToHex(X))).bytes('A', utf8ToBytes(pointToHex(A)));
  return t.challengeBelow(Q);
}

export function schProve(ctx: ProofContext, X: Point, x: bigint, c: SchCommitment): SchProof {
  const e = challenge(ctx, X, c.A);
  return { A: c.A, z: scalar(c.alpha + e * x) };
}

export function schVerify(ctx: ProofContext, X: Point, p: SchProof): boolean {
  if (p.z < 0n || p.z >= Q || p.A.is0()) return false;
  const e = challenge(ctx, X, p.A);
  return mulG(p.z).equals(p.A.add(X.multiplyUnsafe(e)));
}
