/**
 * A stored presignature (output of CMP presigning): the public R and, secretly, this party's nonce
 * share k_i and χ_i. It is single-use by construction: `consume()` hands the secrets out once and
 * marks the object spent; a second call throws. The serialised form carries the spent flag, so a
 * node must delete (or persist as spent) a presignature in the same transaction in which it uses
 * it — two signatures from one presignature reveal the key share.
 * It also keeps every signer's public R̄_j = k_j·R and S̄_j = χ_j·R (checked at presigning:
 * ΣR̄_j = G, ΣS̄_j = X), which make each σ_j = k_j·m + r·χ_j checkable: σ_j·R = m·R̄_j + r·S̄_j.
 *
 * @example
 *   const { k, chi } = presig.consume(); // second call: ProtocolMisuse cmp_presignature_spent
 */
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import { CustosError } from '../../../core/errors.js';
import { ProtocolMisuse, type Json } from '../round.js';
import { hexInt, hexPoint, parseHexInt } from './codec.js';
import { mulPublic, pointFromHex, scalar, type Point } from './group.js';
import { Transcript } from './transcript.js';

/** Every signer's R̄_j = k_j·R and S̄_j = χ_j·R (public). */
export interface PresignatureShares {
  readonly RBar: ReadonlyMap<string, Point>;
  readonly SBar: ReadonlyMap<string, Point>;
}

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
    /** Absent in presignatures stored before identification existed (then σ_j cannot be checked). */
    readonly shares?: PresignatureShares,
  ) {
    this.spentFlag = spent;
  }

  /**
   * Digest of the public presignature (id, signers, X, R, every R̄_j, S̄_j): signers compare it in
   * the signing round before blaming anyone for a σ_j, so a presigning broadcast that differed
   * between signers is told apart from a wrong σ_j.
   */
  publicDigest(): string {
    const t = new Transcript('custos/cggmp21/v1/presignature', this.id, '');
    t.bytes('signers', utf8ToBytes(this.signers.join(','))).bytes('X', utf8ToBytes(hexPoint(this.publicKey))).bytes('R', utf8ToBytes(hexPoint(this.R)));
    for (const j of this.signers) {
      t.bytes(`RBar/${j}`, utf8ToBytes(this.shares ? hexPoint(this.shares.RBar.get(j) as Point) : ''));
      t.bytes(`SBar/${j}`, utf8ToBytes(this.shares ? hexPoint(this.shares.SBar.get(j) as Point) : ''));
    }
    return bytesToHex(t.squeeze(32));
  }

  /**
   * Whether σ_j is signer j's correct share for digest scalar m: σ_j·R = m·R̄_j + r·S̄_j with
   * r = R.x mod q. Null when this presignature carries no R̄/S̄ (stored by an older version).
   */
  checkShare(j: string, sigma: bigint, m: bigint): boolean | null {
    const Rb = this.shares?.RBar.get(j);
    const Sb = this.shares?.SBar.get(j);
    if (!Rb || !Sb) return null;
    const r = scalar(this.R.x);
    return mulPublic(this.R, sigma).equals(mulPublic(Rb, m).add(mulPublic(Sb, r)));
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
      ...(this.shares
        ? {
            RBar: Object.fromEntries([...this.shares.RBar].map(([j, p]) => [j, hexPoint(p)])),
            SBar: Object.fromEntries([...this.shares.SBar].map(([j, p]) => [j, hexPoint(p)])),
          }
        : {}),
    };
  }

  static fromJson(j: Json): Presignature {
    try {
      const o = j as { [k: string]: Json };
      const spent = o.spent === true;
      const points = (m: Json) => new Map(Object.entries(m as { [id: string]: string }).map(([j, p]) => [j, pointFromHex(p, true)]));
      const signers = o.signers as string[];
      let shares: PresignatureShares | undefined;
      if (o.RBar !== undefined || o.SBar !== undefined) {
        shares = { RBar: points(o.RBar as Json), SBar: points(o.SBar as Json) };
        for (const j of signers) if (!shares.RBar.has(j) || !shares.SBar.has(j)) throw new Error('incomplete shares');
      }
      return new Presignature(
        o.id as string,
        o.self as string,
        signers,
        pointFromHex(o.publicKey as string),
        pointFromHex(o.R as string),
        spent ? 0n : parseHexInt(o.k as string),
        spent ? 0n : parseHexInt(o.chi as string),
        spent,
        shares,
      );
    } catch {
      throw new CustosError('cmp_bad_presignature', 'stored presignature is malformed');
    }
  }
}
