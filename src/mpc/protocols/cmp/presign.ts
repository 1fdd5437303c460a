/**
 * CMP presigning in three rounds (paper, Figure "ECDSA Pre-Signing"), for a signer set S of at
 * least t parties holding refreshed shares with aux info. Party i converts its Shamir share into an
 * additive one, w_i = λ_i·x_i (Lagrange at 0 over S), then:
 *   round 1: k_i, γ_i ← F_q; K_i = enc_i(k_i), G_i = enc_i(γ_i); broadcast (K_i, G_i); to each j a
 *            Π^enc for K_i against j's ring-Pedersen parameters
 *   round 2: verify Π^enc; Γ_i = γ_i·G; for each j: D_{j,i} = (γ_i ⊙ K_j) ⊕ enc_j(β_{i,j}),
 *            F_{j,i} = enc_i(β_{i,j}) and the same with w_i (D̂, F̂), β, β̂ ← ±2^ℓ'; broadcast Γ_i,
 *            every D_{j,i}, D̂_{j,i} and the echo of round 1; to each j F, F̂ with Π^aff-g for both
 *            and Π^log* for Γ_i vs G_i
 *   round 3: verify all; Γ = ΣΓ_j, Δ_i = k_i·Γ; α = dec(D), α̂ = dec(D̂);
 *            δ_i = γ_i k_i + Σ(α_{i,j} − β_{i,j}), χ_i = w_i k_i + Σ(α̂_{i,j} − β̂_{i,j}) mod q;
 *            broadcast (δ_i, Δ_i, Ŝ_i = χ_i·Γ, echo of round 2) with Π^log* for Δ_i vs K_i (base Γ)
 *   output: verify; δ = Σδ_j, check δ·G = ΣΔ_j and ΣŜ_j = δ·X; R = δ^-1·Γ; keep (R, k_i, χ_i)
 *            and every R̄_j = δ^-1·Δ_j, S̄_j = δ^-1·Ŝ_j (they make each σ_j checkable when signing)
 *   round 4, only if a check failed: the identification of presign-identify.ts, which names the
 *            signers whose δ_j or Ŝ_j was wrong.
 * Any failed proof or malformed value aborts naming the sender; an echo mismatch names nobody.
 *
 * @example
 *   let res = startPresign({ session, share, signers: ['a', 'c', 'd'] }, rng);
 */
import { modPowSecret, randomBelow, randomSymmetric, type ByteSource } from '../../bigint/index.js';
import { collectInbox, ProtocolAbort, ProtocolMisuse, type Json, type Message, type RoundResult } from '../round.js';
import { assertHasAux } from './aux.js';
import { decodePayload, encodePayload, hexInt, hexPoint, parseHexInt, Reader } from './codec.js';
import { assertEchoes, echoDigest } from './commit.js';
import { modQInverse, mulG, mulP, mulPublic, Point, pointFromHex, scalar } from './group.js';
import { keyShareFromJson, keyShareToJson, type CmpKeyShare, type PartyAux } from './keyshare.js';
import { JsonRound, registerStep, splitInbox, type StepResult } from './machine.js';
import { ELL, ELL_PRIME, Q } from './params.js';
import { Presignature } from './presignature.js';
import { blameChi, blameDelta, identifyContext, type ChiReveal, type DeltaReveal, type PresignPublicView } from './presign-identify.js';
import { affGDecode, affGEncode, encDecode, encEncode, logStarDecode, logStarEncode, openingDecode, openingEncode } from './proofcodec.js';
import { evaluationPoints, lagrangeAtZero } from './shamir.js';
import { proveAffG, verifyAffG } from './zk/affg.js';
import { proveEnc, verifyEnc } from './zk/enc.js';
import { proveLogStar, verifyLogStar } from './zk/logstar.js';
import { proveOpening, type Opening } from './zk/open.js';

const PROTOCOL = 'cmp/presign';

export interface PresignParams {
  readonly session: string;
  readonly share: CmpKeyShare;
  /** The signer set S (t ≤ |S| ≤ n), including self. */
  readonly signers: readonly string[];
}

