/**
 * CMP auxiliary info and key refresh in one protocol (paper, Figure "Auxiliary Info. & Key Refresh",
 * threshold form): every party brings a fresh Paillier-Blum modulus N_i = p_i q_i from safe primes
 * (generated beforehand, e.g. by `generateSafePrime`, because rounds are synchronous), ring-Pedersen
 * parameters (s_i, t_i) with Π^prm, and a Feldman-committed sharing of zero.
 *   round 1: broadcast V_i = H(G_i, N_i, s_i, t_i, Π^prm, rid_i, u_i)
 *   round 2: reveal, echo all V_j; peers check the commitment, |N_j|, distinct N_j, Π^prm, G_j(0) = 0
 *   round 3: rid = ⊕ rid_j; broadcast Π^mod (bound to rid); to each peer j its zero-share g_i(j) and
 *            Π^fac against j's ring-Pedersen parameters
 *   output: after Π^mod, Π^fac and the Feldman check, x_i' = x_i + Σ_j g_j(i); the public key is
 *            unchanged and every public share moves by the committed zero-sharing. Old shares are
 *            useless with the new ones: they no longer lie on one polynomial.
 * Peer-to-peer messages carry a share, so the transport must encrypt them (it does: X25519 + AEAD).
 *
 * @example
 *   const p = await generateSafePrime(1024), q = await generateSafePrime(1024);
 *   let res = startAuxRefresh({ session, share, primes: { p, q } }, rng);
 */
import { bytesToHex } from '@noble/hashes/utils.js';
import { bitLength, forgetModuli, type ByteSource } from '../../bigint/index.js';
import { collectInbox, ProtocolAbort, ProtocolMisuse, type Json, type Message, type RoundResult } from '../round.js';
import { decodePayload, encodePayload, hexInt, hexPoint, parseHexInt, Reader } from './codec.js';
import { assertEchoes, echoDigest, hashCommit } from './commit.js';
import { mulG, Point, pointFromHex } from './group.js';
import { checkParties } from './keygen.js';
import { keyShareFromJson, keyShareToJson, prepareKeyShare, type CmpKeyShare, type PartyAux } from './keyshare.js';
import { JsonRound, registerStep, splitInbox, type StepResult } from './machine.js';
import { paillierFromPrimes, PaillierPublicKey, PaillierSecretKey } from './paillier.js';
import { MODULUS_BITS, Q } from './params.js';
import { RingPedersen, ringPedersenGenerate } from './pedersen.js';
import { facDecode, facEncode, modDecode, modEncode, prmDecode, prmEncode } from './proofcodec.js';
import { commitPoly, evalCommitment, evalPoly, evaluationPoints, randomPolynomial } from './shamir.js';
import { proveFac, verifyFac } from './zk/fac.js';
import { proveMod, verifyMod } from './zk/mod.js';
import { provePrm, verifyPrm } from './zk/prm.js';

const PROTOCOL = 'cmp/aux-refresh';

export interface AuxRefreshParams {
  readonly session: string;
  /** The current key share (from keygen or a previous refresh). */
  readonly share: CmpKeyShare;
  /** Two fresh distinct 1024-bit safe primes for this party's new Paillier modulus. */
  readonly primes: { readonly p: bigint; readonly q: bigint };
}

type S = { [k: string]: Json };

function revealFields(G: string[], n: string, s: string, t: string, prm: Json, rid: string, u: string): [string, string][] {
  return [
    ['G', G.join(',')],
    ['N', n],
    ['s', s],
    ['t', t],
    ['prm', JSON.stringify(prm)],
    ['rid', rid],
    ['u', u],
  ];
}

export function startAuxRefresh(p: AuxRefreshParams, rng: ByteSource): RoundResult<CmpKeyShare> {
  return startAuxRefreshWithKey(p.session, p.share, paillierFromPrimes(p.primes.p, p.primes.q), rng);
}

/**
 * As startAuxRefresh with an already built Paillier key and without the self-check of its primes.
 * Exists so that tests can play a malicious party (small-factor or non-Blum modulus); peers check
 * everything regardless. Production code calls startAuxRefresh.
 */
export function startAuxRefreshWithKey(session: string, share: CmpKeyShare, sk: PaillierSecretKey, rng: ByteSource): RoundResult<CmpKeyShare> {
  checkParties(share.self, share.parties, share.threshold);
  const { params: rp, lambda } = ringPedersenGenerate(sk, rng);
  const prm = prmEncode(provePrm({ session, prover: share.self }, sk, rp, lambda, rng));
  const coeffs = randomPolynomial(share.threshold - 1, 0n, rng);
  const G = commitPoly(coeffs).map(hexPoint);
  const rid = bytesToHex(rng(32));
  const u = bytesToHex(rng(32));
  const fields = revealFields(G, hexInt(rp.n), hexInt(rp.s), hexInt(rp.t), prm, rid, u);
  const V = hashCommit('aux', session, share.self, fields);
  const state: Json = {
    key: keyShareToJson(share),
    p: hexInt(sk.p),
    q: hexInt(sk.q),
    s: hexInt(rp.s),
    t: hexInt(rp.t),
    prm,
    coeffs: coeffs.map(hexInt),
    G,
    rid,
    u,
    V,
  };
  const outbox: Message[] = [{ session, from: share.self, to: null, round: 1, payload: encodePayload({ V }) }];
  return { kind: 'next', next: new JsonRound<CmpKeyShare>(PROTOCOL, 1, session, state, rng), outbox };
}

