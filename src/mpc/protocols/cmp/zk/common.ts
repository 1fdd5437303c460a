/**
 * Shared pieces of the zero-knowledge proofs: the proof context bound into every Fiat–Shamir
 * transcript (session id and prover id), symmetric interval sampling and range checks.
 * Provers do not police their own witnesses: the protocol samples them in range by construction,
 * and every security property rests on the verifier's checks, which tests exercise with
 * out-of-range witnesses.
 *
 * @example
 *   const t = transcriptFor('enc', { session, prover: 'alice' });
 *   const mu = sampleRange(boundTimes(ELL, nHat), rng);  // uniform in ±2^ℓ·N̂
 */
import { bitLength, modPow, randomBelow, randomUnit, type ByteSource } from '../../../bigint/index.js';
import type { PaillierPublicKey, PaillierSecretKey } from '../paillier.js';
import { Transcript } from '../transcript.js';

/** What every proof binds: the protocol session (including any rid) and the prover's party id. */
export interface ProofContext {
  readonly session: string;
  readonly prover: string;
}

export function transcriptFor(proof: string, ctx: ProofContext): Transcript {
  return new Transcript(`custos/cggmp21/v1/zk/${proof}`, ctx.session, ctx.prover);
}

/** `own` when it is the secret key of `pk` (the party's own key, where CRT shortcuts apply), else undefined. */
export function ownKeyOf(pk: PaillierPublicKey, own?: PaillierSecretKey): PaillierSecretKey | undefined {
  return own && own.pk.n === pk.n ? own : undefined;
}

/** A uniform nonce in Z*_N for `pk`: by the primes when `own` is its secret key, else with a gcd. */
export function nonceFor(pk: PaillierPublicKey, rng: ByteSource, own?: PaillierSecretKey): bigint {
  return ownKeyOf(pk, own)?.randomNonce(rng) ?? randomUnit(pk.n, rng);
}

/** ρ^e mod N for `pk` and a public challenge e: by CRT when `own` is its secret key. */
export function nonceToChallenge(pk: PaillierPublicKey, rho: bigint, e: bigint, own?: PaillierSecretKey): bigint {
  return ownKeyOf(pk, own)?.powModN(rho, e) ?? modPow(rho, e, pk.n);
}

/** Enc(m; ρ) under `pk`: by CRT when `own` is its secret key. */
export function encryptFor(pk: PaillierPublicKey, m: bigint, rho: bigint, own?: PaillierSecretKey): bigint {
  return ownKeyOf(pk, own)?.encryptOwn(m, rho) ?? pk.encrypt(m, rho);
}

/** 2^bits · m */
export function boundTimes(bits: number, m = 1n): bigint {
  return (1n << BigInt(bits)) * m;
}

/** Uniform integer in [-bound, bound]. */
export function sampleRange(bound: bigint, rng: ByteSource): bigint {
  return randomBelow(2n * bound + 1n, rng) - bound;
}

/** -bound ≤ x ≤ bound */
export function inRange(x: bigint, bound: bigint): boolean {
  return x >= -bound && x <= bound;
}

/** Bit bound of a symmetric interval (for the secret-exponent ladder). */
export function bitsOf(bound: bigint): number {
  return bitLength(bound);
}

/** Integer square root (floor). */
export function isqrt(n: bigint): bigint {
  if (n < 2n) return n;
  let x = 1n << BigInt(Math.ceil(bitLength(n) / 2));
  for (;;) {
    const y = (x + n / x) >> 1n;
    if (y >= x) return x;
    x = y;
  }
}

/**
 * lhs ≡ a · b^e (mod m) for a PUBLIC signed challenge e, without inverting b (a unit): for e < 0
 * it checks lhs · b^|e| ≡ a instead, the same congruence.
 */
export function holdsWithChallenge(lhs: bigint, a: bigint, b: bigint, e: bigint, m: bigint, pow: (x: bigint, e: bigint, m: bigint) => bigint = modPow): boolean {
  return e >= 0n ? lhs % m === (a * pow(b, e, m)) % m : (lhs * pow(b, -e, m)) % m === a % m;
}