type S = { [k: string]: Json };

function signerSet(share: CmpKeyShare, signers: readonly string[]): string[] {
  const set = [...signers].sort();
  if (new Set(set).size !== set.length) throw new ProtocolMisuse('cmp_duplicate_party', 'signer ids must be distinct');
  if (set.length < share.threshold) throw new ProtocolMisuse('cmp_too_few_signers', `at least ${share.threshold} signers are needed`);
  if (!set.includes(share.self)) throw new ProtocolMisuse('cmp_bad_parties', 'self must be a signer');
  for (const id of set) if (!share.parties.includes(id)) throw new ProtocolMisuse('cmp_bad_parties', `${id} holds no share of this key`);
  return set;
}

/** λ_j·X_j: party j's additive public share for the signer set (public point and coefficient). */
function additivePublic(share: CmpKeyShare, signers: readonly string[], id: string): Point {
  const pts = evaluationPoints(share.parties);
  const lam = lagrangeAtZero(pts.get(id) as bigint, signers.map((s) => pts.get(s) as bigint));
  return mulPublic(share.publicShares.get(id) as Point, lam);
}

// The key share travels in the round state as JSON and every round needs it parsed (Paillier key
// with its CRT constants, every party's aux): parse once per state object in this process.
const PARSED = new WeakMap<object, CmpKeyShare>();

function parseKey(j: Json): CmpKeyShare {
  if (j === null || typeof j !== 'object') return keyShareFromJson(j);
  let key = PARSED.get(j);
  if (!key) {
    key = keyShareFromJson(j);
    PARSED.set(j, key);
  }
  return key;
}

type LoadedKey = CmpKeyShare & { aux: NonNullable<CmpKeyShare['aux']> };

function load(s: S): { key: LoadedKey; signers: string[]; mine: PartyAux } {
  const key = parseKey(s.key as Json);
  assertHasAux(key);
  return { key, signers: s.signers as string[], mine: key.aux.parties.get(key.self) as PartyAux };
}

export function startPresign(p: PresignParams, rng: ByteSource): RoundResult<Presignature> {
  const key = p.share;
  assertHasAux(key);
  const signers = signerSet(key, p.signers);
  const pts = evaluationPoints(key.parties);
  const lam = lagrangeAtZero(pts.get(key.self) as bigint, signers.map((s) => pts.get(s) as bigint));
  const w = scalar(lam * key.share);
  const sk = key.aux.paillier;
  const k = randomBelow(Q - 1n, rng) + 1n;
  const gamma = randomBelow(Q - 1n, rng) + 1n;
  const rho = sk.randomNonce(rng);
  const nu = sk.randomNonce(rng);
  const K = sk.encryptOwn(k, rho);
  const G = sk.encryptOwn(gamma, nu);
  const outbox: Message[] = [{ session: p.session, from: key.self, to: null, round: 1, payload: encodePayload({ K: hexInt(K), G: hexInt(G) }) }];
  for (const j of signers) {
    if (j === key.self) continue;
    const setup = (key.aux.parties.get(j) as PartyAux).pedersen;
    const enc = proveEnc({ session: p.session, prover: key.self }, { pk: sk.pk, K, setup }, { k, rho }, rng, sk);
    outbox.push({ session: p.session, from: key.self, to: j, round: 1, payload: encodePayload({ enc: encEncode(enc) }) });
  }
  const keyJson = keyShareToJson(key);
  PARSED.set(keyJson as object, key);
  const state: Json = {
    key: keyJson,
    signers,
    w: hexInt(w),
    k: hexInt(k),
    gamma: hexInt(gamma),
    rho: hexInt(rho),
    nu: hexInt(nu),
    K: hexInt(K),
    G: hexInt(G),
  };
  return { kind: 'next', next: new JsonRound<Presignature>(PROTOCOL, 1, p.session, state, rng), outbox };
}

