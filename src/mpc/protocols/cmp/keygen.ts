/**
 * CMP key generation without a dealer (paper, Figure "ECDSA Key-Generation", in its threshold form
 * with Feldman VSS): every party deals a random degree-(t-1) polynomial, commits to its Feldman
 * commitment, rid share and Schnorr first message (round 1), reveals them with an echo of all
 * round-1 commitments and sends each peer its share (round 2), then proves knowledge of its
 * constant term with Π^sch bound to the session and the joint rid (round 3). The key exists nowhere:
 * each party ends with x_i = Σ_j f_j(i), the public key Σ_j f_j(0)·G and all public shares.
 *
 * @example
 *   let res = startKeygen({ session, self: 'a', parties: ['a', 'b', 'c'], threshold: 2 }, rng);
 *   // deliver res.outbox, then res = res.next.finalize(inbox) ... until res.kind === 'done'
 */
import { bytesToHex } from '@noble/hashes/utils.js';
import type { ByteSource } from '../../bigint/index.js';
import { collectInbox, ProtocolAbort, ProtocolMisuse, type Json, type Message, type RoundResult } from '../round.js';
import { decodePayload, encodePayload, hexInt, hexPoint, parseHexInt, Reader } from './codec.js';
import { assertEchoes, echoDigest, hashCommit } from './commit.js';
import { mulG, Point, pointFromHex } from './group.js';
import type { CmpKeyShare } from './keyshare.js';
import { JsonRound, registerStep, splitInbox, type StepResult } from './machine.js';
import { Q } from './params.js';
import { commitPoly, evalCommitment, evalPoly, evaluationPoints, randomPolynomial } from './shamir.js';
import { schCommit, schProve, schVerify } from './zk/sch.js';

const PROTOCOL = 'cmp/keygen';

export interface KeygenParams {
  readonly session: string;
  readonly self: string;
  readonly parties: readonly string[];
  readonly threshold: number;
}

export function checkParties(self: string, parties: readonly string[], threshold: number): void {
  evaluationPoints(parties); // rejects duplicates
  if (!parties.includes(self)) throw new ProtocolMisuse('cmp_bad_parties', 'self must be one of the parties');
  if (!Number.isInteger(threshold) || threshold < 2 || threshold > parties.length) {
    throw new ProtocolMisuse('cmp_bad_threshold', 'threshold must satisfy 1 < t ≤ n');
  }
}

function revealFields(F: string[], A: string, rid: string, u: string): [string, string][] {
  return [
    ['F', F.join(',')],
    ['A', A],
    ['rid', rid],
    ['u', u],
  ];
}

export function startKeygen(p: KeygenParams, rng: ByteSource): RoundResult<CmpKeyShare> {
  checkParties(p.self, p.parties, p.threshold);
  const coeffs = randomPolynomial(p.threshold - 1, null, rng);
  const F = commitPoly(coeffs).map(hexPoint);
  const sch = schCommit(rng);
  const A = hexPoint(sch.A);
  const rid = bytesToHex(rng(32));
  const u = bytesToHex(rng(32));
  const V = hashCommit('keygen', p.session, p.self, revealFields(F, A, rid, u));
  const state: Json = {
    self: p.self,
    parties: [...p.parties],
    threshold: p.threshold,
    coeffs: coeffs.map(hexInt),
    alpha: hexInt(sch.alpha),
    F,
    A,
    rid,
    u,
    V,
  };
  const outbox: Message[] = [{ session: p.session, from: p.self, to: null, round: 1, payload: encodePayload({ V }) }];
  return { kind: 'next', next: new JsonRound<CmpKeyShare>(PROTOCOL, 1, p.session, state, rng), outbox };
}

type S = { [k: string]: Json };

function round1(state: Json, inbox: readonly Message[], session: string): StepResult<CmpKeyShare> {
  const s = state as S;
  const self = s.self as string;
  const parties = s.parties as string[];
  const got = collectInbox(inbox, { session, round: 1, self, from: parties, broadcast: true });
  const commits: { [id: string]: Json } = { [self]: s.V as string };
  for (const [id, payload] of got) {
    const V = new Reader(decodePayload(payload, id), id).str('V');
    if (!/^[0-9a-f]{64}$/.test(V)) throw new ProtocolAbort('cmp_malformed_message', `malformed commitment from ${id}`, [id]);
    commits[id] = V;
  }
  const echo = echoDigest('keygen', session, new Map(Object.entries(commits) as [string, string][]));
  const coeffs = (s.coeffs as string[]).map(parseHexInt);
  const points = evaluationPoints(parties);
  const outbox: Message[] = [
    { session, from: self, to: null, round: 2, payload: encodePayload({ F: s.F as string[], A: s.A as string, rid: s.rid as string, u: s.u as string, echo }) },
  ];
  for (const id of parties) {
    if (id === self) continue;
    const share = evalPoly(coeffs, points.get(id) as bigint);
    outbox.push({ session, from: self, to: id, round: 2, payload: encodePayload({ share: hexInt(share) }) });
  }
  return { kind: 'next', state: { ...s, commits, echo }, outbox };
}

