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
import { COMPRESSED_POINT_HEX, mulPublic, pointFromHex, scalar, type Point } from './group.js';
import { Transcript } from './transcript.js';

/** Every signer's R̄_j = k_j·R and S̄_j = χ_j·R (public). */
export interface PresignatureShares {
  readonly RBar: ReadonlyMap<string, Point>;
  readonly SBar: ReadonlyMap<string, Point>;
}

/** The stored (compressed hex) encodings of the public part, kept so nothing is re-encoded online. */
interface PublicHex {
  readonly X: string;
  readonly R: string;
  readonly RBar?: { readonly [id: string]: string };
  readonly SBar?: { readonly [id: string]: string };
}

export class Presignature {
  private spentFlag: boolean;
  private sharesCache: PresignatureShares | undefined;
  private hexCache: PublicHex | undefined;
  private digestCache: string | undefined;
  private xPoint: Point | undefined;
  private rPoint: Point | undefined;

  /** `publicKey` and `R` may be undefined only when `hex` carries their encodings (fromJson). */
  constructor(
    readonly id: string,
    readonly self: string,
    readonly signers: readonly string[],
    publicKey: Point | undefined,
    R: Point | undefined,
    private readonly k: bigint,
    private readonly chi: bigint,
    spent = false,
    /** Absent in presignatures stored before identification existed (then σ_j cannot be checked). */
    shares?: PresignatureShares,
    /** Internal (fromJson): the stored encodings of the public part, decoded only when needed. */
    hex?: PublicHex,
  ) {
    this.spentFlag = spent;
    this.sharesCache = shares;
    this.hexCache = hex;
    this.xPoint = publicKey;
    this.rPoint = R;
    if (!hex && (!publicKey || !R)) throw new ProtocolMisuse('cmp_bad_presignature', 'a presignature needs X and R');
  }

  /** The public key X (decoded on first use: online signing needs only its encoding). */
  get publicKey(): Point {
    return (this.xPoint ??= pointFromHex(this.publicHex().X));
  }

  /** R = Γ^(1/δ) (decoded on first use: online signing needs only its encoding). */
  get R(): Point {
    return (this.rPoint ??= pointFromHex(this.publicHex().R));
  }

  /** Compressed encodings of X and R, without decoding either. */
  get publicKeyHex(): string {
    return this.publicHex().X;
  }

  get RHex(): string {
    return this.publicHex().R;
  }

  /** Every signer's R̄_j and S̄_j, if this presignature carries them. */
  get shares(): PresignatureShares | undefined {
    const h = this.hexCache;
    if (!this.sharesCache && h?.RBar && h.SBar) {
      const points = (m: { readonly [id: string]: string }) => new Map(Object.entries(m).map(([j, p]) => [j, pointFromHex(p, true)]));
      this.sharesCache = { RBar: points(h.RBar), SBar: points(h.SBar) };
    }
    return this.sharesCache;
  }

  private publicHex(): PublicHex {
    if (!this.hexCache) {
      const sh = this.sharesCache;
      const enc = (m: ReadonlyMap<string, Point>) => Object.fromEntries([...m].map(([j, p]) => [j, hexPoint(p)]));
      this.hexCache = { X: hexPoint(this.xPoint as Point), R: hexPoint(this.rPoint as Point), ...(sh ? { RBar: enc(sh.RBar), SBar: enc(sh.SBar) } : {}) };
    }
    return this.hexCache;
  }

  /**
   * Digest of the public presignature (id, signers, X, R, every R̄_j, S̄_j): signers compare it in
   * the signing round before blaming anyone for a σ_j, so a presigning broadcast that differed
   * between signers is told apart from a wrong σ_j.
   */
  publicDigest(): string {
    if (this.digestCache === undefined) {
      const h = this.publicHex();
      const t = new Transcript('custos/cggmp21/v1/presignature', this.id, '');
      t.bytes('signers', utf8ToBytes(this.signers.join(','))).bytes('X', utf8ToBytes(h.X)).bytes('R', utf8ToBytes(h.R));
      for (const j of this.signers) {
        t.bytes(`RBar/${j}`, utf8ToBytes(h.RBar?.[j] ?? ''));
        t.bytes(`SBar/${j}`, utf8ToBytes(h.SBar?.[j] ?? ''));
      }
      this.digestCache = bytesToHex(t.squeeze(32));
    }
    return this.digestCache;
  }

  /**
   * Whether σ_j is signer j's correct share for digest scalar m: σ_j·R = m·R̄_j + r·S̄_j with
   * r = R.x mod q. Null when this presignature carries no R̄/S̄ (stored by an older version).
   */
  checkShare(j: string, sigma: bigint, m: bigint): boolean | null {
    let shares: PresignatureShares | undefined;
    try {
      shares = this.shares;
    } catch {
      return null; // a stored encoding that does not decode: no basis to blame anyone
    }
    const Rb = shares?.RBar.get(j);
    const Sb = shares?.SBar.get(j);
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
    const h = this.publicHex();
    return {
      v: 1,
      id: this.id,
      self: this.self,
      signers: [...this.signers],
      publicKey: h.X,
      R: h.R,
      k: this.spentFlag ? null : hexInt(this.k),
      chi: this.spentFlag ? null : hexInt(this.chi),
      spent: this.spentFlag,
      ...(h.RBar && h.SBar ? { RBar: { ...h.RBar }, SBar: { ...h.SBar } } : {}),
      // kept with the presignature (its holder sealed it), so online signing does not hash it again
      publicDigest: this.publicDigest(),
    };
  }

  static fromJson(j: Json): Presignature {
    try {
      const o = j as { [k: string]: Json };
      const spent = o.spent === true;
      const signers = o.signers as string[];
      const hexes = (m: Json) => {
        const out: { [id: string]: string } = {};
        for (const id of signers) {
          const v = (m as { [id: string]: Json })[id];
          if (typeof v !== 'string' || !/^(00|0[23][0-9a-f]{64})$/.test(v)) throw new Error('bad point');
          out[id] = v;
        }
        return out;
      };
      const X = o.publicKey as string;
      const R = o.R as string;
      // encodings only: the points are decoded (and checked on the curve) when first needed
      if (typeof X !== 'string' || !COMPRESSED_POINT_HEX.test(X) || typeof R !== 'string' || !COMPRESSED_POINT_HEX.test(R)) throw new Error('bad point');
      const shared = o.RBar !== undefined || o.SBar !== undefined;
      const hex: PublicHex = { X, R, ...(shared ? { RBar: hexes(o.RBar as Json), SBar: hexes(o.SBar as Json) } : {}) };
      const stored = o.publicDigest;
      if (stored !== undefined && (typeof stored !== 'string' || !/^[0-9a-f]{64}$/.test(stored))) throw new Error('bad digest');
      const pre = new Presignature(
        o.id as string,
        o.self as string,
        signers,
        undefined,
        undefined,
        spent ? 0n : parseHexInt(o.k as string),
        spent ? 0n : parseHexInt(o.chi as string),
        spent,
        undefined,
        hex,
      );
      // stored by earlier versions without it: computed on first use
      if (stored !== undefined) pre.digestCache = stored;
      return pre;
    } catch {
      throw new CustosError('cmp_bad_presignature', 'stored presignature is malformed');
    }
  }
}
