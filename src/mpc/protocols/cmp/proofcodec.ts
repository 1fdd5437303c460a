/**
 * JSON encodings of the zero-knowledge proofs for the wire, with strict decoding through `Reader`
 * (a malformed proof aborts naming its sender).
 *
 * @example
 *   const json = encEncode(proof); const again = encDecode(new Reader(obj, 'bob'));
 */
import type { Json } from '../round.js';
import { hexInt, hexPoint, type Reader } from './codec.js';
import { STAT } from './params.js';
import type { AffGProof } from './zk/affg.js';
import type { EncProof } from './zk/enc.js';
import type { FacProof } from './zk/fac.js';
import type { LogStarProof } from './zk/logstar.js';
import type { ModProof } from './zk/mod.js';
import type { Opening } from './zk/open.js';
import type { PrmProof } from './zk/prm.js';

export function modEncode(p: ModProof): Json {
  return { w: hexInt(p.w), x: p.x.map(hexInt), a: [...p.a], b: [...p.b], z: p.z.map(hexInt) };
}
export function modDecode(r: Reader): ModProof {
  return { w: r.nat('w'), x: r.ints('x', STAT), a: r.bools('a', STAT), b: r.bools('b', STAT), z: r.ints('z', STAT) };
}

export function prmEncode(p: PrmProof): Json {
  return { A: p.A.map(hexInt), z: p.z.map(hexInt) };
}
export function prmDecode(r: Reader): PrmProof {
  return { A: r.ints('A', STAT), z: r.ints('z', STAT) };
}

const FAC = ['P', 'Q', 'A', 'B', 'T', 'sigma', 'z1', 'z2', 'w1', 'w2', 'v'] as const;
export function facEncode(p: FacProof): Json {
  return Object.fromEntries(FAC.map((k) => [k, hexInt(p[k])]));
}
export function facDecode(r: Reader): FacProof {
  return Object.fromEntries(FAC.map((k) => [k, r.int(k)])) as unknown as FacProof;
}

const ENC = ['S', 'A', 'C', 'z1', 'z2', 'z3'] as const;
export function encEncode(p: EncProof): Json {
  return Object.fromEntries(ENC.map((k) => [k, hexInt(p[k])]));
}
export function encDecode(r: Reader): EncProof {
  return Object.fromEntries(ENC.map((k) => [k, r.int(k)])) as unknown as EncProof;
}

const LOG = ['S', 'A', 'D', 'z1', 'z2', 'z3'] as const;
export function logStarEncode(p: LogStarProof): Json {
  return { ...Object.fromEntries(LOG.map((k) => [k, hexInt(p[k])])), Y: hexPoint(p.Y) };
}
export function logStarDecode(r: Reader): LogStarProof {
  return { ...(Object.fromEntries(LOG.map((k) => [k, r.int(k)])) as Omit<LogStarProof, 'Y'>), Y: r.point('Y', true) };
}

const AFF = ['A', 'By', 'E', 'S', 'F', 'T', 'z1', 'z2', 'z3', 'z4', 'w', 'wy'] as const;
export function affGEncode(p: AffGProof): Json {
  return { ...Object.fromEntries(AFF.map((k) => [k, hexInt(p[k])])), Bx: hexPoint(p.Bx) };
}
export function affGDecode(r: Reader): AffGProof {
  return { ...(Object.fromEntries(AFF.map((k) => [k, r.int(k)])) as Omit<AffGProof, 'Bx'>), Bx: r.point('Bx', true) };
}

export function openingEncode(o: Opening): Json {
  return { m: hexInt(o.m), A: hexInt(o.A), z: hexInt(o.z) };
}
export function openingDecode(r: Reader): Opening {
  return { m: r.int('m'), A: r.nat('A'), z: r.nat('z') };
}