function round1(state: Json, inbox: readonly Message[], session: string, rng: ByteSource): StepResult<Presignature> {
  const s = state as S;
  const { key, signers, mine } = load(s);
  const self = key.self;
  const sk = key.aux.paillier;
  const { bc, p2p } = splitInbox(inbox);
  const bcs = collectInbox(bc, { session, round: 1, self, from: signers, broadcast: true });
  const proofs = collectInbox(p2p, { session, round: 1, self, from: signers, broadcast: false });
  const Ks: { [id: string]: Json } = { [self]: s.K as string };
  const Gs: { [id: string]: Json } = { [self]: s.G as string };
  const echoValues = new Map<string, string>([[self, `${s.K as string},${s.G as string}`]]);
  for (const j of signers) {
    if (j === self) continue;
    const pk = (key.aux.parties.get(j) as PartyAux).paillier;
    const r = new Reader(decodePayload(bcs.get(j) as Uint8Array, j), j);
    const K = r.nat('K');
    const G = r.nat('G');
    if (!pk.areCiphertexts([K, G])) throw new ProtocolAbort('cmp_bad_ciphertext', `${j} sent a malformed ciphertext`, [j]);
    const enc = encDecode(new Reader(decodePayload(proofs.get(j) as Uint8Array, j), j).sub('enc'));
    if (!verifyEnc({ session, prover: j }, { pk, K, setup: mine.pedersen }, enc, sk)) {
      throw new ProtocolAbort('cmp_bad_proof', `Π^enc of ${j} does not verify`, [j]);
    }
    Ks[j] = hexInt(K);
    Gs[j] = hexInt(G);
    echoValues.set(j, `${hexInt(K)},${hexInt(G)}`);
  }
  const echo = echoDigest('presign', session, echoValues);
  const gamma = parseHexInt(s.gamma as string);
  const w = parseHexInt(s.w as string);
  const Gamma = mulG(gamma);
  const W = mulG(w);
  const betas: { [id: string]: Json } = {};
  const Dsent: { [id: string]: Json } = {};
  const Dhsent: { [id: string]: Json } = {};
  const outbox: Message[] = [];
  const ctx = { session, prover: self };
  for (const j of signers) {
    if (j === self) continue;
    const aux = key.aux.parties.get(j) as PartyAux;
    const pkj = aux.paillier;
    const Kj = parseHexInt(Ks[j] as string);
    const beta = randomSymmetric(ELL_PRIME, rng);
    const betaHat = randomSymmetric(ELL_PRIME, rng);
    const sJ = pkj.randomNonce(rng);
    const sHat = pkj.randomNonce(rng);
    const rI = sk.randomNonce(rng);
    const rHat = sk.randomNonce(rng);
    const D = (modPowSecret(Kj, gamma, pkj.n2, ELL) * pkj.encrypt(beta, sJ)) % pkj.n2;
    const F = sk.encryptOwn(beta, rI);
    const Dh = (modPowSecret(Kj, w, pkj.n2, ELL) * pkj.encrypt(betaHat, sHat)) % pkj.n2;
    const Fh = sk.encryptOwn(betaHat, rHat);
    const affg = proveAffG(ctx, { pk0: pkj, pk1: sk.pk, C: Kj, D, Y: F, X: Gamma, setup: aux.pedersen }, { x: gamma, y: beta, rho: sJ, rhoY: rI }, rng, sk);
    const affgHat = proveAffG(ctx, { pk0: pkj, pk1: sk.pk, C: Kj, D: Dh, Y: Fh, X: W, setup: aux.pedersen }, { x: w, y: betaHat, rho: sHat, rhoY: rHat }, rng, sk);
    const logstar = proveLogStar(
      ctx,
      { pk: sk.pk, C: parseHexInt(s.G as string), X: Gamma, g: Point.BASE, setup: aux.pedersen },
      { x: gamma, rho: parseHexInt(s.nu as string) },
      rng,
      sk,
    );
    betas[j] = { beta: hexInt(beta), betaHat: hexInt(betaHat) };
    Dsent[j] = hexInt(D);
    Dhsent[j] = hexInt(Dh);
    const payload = encodePayload({ F: hexInt(F), Fh: hexInt(Fh), affg: affGEncode(affg), affgHat: affGEncode(affgHat), logstar: logStarEncode(logstar) });
    outbox.push({ session, from: self, to: j, round: 2, payload });
  }
  // Γ_i and every D_{j,i}, D̂_{j,i} go to all signers (identification recomputes from them).
  outbox.push({ session, from: self, to: null, round: 2, payload: encodePayload({ Gamma: hexPoint(Gamma), D: Dsent, Dh: Dhsent, echo }) });
  return { kind: 'next', state: { ...s, Ks, Gs, betas, echo, Gamma: hexPoint(Gamma), Dsent, Dhsent }, outbox };
}

