/**
 * Fixed-base exponentiation for SECRET exponents with a base used many times (the ring-Pedersen
 * s and t of a peer): a table of base^(d·2^(4i)) for every 4-bit window i and digit d (grown on
 * demand), then one multiplication per window with the entry picked by a masked scan over all 16
 * digits. The sequence of operations depends only on the declared bound, never on the exponent
 * (no exponent-dependent branch or table index); the limits of BigInt timing noted in modpow.ts
 * apply. About 8× fewer multiplications than the Montgomery ladder.
 *
 * @example
 *   const fb = new FixedBase(s, nHat);
 *   fb.powSigned(x, 2816);   // s^x mod N̂ for |x| ≤ 2^2816 (negative x handled without a branch)
 */
import { CustosError } from '../../core/errors.js';
import { bitLength, mod } from './arith.js';
import { modPowNative } from './modpow.js';

const W = 4;
const DIGITS = 1 << W;

export class FixedBase {
  private readonly table: bigint[][] = [];
  private next: bigint;
  private readonly corrections = new Map<number, bigint>();

  constructor(
    readonly base: bigint,
    readonly modulus: bigint,
  ) {
    this.next = mod(base, modulus);
  }

  private grow(windows: number): void {
    const m = this.modulus;
    while (this.table.length < windows) {
      const g = this.next;
      const row: bigint[] = [1n % m];
      for (let d = 1; d < DIGITS; d++) row.push(((row[d - 1] as bigint) * g) % m);
      this.table.push(row);
      this.next = ((row[DIGITS - 1] as bigint) * g) % m; // g^(2^(4(i+1)))
    }
  }

  /** base^e for 0 ≤ e < 2^bits, in ceil(bits/4) table multiplications. */
  pow(e: bigint, bits: number): bigint {
    if (e < 0n || bitLength(e) > bits) throw new CustosError('bigint_exponent_too_long', 'secret exponent exceeds its declared bound');
    const windows = Math.ceil(bits / W);
    this.grow(windows);
    const m = this.modulus;
    let r = 1n % m;
    for (let i = 0; i < windows; i++) {
      const digit = Number((e >> BigInt(i * W)) & 15n);
      const row = this.table[i] as bigint[];
      let sel = 0n;
      for (let d = 0; d < DIGITS; d++) {
        const eq = ((digit ^ d) - 1) >>> 31; // 1 iff digit === d, without a branch
        sel |= (row[d] as bigint) & -BigInt(eq);
      }
      r = (r * sel) % m;
    }
    return r;
  }

  /** base^e for |e| ≤ 2^bound: e + 2^bound on the table, then the public correction base^(-2^bound). */
  powSigned(e: bigint, bound: number): bigint {
    const shift = 1n << BigInt(bound);
    if (e > shift || e < -shift) throw new CustosError('bigint_exponent_too_long', 'secret exponent exceeds its declared bound');
    let c = this.corrections.get(bound);
    if (c === undefined) {
      c = modPowNative(this.base, -shift, this.modulus);
      this.corrections.set(bound, c);
    }
    return (this.pow(e + shift, bound + 2) * c) % this.modulus;
  }
}
