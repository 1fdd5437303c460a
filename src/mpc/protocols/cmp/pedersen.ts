/**
 * Ring-Pedersen parameters (N̂, s, t) with t = r² and s = t^λ mod N̂ for a secret λ ∈ Z_φ(N̂)
 * (paper, section 1.2 / Figure "aux info"), and the commitment s^x · t^y mod N̂ used by every range
 * proof. Commitments to secrets take the signed ladder path; verification equations use public
 * exponents.
 *
 * @example
 *   const { params, lambda } = ringPedersenGenerate(sk, rng);
 *   const c = params.commitSecret(x, ELL, mu, ELL + MODULUS_BITS);
 */
import { CustosError } from '../../../core/errors.js';
import {
  bitLength,
  gcd,
  modPow,
  FixedBase,
  randomBelow,
  randomUnit,
  type ByteSource,
} from '../../bigint/index.js';
import type { PaillierSecretKey } from './paillier.js';

// Tables of PUBLIC bases (peers' s and t), shared across rounds and sessions; bounded in size.
const TABLES = new Map<string, FixedBase>();
const MAX_TABLES = 32;

function tableFor(base: bigint, n: bigint): FixedBase {
  const key = `${n.toString(36)}/${base.toString(36)}`;
  let t = TABLES.get(key);
  if (t) {
    TABLES.delete(key);
  } else {
    t = new FixedBase(base, n);
    if (TABLES.size >= MAX_TABLES) TABLES.delete(TABLES.keys().next().value as string);
  }
  TABLES.set(key, t);
  return t;
}

export class RingPedersen {
  readonly n: bigint;
  readonly s: bigint;
  readonly t: bigint;

  constructor(n: bigint, s: bigint, t: bigint) {
    if (n <= 3n || (n & 1n) === 0n) throw new CustosError('pedersen_bad_modulus', 'ring-Pedersen modulus must be odd');
    for (const v of [s, t]) {
      if (v <= 1n || v >= n || gcd(v, n) !== 1n) throw new CustosError('pedersen_bad_params', 'ring-Pedersen s and t must be units other than 1');
    }
    if (s === t) throw new CustosError('pedersen_bad_params', 'ring-Pedersen s and t must differ');
    this.n = n;
    this.s = s;
    this.t = t;
  }

  /** s^x t^y mod N̂ for secret x ∈ ±2^xBits, y ∈ ±2^yBits (fixed-base tables, built on first use). */
  commitSecret(x: bigint, xBits: number, y: bigint, yBits: number): bigint {
    return (tableFor(this.s, this.n).powSigned(x, xBits) * tableFor(this.t, this.n).powSigned(y, yBits)) % this.n;
  }

  /** t^y mod N̂ for secret y ∈ ±2^yBits. */
  powTSecret(y: bigint, yBits: number): bigint {
    return tableFor(this.t, this.n).powSigned(y, yBits);
  }

  /** s^x t^y mod N̂ for public exponents (verification side). */
  commitPublic(x: bigint, y: bigint): bigint {
    return (modPow(this.s, x, this.n) * modPow(this.t, y, this.n)) % this.n;
  }

  /** Checks s^z1 t^z2 = A · B^e mod N̂ (the shape of every ring-Pedersen verification). */
  verify(z1: bigint, z2: bigint, a: bigint, b: bigint, e: bigint): boolean {
    if (!this.isUnit(a) || !this.isUnit(b)) return false;
    return this.commitPublic(z1, z2) === (a * modPow(b, e, this.n)) % this.n;
  }

  isUnit(x: bigint): boolean {
    return x > 0n && x < this.n && gcd(x, this.n) === 1n;
  }

  bits(): number {
    return bitLength(this.n);
  }
}

/** Fresh ring-Pedersen parameters over the party's own Paillier modulus; λ stays secret. */
export function ringPedersenGenerate(sk: PaillierSecretKey, rng: ByteSource): { params: RingPedersen; lambda: bigint } {
  const n = sk.pk.n;
  for (;;) {
    const r = randomUnit(n, rng);
    const t = (r * r) % n;
    const lambda = randomBelow(sk.phi, rng);
    const s = sk.powSecretModN(t, lambda);
    if (t > 1n && s > 1n && s !== t) return { params: new RingPedersen(n, s, t), lambda };
  }
}