/** A signer's round-2 D and D̂ for every other signer l, each pair ciphertexts under N_l. */
function readCiphertexts(r: Reader, from: string, key: LoadedKey, signers: readonly string[]): { D: Map<string, bigint>; Dh: Map<string, bigint> } {
  const subD = r.sub('D');
  const subDh = r.sub('Dh');
  const D = new Map<string, bigint>();
  const Dh = new Map<string, bigint>();
  for (const l of signers) {
    if (l === from) continue;
    const pair = [subD.nat(l), subDh.nat(l)] as const;
    if (!(key.aux.parties.get(l) as PartyAux).paillier.areCiphertexts(pair)) throw new ProtocolAbort('cmp_bad_ciphertext', `${from} sent a malformed ciphertext`, [from]);
    D.set(l, pair[0]);
    Dh.set(l, pair[1]);
  }
  return { D, Dh };
}

function hexMap(m: ReadonlyMap<string, bigint>): { [id: string]: Json } {
  return Object.fromEntries([...m].map(([k, v]) => [k, hexInt(v)]));
}

function round2(state: Json, inbox: readonly Message[], session: string, rng: ByteSource): StepResult<Presignature> {
  const s = state as S;
  const { key, signers, mine } = load(s);
  const self = key.self;
  const sk = key.aux.paillier;
  const { bc, p2p } = splitInbox(inbox);
  const bcs = collectInbox(bc, { session, round: 2, self, from: signers, broadcast: true });
  const got = collectInbox(p2p, { session, round: 2, self, from: signers, broadcast: false });
  const Ki = parseHexInt(s.K as string);
  const Gs = s.Gs as { [id: string]: string };
  const betas = s.betas as { [id: string]: { beta: string; betaHat: string } };
  const k = parseHexInt(s.k as string);
  const gamma = parseHexInt(s.gamma as string);
  const w = parseHexInt(s.w as string);
  let Gamma = pointFromHex(s.Gamma as string);
  let delta = scalar(gamma * k);
  let chi = scalar(w * k);
  const echoMismatch: string[] = [];
  const Gammas: { [id: string]: Json } = { [self]: s.Gamma as string };
  const Dm: { [id: string]: Json } = { [self]: s.Dsent as Json };
  const Dhm: { [id: string]: Json } = { [self]: s.Dhsent as Json };
  const echo2 = new Map<string, string>([[self, JSON.stringify([s.Gamma, s.Dsent, s.Dhsent])]]);
  for (const j of signers) {
    if (j === self) continue;
    const pkj = (key.aux.parties.get(j) as PartyAux).paillier;
    const b = new Reader(decodePayload(bcs.get(j) as Uint8Array, j), j);
    if (b.str('echo') !== s.echo) echoMismatch.push(j);
    const Gj = b.point('Gamma');
    const { D: Ds, Dh: Dhs } = readCiphertexts(b, j, key, signers);
    Gammas[j] = hexPoint(Gj);
    Dm[j] = hexMap(Ds);
    Dhm[j] = hexMap(Dhs);
    echo2.set(j, JSON.stringify([Gammas[j], Dm[j], Dhm[j]]));
    const D = Ds.get(self) as bigint;
    const Dh = Dhs.get(self) as bigint;
    const r = new Reader(decodePayload(got.get(j) as Uint8Array, j), j);
    const F = r.nat('F');
    const Fh = r.nat('Fh');
    const ctx = { session, prover: j };
    const Wj = additivePublic(key, signers, j);
    const ok =
      verifyAffG(ctx, { pk0: sk.pk, pk1: pkj, C: Ki, D, Y: F, X: Gj, setup: mine.pedersen }, affGDecode(r.sub('affg')), sk) &&
      verifyAffG(ctx, { pk0: sk.pk, pk1: pkj, C: Ki, D: Dh, Y: Fh, X: Wj, setup: mine.pedersen }, affGDecode(r.sub('affgHat')), sk) &&
      verifyLogStar(ctx, { pk: pkj, C: parseHexInt(Gs[j] as string), X: Gj, g: Point.BASE, setup: mine.pedersen }, logStarDecode(r.sub('logstar')), sk);
    if (!ok) throw new ProtocolAbort('cmp_bad_proof', `Π^aff-g / Π^log* of ${j} does not verify`, [j]);
    Gamma = Gamma.add(Gj);
    const alpha = sk.decryptSigned(D);
    const alphaHat = sk.decryptSigned(Dh);
    const bj = betas[j] as { beta: string; betaHat: string };
    delta = scalar(delta + alpha - parseHexInt(bj.beta));
    chi = scalar(chi + alphaHat - parseHexInt(bj.betaHat));
  }
  assertEchoes(echoMismatch);
  if (Gamma.is0()) throw new ProtocolAbort('cmp_presign_inconsistent', 'Γ is the identity');
  const Delta = mulP(Gamma, k);
  const Shat = mulP(Gamma, chi);
  const echo = echoDigest('presign/2', session, echo2);
  const outbox: Message[] = [
    { session, from: self, to: null, round: 3, payload: encodePayload({ delta: hexInt(delta), Delta: hexPoint(Delta), S: hexPoint(Shat), echo }) },
  ];
  const rho = parseHexInt(s.rho as string);
  for (const j of signers) {
    if (j === self) continue;
    const setup = (key.aux.parties.get(j) as PartyAux).pedersen;
    const proof = proveLogStar({ session, prover: self }, { pk: sk.pk, C: Ki, X: Delta, g: Gamma, setup }, { x: k, rho }, rng, sk);
    outbox.push({ session, from: self, to: j, round: 3, payload: encodePayload({ logstar: logStarEncode(proof) }) });
  }
  const next: Json = {
    key: s.key as Json,
    signers,
    k: s.k as string,
    gamma: s.gamma as string,
    chi: hexInt(chi),
    delta: hexInt(delta),
    Delta: hexPoint(Delta),
    S: hexPoint(Shat),
    GammaSum: hexPoint(Gamma),
    Ks: s.Ks as Json,
    Gammas,
    Dm,
    Dhm,
    echo,
  };
  return { kind: 'next', state: next, outbox };
}