function round1(state: Json, inbox: readonly Message[], session: string): StepResult<CmpKeyShare> {
  const s = state as S;
  const key = keyShareFromJson(s.key as Json);
  const got = collectInbox(inbox, { session, round: 1, self: key.self, from: key.parties, broadcast: true });
  const commits: { [id: string]: Json } = { [key.self]: s.V as string };
  for (const [id, payload] of got) {
    const V = new Reader(decodePayload(payload, id), id).str('V');
    if (!/^[0-9a-f]{64}$/.test(V)) throw new ProtocolAbort('cmp_malformed_message', `malformed commitment from ${id}`, [id]);
    commits[id] = V;
  }
  const echo = echoDigest('aux', session, new Map(Object.entries(commits) as [string, string][]));
  const n = parseHexInt(s.p as string) * parseHexInt(s.q as string);
  const payload = encodePayload({
    G: s.G as string[],
    N: hexInt(n),
    s: s.s as string,
    t: s.t as string,
    prm: s.prm as Json,
    rid: s.rid as string,
    u: s.u as string,
    echo,
  });
  return { kind: 'next', state: { ...s, commits, echo }, outbox: [{ session, from: key.self, to: null, round: 2, payload }] };
}

function round2(state: Json, inbox: readonly Message[], session: string, rng: ByteSource): StepResult<CmpKeyShare> {
  const s = state as S;
  const key = keyShareFromJson(s.key as Json);
  const self = key.self;
  const t = key.threshold;
  const commits = s.commits as { [id: string]: string };
  const got = collectInbox(inbox, { session, round: 2, self, from: key.parties, broadcast: true });
  const sk = new PaillierSecretKey(parseHexInt(s.p as string), parseHexInt(s.q as string));
  const auxOut: { [id: string]: Json } = { [self]: { n: hexInt(sk.pk.n), s: s.s as string, t: s.t as string } };
  const Gs: { [id: string]: Json } = { [self]: s.G as string[] };
  const moduli = new Set<bigint>([sk.pk.n]);
  let rid = BigInt('0x' + (s.rid as string));
  const rps = new Map<string, RingPedersen>();
  const echoMismatch: string[] = [];
  for (const id of key.parties) {
    if (id === self) continue;
    const r = new Reader(decodePayload(got.get(id) as Uint8Array, id), id);
    if (r.str('echo') !== s.echo) echoMismatch.push(id);
    const G = r.points('G', t, true);
    const n = r.nat('N');
    const sj = r.nat('s');
    const tj = r.nat('t');
    const prmJson = r.raw('prm');
    const ridJ = r.str('rid');
    const u = r.str('u');
    if (!/^[0-9a-f]{64}$/.test(ridJ) || !/^[0-9a-f]{64}$/.test(u)) throw new ProtocolAbort('cmp_malformed_message', `malformed rid from ${id}`, [id]);
    const V = hashCommit('aux', session, id, revealFields(G.map(hexPoint), hexInt(n), hexInt(sj), hexInt(tj), prmJson, ridJ, u));
    if (V !== commits[id]) throw new ProtocolAbort('cmp_bad_decommitment', `${id} opened a different value than it committed to`, [id]);
    const bits = bitLength(n);
    if (bits < MODULUS_BITS - 1 || bits > MODULUS_BITS) throw new ProtocolAbort('cmp_bad_modulus', `${id} sent a Paillier modulus of ${bits} bits`, [id]);
    if (moduli.has(n)) throw new ProtocolAbort('cmp_reused_modulus', `${id} reused a Paillier modulus`, [id]);
    moduli.add(n);
    let rp: RingPedersen;
    try {
      rp = new RingPedersen(n, sj, tj);
    } catch {
      throw new ProtocolAbort('cmp_bad_pedersen', `${id} sent malformed ring-Pedersen parameters`, [id]);
    }
    if (!verifyPrm({ session, prover: id }, rp, prmDecode(r.sub('prm')))) {
      throw new ProtocolAbort('cmp_bad_proof', `Π^prm of ${id} does not verify`, [id]);
    }
    if (!(G[0] as Point).is0()) throw new ProtocolAbort('cmp_bad_refresh', `${id}'s refresh does not share zero`, [id]);
    rps.set(id, rp);
    rid ^= BigInt('0x' + ridJ);
    auxOut[id] = { n: hexInt(n), s: hexInt(sj), t: hexInt(tj) };
    Gs[id] = G.map(hexPoint);
  }
  assertEchoes(echoMismatch);
  const ridHex = rid.toString(16).padStart(64, '0');
  const ctx = { session: `${session}/${ridHex}`, prover: self };
  const mod = modEncode(proveMod(ctx, { p: sk.p, q: sk.q }, rng));
  const coeffs = (s.coeffs as string[]).map(parseHexInt);
  const points = evaluationPoints(key.parties);
  const outbox: Message[] = [{ session, from: self, to: null, round: 3, payload: encodePayload({ mod }) }];
  for (const [id, rp] of rps) {
    const fac = facEncode(proveFac(ctx, { n: sk.pk.n, setup: rp }, { p: sk.p, q: sk.q }, rng));
    const share = hexInt(evalPoly(coeffs, points.get(id) as bigint));
    outbox.push({ session, from: self, to: id, round: 3, payload: encodePayload({ share, fac }) });
  }
  return { kind: 'next', state: { ...s, aux: auxOut, Gs, rid: ridHex }, outbox };
}

