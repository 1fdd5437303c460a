/**
 * The long-lived output of CMP key generation and aux-info/refresh: a party's Shamir share of the
 * ECDSA key with every party's public share, and (after aux info) its Paillier secret plus every
 * party's Paillier modulus and ring-Pedersen parameters. Serialises to JSON (which holds secrets:
 * seal it before storing). Loading a share with aux info (keyShareFromJson, or aux info's output)
 * does the one-time OpenSSL set-up of every modulus it will compute modulo (`prepareKeyShare`), so
 * the protocol runs after it do not pay for it; in a process that has those moduli already, that is
 * a few map look-ups.
 *
 * @example
 *   const json = keyShareToJson(share); const again = keyShareFromJson(json);
 */
import { CustosError } from '../../../core/errors.js';
import type { Json } from '../round.js';
import { hexInt, hexPoint, parseHexInt } from './codec.js';
import { pointFromHex, type Point } from './group.js';
import { PaillierPublicKey, PaillierSecretKey } from './paillier.js';
import { RingPedersen } from './pedersen.js';

export interface PartyAux {
  readonly paillier: PaillierPublicKey;
  readonly pedersen: RingPedersen;
}

export interface CmpKeyShare {
  readonly self: string;
  readonly parties: readonly string[];
  readonly threshold: number;
  /** Secret Shamir share x_i. */
  readonly share: bigint;
  readonly publicKey: Point;
  readonly publicShares: ReadonlyMap<string, Point>;
  /** Hex of the joint randomness of the last keygen/refresh. */
  readonly rid: string;
  /** Present after aux info / refresh. */
  readonly aux?: {
    readonly paillier: PaillierSecretKey;
    readonly parties: ReadonlyMap<string, PartyAux>;
  };
}

/**
 * One-time per-process set-up for a key share with aux info: OpenSSL objects for its own p, q, p²,
 * q² and for every party's N (= N̂) and N² (about 80 ms for the own primes and 16 ms per party when
 * none exists yet). Idempotent and cheap once done.
 */
export function prepareKeyShare(k: CmpKeyShare): void {
  if (!k.aux) return;
  k.aux.paillier.prepare();
  for (const a of k.aux.parties.values()) a.paillier.prepare();
}

export function keyShareToJson(k: CmpKeyShare): Json {
  const ps: { [id: string]: Json } = {};
  for (const [id, p] of k.publicShares) ps[id] = hexPoint(p);
  let aux: Json = null;
  if (k.aux) {
    const parties: { [id: string]: Json } = {};
    for (const [id, a] of k.aux.parties) parties[id] = { n: hexInt(a.paillier.n), s: hexInt(a.pedersen.s), t: hexInt(a.pedersen.t) };
    aux = { p: hexInt(k.aux.paillier.p), q: hexInt(k.aux.paillier.q), parties };
  }
  return {
    v: 1,
    self: k.self,
    parties: [...k.parties],
    threshold: k.threshold,
    share: hexInt(k.share),
    publicKey: hexPoint(k.publicKey),
    publicShares: ps,
    rid: k.rid,
    aux,
  };
}

export function keyShareFromJson(j: Json): CmpKeyShare {
  try {
    const o = j as { [k: string]: Json };
    const ps = new Map<string, Point>();
    for (const [id, h] of Object.entries(o.publicShares as { [k: string]: string })) ps.set(id, pointFromHex(h));
    const ids = o.parties;
    if (
      o.v !== 1 ||
      typeof o.self !== 'string' ||
      !Array.isArray(ids) ||
      !ids.every((p) => typeof p === 'string') ||
      !ids.includes(o.self) ||
      typeof o.threshold !== 'number' ||
      !Number.isInteger(o.threshold) ||
      o.threshold < 2 ||
      o.threshold > ids.length ||
      ps.size !== ids.length ||
      !ids.every((p) => ps.has(p as string))
    ) {
      throw new Error('bad shape');
    }
    const base = {
      self: o.self as string,
      parties: o.parties as string[],
      threshold: o.threshold as number,
      share: parseHexInt(o.share as string),
      publicKey: pointFromHex(o.publicKey as string),
      publicShares: ps,
      rid: o.rid as string,
    };
    if (o.aux === null) return base;
    const a = o.aux as { [k: string]: Json };
    const parties = new Map<string, PartyAux>();
    for (const [id, v] of Object.entries(a.parties as { [k: string]: { n: string; s: string; t: string } })) {
      const n = parseHexInt(v.n);
      parties.set(id, { paillier: new PaillierPublicKey(n), pedersen: new RingPedersen(n, parseHexInt(v.s), parseHexInt(v.t)) });
    }
    const share = { ...base, aux: { paillier: new PaillierSecretKey(parseHexInt(a.p as string), parseHexInt(a.q as string)), parties } };
    prepareKeyShare(share);
    return share;
  } catch {
    throw new CustosError('cmp_bad_key_share', 'stored key share is malformed');
  }
}