function round3(state: Json, inbox: readonly Message[], session: string, rng: ByteSource): StepResult<Presignature> {
  const s = state as S;
  const { key, signers, mine } = load(s);
  const self = key.self;
  const { bc, p2p } = splitInbox(inbox);
  const bcs = collectInbox(bc, { session, round: 3, self, from: signers, broadcast: true });
  const proofs = collectInbox(p2p, { session, round: 3, self, from: signers, broadcast: false });
  const Gamma = pointFromHex(s.GammaSum as string);
  const Ks = s.Ks as { [id: string]: string };
  const deltas = new Map<string, bigint>([[self, parseHexInt(s.delta as string)]]);
  const Deltas = new Map<string, Point>([[self, pointFromHex(s.Delta as string)]]);
  const Ss = new Map<string, Point>([[self, pointFromHex(s.S as string)]]);
  const echoMismatch: string[] = [];
  for (const j of signers) {
    if (j === self) continue;
    const pkj = (key.aux.parties.get(j) as PartyAux).paillier;
    const r = new Reader(decodePayload(bcs.get(j) as Uint8Array, j), j);
    const dj = r.nat('delta');
    const Dj = r.point('Delta');
    const Sj = r.point('S', true);
    if (dj >= Q) throw new ProtocolAbort('cmp_malformed_message', `δ of ${j} is out of range`, [j]);
    if (r.str('echo') !== s.echo) echoMismatch.push(j);
    const proof = logStarDecode(new Reader(decodePayload(proofs.get(j) as Uint8Array, j), j).sub('logstar'));
    if (!verifyLogStar({ session, prover: j }, { pk: pkj, C: parseHexInt(Ks[j] as string), X: Dj, g: Gamma, setup: mine.pedersen }, proof, key.aux.paillier)) {
      throw new ProtocolAbort('cmp_bad_proof', `Π^log* (Δ) of ${j} does not verify`, [j]);
    }
    deltas.set(j, dj);
    Deltas.set(j, Dj);
    Ss.set(j, Sj);
  }
  assertEchoes(echoMismatch);
  const delta = scalar([...deltas.values()].reduce((a, b) => a + b, 0n));
  const DeltaSum = [...Deltas.values()].reduce((a, b) => a.add(b));
  const SSum = [...Ss.values()].reduce((a, b) => a.add(b));
  let kind: 'delta' | 'chi' | null = null;
  if (delta === 0n || !mulG(delta).equals(DeltaSum)) kind = 'delta';
  else if (!mulPublic(key.publicKey, delta).equals(SSum)) kind = 'chi';
  if (kind !== null) return startIdentification(s, key, signers, session, kind, deltas, Ss, rng);
  const deltaInv = modQInverse(delta);
  const R = mulPublic(Gamma, deltaInv); // δ and Γ are public (sums of broadcast values)
  const RBar = new Map([...Deltas].map(([j, D]) => [j, mulPublic(D, deltaInv)]));
  const SBar = new Map([...Ss].map(([j, S]) => [j, mulPublic(S, deltaInv)]));
  const output = new Presignature(session, self, signers, key.publicKey, R, parseHexInt(s.k as string), parseHexInt(s.chi as string), false, { RBar, SBar });
  output.publicDigest(); // encode the public part now, off the online signing path
  return { kind: 'done', output, outbox: [] };
}

