/**
 * Shamir/Feldman helpers over secp256k1: party evaluation points (1-based position in the sorted
 * party list — never zero, never repeated), polynomial evaluation, Feldman commitment evaluation,
 * and Lagrange coefficients at zero for a signer set.
 *
 * @example
 *   const pts = evaluationPoints(['a', 'b', 'c']);           // a→1, b→2, c→3
 *   const l = lagrangeAtZero(pts.get('a')!, [1n, 3n]);       // coefficient of party 'a' in {a, c}
 */
import { randomBelow, type ByteSource } from '../../bigint/index.js';
import { ProtocolMisuse } from '../round.js';
import { modQInverse, mulG, scalar, type Point } from './group.js';
import { Q } from './params.js';

export function evaluationPoints(parties: readonly string[]): Map<string, bigint> {
  const sorted = [...parties].sort();
  if (new Set(sorted).size !== sorted.length) throw new ProtocolMisuse('cmp_duplicate_party', 'party ids must be distinct');
  return new Map(sorted.map((p, i) => [p, BigInt(i + 1)]));
}

export function randomPolynomial(degree: number, constant: bigint | null, rng: ByteSource): bigint[] {
  const coeffs: bigint[] = [];
  for (let i = 0; i <= degree; i++) coeffs.push(i === 0 && constant !== null ? scalar(constant) : randomBelow(Q, rng));
  return coeffs;
}

export function evalPoly(coeffs: readonly bigint[], x: bigint): bigint {
  let r = 0n;
  for (let i = coeffs.length - 1; i >= 0; i--) r = (r * x + (coeffs[i] as bigint)) % Q;
  return r;
}

export function commitPoly(coeffs: readonly bigint[]): Point[] {
  return coeffs.map((c) => mulG(c));
}

/** Σ_k x^k · C_k */
export function evalCommitment(commitment: readonly Point[], x: bigint): Point {
  let acc = commitment[commitment.length - 1] as Point;
  for (let i = commitment.length - 2; i >= 0; i--) {
    acc = acc.is0() ? acc : acc.multiplyUnsafe(x);
    acc = acc.add(commitment[i] as Point);
  }
  return acc;
}

export function lagrangeAtZero(self: bigint, set: readonly bigint[]): bigint {
  let num = 1n;
  let den = 1n;
  for (const j of set) {
    if (j === self) continue;
    num = (num * j) % Q;
    den = (den * scalar(j - self)) % Q;
  }
  return (num * modQInverse(den)) % Q;
}
