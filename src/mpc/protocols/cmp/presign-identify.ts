/**
 * Identifiable abort for CMP presigning (the paper's "Identifying Aborts" step after Figure 7's
 * output checks), run as an extra round only when a check fails. Every party broadcasts openings
 * (zk/open.ts: plaintext plus a proof that hides the nonce) of the Paillier ciphertexts it
 * decrypted, and every party recomputes the failing value of each signer from public, broadcast
 * data (the round-2 ciphertexts are broadcast and echo-checked for this):
 *
 * - δ check failed (δ·G ≠ ΣΔ_j): party j reveals γ_j (checked against Γ_j), k_j (opening of K_j)
 *   and α_{j,l} = dec(D_{j,l}) for every l (openings). With β_{j,l} = α_{l,j} - k_l·γ_j (what j put
 *   into D_{l,j}), the value j had to send is
 *       δ_j = k_j·γ_j + Σ_l (α_{j,l} - α_{l,j} + k_l·γ_j)  (mod q)
 *   These sum to k·γ, which matches ΣΔ_j = k·Γ (Π^log*), so when δ·G ≠ ΣΔ_j some δ_j differs from
 *   its recomputation, and an honest party's never does. k_j, γ_j and the α's are ephemeral values
 *   of this presignature, which is discarded; nothing here involves χ_j, x_j or the Paillier key.
 * - χ check failed (ΣŜ_j ≠ δ·X, Ŝ_j = χ_j·Γ): party j reveals α̂_{j,l} = dec(D̂_{j,l}) (openings).
 *   With k = Σk_l and W_j = λ_j·X_j,  χ_j = w_j·k + Σ_l (α̂_{j,l} - α̂_{l,j}),  so
 *       Ŝ_j must equal δ·W_j + (Σ_l α̂_{j,l} - α̂_{l,j})·Γ   (k·w_j·Γ = w_j·δ·G = δ·W_j)
 *   which sums to δ·X. No k_j, χ_j or w_j is revealed; each α̂ is masked by β̂ ∈ ±2^ℓ'.
 *
 * A failed opening names its sender (and only failed openings are reported in that case, since the
 * recomputation would use its lie); otherwise the senders whose value differs are named.
 *
 * @example
 *   const culprits = blameDelta(view, reveals); // ['c']
 */
import { mulG, mulPublic, scalar, type Point } from './group.js';
import type { PaillierPublicKey } from './paillier.js';
import { verifyOpening, type Opening } from './zk/open.js';

/** Public data every signer holds after round 3 (broadcast and echo-checked). */
export interface PresignPublicView {
  readonly session: string;
  readonly signers: readonly string[];
  readonly paillier: ReadonlyMap<string, PaillierPublicKey>;
  /** K_j (ciphertext of k_j under N_j). */
  readonly K: ReadonlyMap<string, bigint>;
  /** Γ_j = γ_j·G. */
  readonly Gamma: ReadonlyMap<string, Point>;
  /** D[from][to]: the ciphertext `from` sent to `to` (under N_to), i.e. D_{to,from}. Same for D̂. */
  readonly D: ReadonlyMap<string, ReadonlyMap<string, bigint>>;
  readonly Dh: ReadonlyMap<string, ReadonlyMap<string, bigint>>;
  readonly delta: ReadonlyMap<string, bigint>;
  readonly S: ReadonlyMap<string, Point>;
}

export interface DeltaReveal {
  readonly gamma: bigint;
  readonly k: Opening;
  /** l → opening of D_{j,l} (the ciphertext l sent to j). */
  readonly alpha: ReadonlyMap<string, Opening>;
}

export interface ChiReveal {
  /** l → opening of D̂_{j,l}. */
  readonly alphaHat: ReadonlyMap<string, Opening>;
}

/** The proof context of party j's openings in the identification round. */
export function identifyContext(session: string, j: string): { session: string; prover: string } {
  return { session: `${session}/identify`, prover: j };
}

function received(view: PresignPublicView, m: 'D' | 'Dh', to: string, from: string): bigint {
  return view[m].get(from)?.get(to) as bigint;
}

function openingsValid(view: PresignPublicView, j: string, m: 'D' | 'Dh', ops: ReadonlyMap<string, Opening>): boolean {
  const pk = view.paillier.get(j) as PaillierPublicKey;
  const ctx = identifyContext(view.session, j);
  for (const l of view.signers) {
    if (l === j) continue;
    const o = ops.get(l);
    if (!o || !verifyOpening(ctx, pk, received(view, m, j, l), o)) return false;
  }
  return true;
}

/** Parties whose δ_j is wrong (or whose reveal is), from every signer's reveal. */
export function blameDelta(view: PresignPublicView, reveals: ReadonlyMap<string, DeltaReveal>): string[] {
  const bad: string[] = [];
  const k = new Map<string, bigint>();
  for (const j of view.signers) {
    const r = reveals.get(j) as DeltaReveal;
    const ctx = identifyContext(view.session, j);
    const ok =
      r.gamma >= 0n &&
      mulG(r.gamma).equals(view.Gamma.get(j) as Point) &&
      verifyOpening(ctx, view.paillier.get(j) as PaillierPublicKey, view.K.get(j) as bigint, r.k) &&
      openingsValid(view, j, 'D', r.alpha);
    if (ok) k.set(j, r.k.m);
    else bad.push(j);
  }
  if (bad.length > 0) return bad;
  const culprits: string[] = [];
  for (const j of view.signers) {
    const r = reveals.get(j) as DeltaReveal;
    const kj = k.get(j) as bigint;
    let want = kj * r.gamma;
    for (const l of view.signers) {
      if (l === j) continue;
      const aJL = (r.alpha.get(l) as Opening).m;
      const aLJ = ((reveals.get(l) as DeltaReveal).alpha.get(j) as Opening).m;
      want += aJL - aLJ + (k.get(l) as bigint) * r.gamma;
    }
    if (scalar(want) !== (view.delta.get(j) as bigint)) culprits.push(j);
  }
  return culprits;
}

/** Parties whose Ŝ_j = χ_j·Γ is wrong (or whose reveal is). `W`: λ_j·X_j; `delta`: the checked δ. */
export function blameChi(
  view: PresignPublicView,
  reveals: ReadonlyMap<string, ChiReveal>,
  W: ReadonlyMap<string, Point>,
  delta: bigint,
  Gamma: Point,
): string[] {
  const bad = view.signers.filter((j) => !openingsValid(view, j, 'Dh', (reveals.get(j) as ChiReveal).alphaHat));
  if (bad.length > 0) return bad;
  const culprits: string[] = [];
  for (const j of view.signers) {
    let c = 0n;
    for (const l of view.signers) {
      if (l === j) continue;
      c += ((reveals.get(j) as ChiReveal).alphaHat.get(l) as Opening).m - ((reveals.get(l) as ChiReveal).alphaHat.get(j) as Opening).m;
    }
    const want = mulPublic(W.get(j) as Point, delta).add(mulPublic(Gamma, c));
    if (!want.equals(view.S.get(j) as Point)) culprits.push(j);
  }
  return culprits;
}