function round2(state: Json, inbox: readonly Message[], session: string): StepResult<CmpKeyShare> {
  const s = state as S;
  const self = s.self as string;
  const parties = s.parties as string[];
  const t = s.threshold as number;
  const commits = s.commits as { [id: string]: string };
  const { bc, p2p } = splitInbox(inbox);
  const reveals = collectInbox(bc, { session, round: 2, self, from: parties, broadcast: true });
  const shares = collectInbox(p2p, { session, round: 2, self, from: parties, broadcast: false });
  const points = evaluationPoints(parties);
  const myPoint = points.get(self) as bigint;
  const coeffs = (s.coeffs as string[]).map(parseHexInt);
  const Fs = new Map<string, Point[]>([[self, (s.F as string[]).map((h) => pointFromHex(h, true))]]);
  const As: { [id: string]: Json } = {};
  let rid = BigInt('0x' + (s.rid as string));
  let share = evalPoly(coeffs, myPoint);
  const echoMismatch: string[] = [];
  for (const id of parties) {
    if (id === self) continue;
    const r = new Reader(decodePayload(reveals.get(id) as Uint8Array, id), id);
    const Fhex = r.raw('F');
    if (!Array.isArray(Fhex) || Fhex.length !== t) throw new ProtocolAbort('cmp_malformed_message', `wrong commitment size from ${id}`, [id]);
    const F = r.points('F', t, true);
    const A = r.point('A');
    const ridJ = r.str('rid');
    const u = r.str('u');
    if (!/^[0-9a-f]{64}$/.test(ridJ) || !/^[0-9a-f]{64}$/.test(u)) throw new ProtocolAbort('cmp_malformed_message', `malformed rid from ${id}`, [id]);
    if (r.str('echo') !== s.echo) echoMismatch.push(id);
    const V = hashCommit('keygen', session, id, revealFields(F.map(hexPoint), hexPoint(A), ridJ, u));
    if (V !== commits[id]) throw new ProtocolAbort('cmp_bad_decommitment', `${id} opened a different value than it committed to`, [id]);
    if ((F[0] as Point).is0()) throw new ProtocolAbort('cmp_zero_secret', `${id} dealt a zero secret`, [id]);
    const x = new Reader(decodePayload(shares.get(id) as Uint8Array, id), id).nat('share');
    if (x >= Q || !mulG(x).equals(evalCommitment(F, myPoint))) {
      throw new ProtocolAbort('cmp_bad_share', `${id} sent a share inconsistent with its commitment`, [id]);
    }
    Fs.set(id, F);
    As[id] = hexPoint(A);
    rid ^= BigInt('0x' + ridJ);
    share = (share + x) % Q;
  }
  assertEchoes(echoMismatch);
  if (share === 0n) throw new ProtocolAbort('cmp_zero_share', 'the combined share is zero');
  let publicKey = Point.ZERO;
  for (const F of Fs.values()) publicKey = publicKey.add(F[0] as Point);
  const publicShares: { [id: string]: Json } = {};
  for (const id of parties) {
    let X = Point.ZERO;
    for (const F of Fs.values()) X = X.add(evalCommitment(F, points.get(id) as bigint));
    if (X.is0()) throw new ProtocolAbort('cmp_zero_share', `public share of ${id} is the identity`);
    publicShares[id] = hexPoint(X);
  }
  if (publicKey.is0()) throw new ProtocolAbort('cmp_zero_key', 'the public key is the identity');
  if (!mulG(share).equals(pointFromHex(publicShares[self] as string))) throw new ProtocolAbort('cmp_bad_share', 'own share does not match');
  const ridHex = rid.toString(16).padStart(64, '0');
  const F0 = (Fs.get(self) as Point[])[0] as Point;
  const proof = schProve({ session: `${session}/${ridHex}`, prover: self }, F0, coeffs[0] as bigint, {
    alpha: parseHexInt(s.alpha as string),
    A: pointFromHex(s.A as string),
  });
  const constants: { [id: string]: Json } = {};
  for (const [id, F] of Fs) constants[id] = hexPoint(F[0] as Point);
  const next: Json = {
    self,
    parties,
    threshold: t,
    share: hexInt(share),
    publicKey: hexPoint(publicKey),
    publicShares,
    rid: ridHex,
    constants,
    As,
  };
  return { kind: 'next', state: next, outbox: [{ session, from: self, to: null, round: 3, payload: encodePayload({ z: hexInt(proof.z) }) }] };
}

function round3(state: Json, inbox: readonly Message[], session: string): StepResult<CmpKeyShare> {
  const s = state as S;
  const self = s.self as string;
  const parties = s.parties as string[];
  const got = collectInbox(inbox, { session, round: 3, self, from: parties, broadcast: true });
  const constants = s.constants as { [id: string]: string };
  const As = s.As as { [id: string]: string };
  const rid = s.rid as string;
  for (const [id, payload] of got) {
    const z = new Reader(decodePayload(payload, id), id).nat('z');
    const ok = schVerify({ session: `${session}/${rid}`, prover: id }, pointFromHex(constants[id] as string), { A: pointFromHex(As[id] as string), z });
    if (!ok) throw new ProtocolAbort('cmp_bad_proof', `Schnorr proof of ${id} does not verify`, [id]);
  }
  const ps = s.publicShares as { [id: string]: string };
  const output: CmpKeyShare = {
    self,
    parties,
    threshold: s.threshold as number,
    share: parseHexInt(s.share as string),
    publicKey: pointFromHex(s.publicKey as string),
    publicShares: new Map(Object.entries(ps).map(([id, h]) => [id, pointFromHex(h)])),
    rid,
  };
  return { kind: 'done', output, outbox: [] };
}

registerStep<CmpKeyShare>(PROTOCOL, 1, round1);
registerStep<CmpKeyShare>(PROTOCOL, 2, round2);
registerStep<CmpKeyShare>(PROTOCOL, 3, round3);