function round3(state: Json, inbox: readonly Message[], session: string): StepResult<CmpKeyShare> {
  const s = state as S;
  const key = keyShareFromJson(s.key as Json);
  const self = key.self;
  const rid = s.rid as string;
  const { bc, p2p } = splitInbox(inbox);
  const mods = collectInbox(bc, { session, round: 3, self, from: key.parties, broadcast: true });
  const shares = collectInbox(p2p, { session, round: 3, self, from: key.parties, broadcast: false });
  const sk = new PaillierSecretKey(parseHexInt(s.p as string), parseHexInt(s.q as string));
  const auxJson = s.aux as { [id: string]: { n: string; s: string; t: string } };
  const parties = new Map<string, PartyAux>();
  for (const [id, a] of Object.entries(auxJson)) {
    const n = parseHexInt(a.n);
    parties.set(id, { paillier: new PaillierPublicKey(n), pedersen: new RingPedersen(n, parseHexInt(a.s), parseHexInt(a.t)) });
  }
  const mine = parties.get(self) as PartyAux;
  const points = evaluationPoints(key.parties);
  const myPoint = points.get(self) as bigint;
  const Gs = new Map<string, Point[]>(Object.entries(s.Gs as { [id: string]: string[] }).map(([id, g]) => [id, g.map((h) => pointFromHex(h, true))]));
  let delta = evalPoly((s.coeffs as string[]).map(parseHexInt), myPoint);
  for (const id of key.parties) {
    if (id === self) continue;
    const ctx = { session: `${session}/${rid}`, prover: id };
    const n = (parties.get(id) as PartyAux).paillier.n;
    const mr = new Reader(decodePayload(mods.get(id) as Uint8Array, id), id);
    if (!verifyMod(ctx, n, modDecode(mr.sub('mod')))) throw new ProtocolAbort('cmp_bad_proof', `Π^mod of ${id} does not verify`, [id]);
    const sr = new Reader(decodePayload(shares.get(id) as Uint8Array, id), id);
    if (!verifyFac(ctx, { n, setup: mine.pedersen }, facDecode(sr.sub('fac')))) {
      throw new ProtocolAbort('cmp_bad_proof', `Π^fac of ${id} does not verify`, [id]);
    }
    const x = sr.nat('share');
    if (x >= Q || !mulG(x).equals(evalCommitment(Gs.get(id) as Point[], myPoint))) {
      throw new ProtocolAbort('cmp_bad_share', `${id} sent a refresh share inconsistent with its commitment`, [id]);
    }
    delta = (delta + x) % Q;
  }
  const share = (key.share + delta) % Q;
  if (share === 0n) throw new ProtocolAbort('cmp_zero_share', 'the refreshed share is zero');
  const publicShares = new Map<string, Point>();
  for (const id of key.parties) {
    let X = key.publicShares.get(id) as Point;
    for (const G of Gs.values()) X = X.add(evalCommitment(G, points.get(id) as bigint));
    if (X.is0()) throw new ProtocolAbort('cmp_zero_share', `refreshed public share of ${id} is the identity`);
    publicShares.set(id, X);
  }
  if (!mulG(share).equals(publicShares.get(self) as Point)) throw new ProtocolAbort('cmp_bad_share', 'own refreshed share does not match');
  const output: CmpKeyShare = { ...key, share, publicShares, rid, aux: { paillier: sk, parties } };
  // the superseded Paillier key's secret moduli leave the per-modulus cache; the new key is set up
  if (key.aux && key.aux.paillier.pk.n !== sk.pk.n) forgetModuli(key.aux.paillier.secretModuli());
  prepareKeyShare(output);
  return { kind: 'done', output, outbox: [] };
}

registerStep<CmpKeyShare>(PROTOCOL, 1, round1);
registerStep<CmpKeyShare>(PROTOCOL, 2, round2);
registerStep<CmpKeyShare>(PROTOCOL, 3, round3);

export function assertHasAux(k: CmpKeyShare): asserts k is CmpKeyShare & { aux: NonNullable<CmpKeyShare['aux']> } {
  if (!k.aux) throw new ProtocolMisuse('cmp_no_aux', 'run aux info / refresh before presigning');
}