/** δ or χ check failed: broadcast this party's reveal (presign-identify.ts); k_i, χ_i are dropped. */
function startIdentification(
  s: S,
  key: LoadedKey,
  signers: readonly string[],
  session: string,
  kind: 'delta' | 'chi',
  deltas: ReadonlyMap<string, bigint>,
  Ss: ReadonlyMap<string, Point>,
  rng: ByteSource,
): StepResult<Presignature> {
  const self = key.self;
  const sk = key.aux.paillier;
  const ctx = identifyContext(session, self);
  const opened = (m: 'Dm' | 'Dhm') => {
    const out: { [id: string]: Json } = {};
    for (const l of signers) {
      if (l === self) continue;
      const C = parseHexInt(((s[m] as { [id: string]: { [id: string]: string } })[l] as { [id: string]: string })[self] as string);
      out[l] = openingEncode(proveOpening(ctx, C, sk, rng));
    }
    return out;
  };
  const reveal: Json =
    kind === 'delta'
      ? { kind, gamma: s.gamma as string, k: openingEncode(proveOpening(ctx, parseHexInt((s.Ks as { [id: string]: string })[self] as string), sk, rng)), alpha: opened('Dm') }
      : { kind, alphaHat: opened('Dhm') };
  const next: Json = {
    key: s.key as Json,
    signers: [...signers],
    kind,
    reveal,
    Ks: s.Ks as Json,
    Gammas: s.Gammas as Json,
    GammaSum: s.GammaSum as string,
    Dm: s.Dm as Json,
    Dhm: s.Dhm as Json,
    deltas: hexMap(deltas),
    Ss: Object.fromEntries([...Ss].map(([j, p]) => [j, hexPoint(p)])),
  };
  return { kind: 'next', state: next, outbox: [{ session, from: self, to: null, round: 4, payload: encodePayload(reveal) }] };
}

