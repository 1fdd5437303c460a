/**
 * A stored presignature (output of CMP presigning): the public R and, secretly, this party's nonce
 * share k_i and χ_i. It is single-use by construction: `consume()` hands the secrets out once and
 * marks the object spent; a second call throws. The serialised form carries the spent flag, so a
 * node must delete (or persist as spent) a presignature in the same transaction in which it uses
 * it — two signatures from one presignature reveal the key share.
 *
 * @example
 *   const { k, chi } = presig.consume(); // second call: ProtocolMisuse cmp_presignature_spent
 */
import { CustosError } from '../../../core/errors.js';
import { ProtocolMisuse, type Json } from '../round.js';
import { hexInt, hexPoint, parseHexInt } from './codec.js';
import { pointFromHex, type Point } from './group.js';

export class Presignature {
  private spentFlag: boolean;

  constructor(
    readonly id: string,
    readonly self: string,
    readonly signers: readonly string[],
    readonly publicKey: Point,
    readonly R: Point,
    private readonly k: bigint,
    private readonly chi: bigint,
    spent = false,
  ) {
    this.spentFlag = spent;
  }

  get spent(): boolean {
    return this.spentFlag;
  }

  /** Hands out (k_i, χ_i) once. */
  consume(): { k: bigint; chi: bigint } {
    if (this.spentFlag) throw new ProtocolMisuse('cmp_presignature_spent', `presignature ${this.id} was already used`);
    this.spentFlag = true;
    return { k: this.k, chi: this.chi };
  }

  toJson(): Json {
    return {
      v: 1,
      id: this.id,
      self: this.self,
      signers: [...this.signers],
      publicKey: hexPoint(this.publicKey),
      R: hexPoint(this.R),
      k: this.spentFlag ? null : hexInt(this.k),
      chi: this.spentFlag ? null : hexInt(this.chi),
      spent: this.spentFlag,
    };
  }

  static fromJson(j: Json): Presignature {
    try {
      const o = j as { [k: string]: Json };
      const spent = o.spent === true;
      return new Presignature(
        o.id as string,
        o.self as string,
        o.signers as string[],
        pointFromHex(o.publicKey as string),
        pointFromHex(o.R as string),
        spent ? 0n : parseHexInt(o.k as string),
        spent ? 0n : parseHexInt(o.chi as string),
        spent,
      );
    } catch {
      throw new CustosError('cmp_bad_presignature', 'stored presignature is malformed');
    }
  }
}
