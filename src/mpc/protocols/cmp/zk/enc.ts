/**
 * Π^enc (paper, Figure "Paillier Encryption in Range ZK"): the prover knows k ∈ ±2^ℓ and ρ with
 * K = (1+N0)^k ρ^N0 mod N0², against the verifier's ring-Pedersen setup (N̂, s, t).
 *   α ← ±2^{ℓ+ε}, μ ← ±2^ℓ·N̂, r ← Z*_N0, γ ← ±2^{ℓ+ε}·N̂
 *   S = s^k t^μ, A = (1+N0)^α r^N0, C = s^α t^γ;  e ← ±q (Fiat–Shamir)
 *   z1 = α + e·k, z2 = r·ρ^e mod N0, z3 = γ + e·μ
 * Verifier: z1 ∈ ±2^{ℓ+ε}, (1+N0)^z1 z2^N0 = A·K^e mod N0², s^z1 t^z3 = C·S^e mod N̂.
 *
 * @example
 *   const proof = proveEnc(ctx, { pk, K, setup }, { k, rho }, rng);
 *   verifyEnc(ctx, { pk, K, setup }, proof); // true
 */
import type { ByteSource } from '../../../bigint/index.js';
import { ELL, EPS, Q } from '../params.js';
import type { PaillierPublicKey, PaillierSecretKey } from '../paillier.js';
import type { RingPedersen } from '../pedersen.js';
import { bitsOf, boundTimes, encryptFor, holdsWithChallenge, inRange, nonceFor, nonceToChallenge, sampleRange, transcriptFor, type ProofContext } from './common.js';

export interface EncStatement {
  readonly pk: PaillierPublicKey; // N0, the prover's Paillier key
  readonly K: bigint;
  readonly setup: RingPedersen; // the verifier's (N̂, s, t)
}

export interface EncProof {
  readonly S: bigint;
  readonly A: bigint;
  readonly C: bigint;
  readonly z1: bigint;
  readonly z2: bigint;
  readonly z3: bigint;
}

function challenge(ctx: ProofContext, st: EncStatement, S: bigint, A: bigint, C: bigint): bigint {
  const t = transcriptFor('enc', ctx);
  t.int('N0', st.pk.n).int('K', st.K).int('Nhat', st.setup.n).int('s', st.setup.s).int('t', st.setup.t);
  t.int('S', S).int('A', A).int('C', C);
  return t.challengeSigned(Q);
}

/** `own`: the prover's Paillier secret key, if at hand, to encrypt and raise ρ by CRT (same result, faster). */
export function proveEnc(
  ctx: ProofContext,
  st: EncStatement,
  w: { k: bigint; rho: bigint },
  rng: ByteSource,
  own?: PaillierSecretKey,
): EncProof {
  const { pk, setup } = st;
  const alpha = sampleRange(boundTimes(ELL + EPS), rng);
  const muB = boundTimes(ELL, setup.n);
  const gammaB = boundTimes(ELL + EPS, setup.n);
  const mu = sampleRange(muB, rng);
  const r = nonceFor(pk, rng, own);
  const gamma = sampleRange(gammaB, rng);
  const kBits = Math.max(ELL, bitsOf(w.k < 0n ? -w.k : w.k));
  const S = setup.commitSecret(w.k, kBits, mu, bitsOf(muB));
  const A = encryptFor(pk, alpha, r, own);
  const C = setup.commitSecret(alpha, ELL + EPS, gamma, bitsOf(gammaB));
  const e = challenge(ctx, st, S, A, C);
  return {
    S,
    A,
    C,
    z1: alpha + e * w.k,
    z2: (r * nonceToChallenge(pk, w.rho, e, own)) % pk.n,
    z3: gamma + e * mu,
  };
}

/** `own`: the verifier's Paillier key, if at hand, for the ring-Pedersen check on its own N̂. */
export function verifyEnc(ctx: ProofContext, st: EncStatement, p: EncProof, own?: PaillierSecretKey): boolean {
  const { pk, setup } = st;
  if (!pk.areCiphertexts([st.K, p.A], [p.z2])) return false;
  if (!setup.areUnits([p.S, p.C])) return false;
  if (!inRange(p.z1, boundTimes(ELL + EPS))) return false;
  const e = challenge(ctx, st, p.S, p.A, p.C);
  if (!holdsWithChallenge(pk.encrypt(p.z1, p.z2), p.A, st.K, e, pk.n2)) return false;
  return setup.verifyEquation(p.z1, p.z3, p.C, p.S, e, own); // C, S are units (checked above)
}