function ciphertextMatrix(j: Json): Map<string, Map<string, bigint>> {
  return new Map(Object.entries(j as { [id: string]: { [id: string]: string } }).map(([from, row]) => [from, new Map(Object.entries(row).map(([to, c]) => [to, parseHexInt(c)]))]));
}

function readOpenings(r: Reader, field: string, from: string, signers: readonly string[]): Map<string, Opening> {
  const sub = r.sub(field);
  return new Map(signers.filter((l) => l !== from).map((l) => [l, openingDecode(sub.sub(l))]));
}

/** The identification round: every reveal checked, the deviating signers named. */
function round4(state: Json, inbox: readonly Message[], session: string): StepResult<Presignature> {
  const s = state as S;
  const { key, signers } = load(s);
  const self = key.self;
  const kind = s.kind as 'delta' | 'chi';
  const got = collectInbox(inbox, { session, round: 4, self, from: signers, broadcast: true });
  const payloads = new Map<string, { [k: string]: Json }>([[self, s.reveal as { [k: string]: Json }]]);
  for (const [j, bytes] of got) payloads.set(j, decodePayload(bytes, j));
  // No echo of round 3 here: the values each party blames against are its own view of the
  // broadcasts, and an echo would only let a cheater escape by reporting a different one.
  const deviating = signers.filter((j) => payloads.get(j)?.kind !== kind);
  if (deviating.length > 0) throw new ProtocolAbort('cmp_bad_identification', `${deviating.join(', ')} did not take part in the identification`, deviating);
  const paillier = new Map(signers.map((j) => [j, (key.aux.parties.get(j) as PartyAux).paillier]));
  const view: PresignPublicView = {
    session,
    signers,
    paillier,
    K: new Map(Object.entries(s.Ks as { [id: string]: string }).map(([j, c]) => [j, parseHexInt(c)])),
    Gamma: new Map(Object.entries(s.Gammas as { [id: string]: string }).map(([j, p]) => [j, pointFromHex(p)])),
    D: ciphertextMatrix(s.Dm as Json),
    Dh: ciphertextMatrix(s.Dhm as Json),
    delta: new Map(Object.entries(s.deltas as { [id: string]: string }).map(([j, d]) => [j, parseHexInt(d)])),
    S: new Map(Object.entries(s.Ss as { [id: string]: string }).map(([j, p]) => [j, pointFromHex(p, true)])),
  };
  let culprits: string[];
  if (kind === 'delta') {
    const reveals = new Map<string, DeltaReveal>();
    for (const j of signers) {
      const r = new Reader(payloads.get(j) as { [k: string]: Json }, j);
      reveals.set(j, { gamma: r.nat('gamma'), k: openingDecode(r.sub('k')), alpha: readOpenings(r, 'alpha', j, signers) });
    }
    culprits = blameDelta(view, reveals);
  } else {
    const reveals = new Map<string, ChiReveal>();
    for (const j of signers) reveals.set(j, { alphaHat: readOpenings(new Reader(payloads.get(j) as { [k: string]: Json }, j), 'alphaHat', j, signers) });
    const delta = scalar([...view.delta.values()].reduce((a, b) => a + b, 0n));
    const W = new Map(signers.map((j) => [j, additivePublic(key, signers, j)]));
    culprits = blameChi(view, reveals, W, delta, pointFromHex(s.GammaSum as string));
  }
  if (culprits.length === 0) throw new ProtocolAbort('cmp_presign_inconsistent', `the ${kind === 'delta' ? 'δ' : 'χ'} check failed and no signer could be blamed`);
  const what = kind === 'delta' ? 'δ' : 'Ŝ = χ·Γ';
  throw new ProtocolAbort(kind === 'delta' ? 'cmp_bad_delta' : 'cmp_bad_chi', `${culprits.join(', ')} sent a wrong ${what} or a false reveal`, culprits);
}

registerStep<Presignature>(PROTOCOL, 1, round1);
registerStep<Presignature>(PROTOCOL, 2, round2);
registerStep<Presignature>(PROTOCOL, 3, round3);
registerStep<Presignature>(PROTOCOL, 4, round4);
