/**
 * Π^prm (paper, Figure "Ring-Pedersen Parameters ZK"): the prover knows λ with s = t^λ mod N.
 * For i < m = STAT: a_i ← Z_φ(N), A_i = t^a_i; bits e_i by Fiat–Shamir; z_i = a_i + e_i·λ mod φ(N).
 * Verifier: s, t units of Z_N, every A_i a unit, 0 ≤ z_i < N, t^z_i = A_i · s^e_i mod N.
 *
 * @example
 *   const proof = provePrm(ctx, sk, params, lambda, rng); verifyPrm(ctx, params, proof); // true
 */
import { randomBelow, modPow, type ByteSource } from '../../../bigint/index.js';
import type { PaillierSecretKey } from '../paillier.js';
import type { RingPedersen } from '../pedersen.js';
import { STAT } from '../params.js';
import { transcriptFor, type ProofContext } from './common.js';

export interface PrmProof {
  readonly A: readonly bigint[];
  readonly z: readonly bigint[];
}

function challenges(ctx: ProofContext, rp: RingPedersen, A: readonly bigint[]): boolean[] {
  const t = transcriptFor('prm', ctx);
  t.int('N', rp.n).int('s', rp.s).int('t', rp.t).ints('A', A);
  return t.challengeBits(STAT);
}

export function provePrm(
  ctx: ProofContext,
  sk: PaillierSecretKey,
  rp: RingPedersen,
  lambda: bigint,
  rng: ByteSource,
): PrmProof {
  const a = Array.from({ length: STAT }, () => randomBelow(sk.phi, rng));
  const A = a.map((ai) => sk.powSecretModN(rp.t, ai));
  const e = challenges(ctx, rp, A);
  const z = a.map((ai, i) => (e[i] ? (ai + lambda) % sk.phi : ai));
  return { A, z };
}

export function verifyPrm(ctx: ProofContext, rp: RingPedersen, p: PrmProof): boolean {
  if (p.A.length !== STAT || p.z.length !== STAT) return false;
  if (!rp.isUnit(rp.s) || !rp.isUnit(rp.t)) return false;
  for (const A of p.A) if (!rp.isUnit(A)) return false;
  const e = challenges(ctx, rp, p.A);
  for (let i = 0; i < STAT; i++) {
    const z = p.z[i] as bigint;
    if (z < 0n || z >= rp.n) return false;
    const rhs = e[i] ? ((p.A[i] as bigint) * rp.s) % rp.n : (p.A[i] as bigint);
    if (modPow(rp.t, z, rp.n) !== rhs) return false;
  }
  return true;
}
