/**
 * Security parameters of CGGMP21 as suggested in the paper (ePrint 2021/060, section "Parameters"):
 * κ = 256 for secp256k1, ℓ = κ (size of the secrets k, γ, x), ℓ' = 5κ (size of the additive masks
 * β), ε = 2κ (slack of the range proofs), Paillier moduli N = pq of 8κ = 2048 bits from 1024-bit
 * safe primes, and m = 80 repetitions (statistical security 2^-80) for Π^mod and Π^prm.
 *
 * @example
 *   import { ELL, EPS, Q } from './params.js';
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';

/** Order of the secp256k1 group. */
export const Q: bigint = secp256k1.Point.Fn.ORDER;
/** ℓ: bit bound of the secrets in Π^enc, Π^log*, Π^aff-g (x, k, γ). */
export const ELL = 256;
/** ℓ': bit bound of the additive masks (β, y in Π^aff-g). */
export const ELL_PRIME = 5 * 256;
/** ε: slack bits of the range proofs. */
export const EPS = 2 * 256;
/** Size of each Paillier / ring-Pedersen modulus in bits (N = pq, p and q safe 1024-bit primes). */
export const MODULUS_BITS = 2048;
export const PRIME_BITS = MODULUS_BITS / 2;
/** Repetitions of Π^mod and Π^prm (statistical soundness 2^-STAT). */
export const STAT = 80;
