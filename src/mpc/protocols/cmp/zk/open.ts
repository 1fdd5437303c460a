/**
 * Opening of a Paillier ciphertext, for identifiable abort (custos's form of the paper's Π^dec in
 * the identification steps, see docs/cggmp21.md): the owner of N reveals the plaintext m of C as
 * the centred integer (|m| < N/2) and proves that C·(1+N)^-m is an N-th residue modulo N², i.e.
 * knowledge of the nonce ρ with C = (1+N)^m ρ^N, without revealing ρ (Schnorr-style):
 *   r ← Z*_N, A = r^N mod N²;  e ← [0, 2^192) (Fiat–Shamir over N, C, m, A);  z = r·ρ^e mod N
 * Verifier: C and A units of Z_N², z a unit of Z_N, |m| < N/2, z^N = A·u^e mod N² for u = C(1+N)^-m.
 * Soundness: answers z, z' to challenges e ≠ e' give (z/z')^N = u^(e-e'); every prime factor of N
 * exceeds 2^255 (Π^fac), so gcd(e - e', N) = 1 and u is an N-th power: C encrypts m modulo N, and
 * |m| < N/2 makes the integer unique.
 *
 * @example
 *   const o = proveOpening(ctx, C, sk, rng);   // o.m === sk.decryptSigned(C)
 *   verifyOpening(ctx, sk.pk, C, o);           // true
 */
import { modPow, randomUnit, type ByteSource } from '../../../bigint/index.js';
import type { PaillierPublicKey, PaillierSecretKey } from '../paillier.js';
import { transcriptFor, type ProofContext } from './common.js';

export interface Opening {
  /** The plaintext, centred: -N/2 < m ≤ N/2. */
  readonly m: bigint;
  readonly A: bigint;
  readonly z: bigint;
}

const CHALLENGE_BOUND = 1n << 192n;

function challenge(ctx: ProofContext, pk: PaillierPublicKey, C: bigint, m: bigint, A: bigint): bigint {
  return transcriptFor('open', ctx).int('N', pk.n).int('C', C).int('m', m).int('A', A).challengeBelow(CHALLENGE_BOUND);
}

/** (1+N)^-m mod N² = 1 - m·N. */
function residue(pk: PaillierPublicKey, C: bigint, m: bigint): bigint {
  const gInv = (((1n - m * pk.n) % pk.n2) + pk.n2) % pk.n2;
  return (C * gInv) % pk.n2;
}

export function proveOpening(ctx: ProofContext, C: bigint, sk: PaillierSecretKey, rng: ByteSource): Opening {
  const m = sk.decryptSigned(C);
  const rho = sk.nonceOf(C);
  const r = randomUnit(sk.pk.n, rng);
  const A = sk.encryptOwn(0n, r);
  const e = challenge(ctx, sk.pk, C, m, A);
  return { m, A, z: (r * modPow(rho, e, sk.pk.n)) % sk.pk.n };
}

export function verifyOpening(ctx: ProofContext, pk: PaillierPublicKey, C: bigint, o: Opening): boolean {
  const half = pk.n / 2n;
  if (o.m > half || o.m < -half) return false;
  if (!pk.areCiphertexts([C, o.A], [o.z])) return false;
  const e = challenge(ctx, pk, C, o.m, o.A);
  return modPow(o.z, pk.n, pk.n2) === (o.A * modPow(residue(pk, C, o.m), e, pk.n2)) % pk.n2;
}
