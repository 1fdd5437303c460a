/**
 * CMP presigning in three rounds (paper, Figure "ECDSA Pre-Signing"), for a signer set S of at
 * least t parties holding refreshed shares with aux info. Party i converts its Shamir share into an
 * additive one, w_i = λ_i·x_i (Lagrange at 0 over S), then:
 *   round 1: k_i, γ_i ← F_q; K_i = enc_i(k_i), G_i = enc_i(γ_i); broadcast (K_i, G_i); to each j a
 *            Π^enc for K_i against j's ring-Pedersen parameters
 *   round 2: verify Π^enc; Γ_i = γ_i·G; for each j: D_{j,i} = (γ_i ⊙ K_j) ⊕ enc_j(β_{i,j}),
 *            F_{j,i} = enc_i(β_{i,j}) and the same with w_i (D̂, F̂), β, β̂ ← ±2^ℓ'; send them with
 *            Π^aff-g for both, Π^log* for Γ_i vs G_i, and an echo of all (K, G)
 *   round 3: verify all; Γ = ΣΓ_j, Δ_i = k_i·Γ; α = dec(D), α̂ = dec(D̂);
 *            δ_i = γ_i k_i + Σ(α_{i,j} − β_{i,j}), χ_i = w_i k_i + Σ(α̂_{i,j} − β̂_{i,j}) mod q;
 *            broadcast (δ_i, Δ_i) with Π^log* for Δ_i vs K_i (base Γ) to each j
 *   output: verify; δ = Σδ_j, check δ·G = ΣΔ_j; R = δ^-1·Γ; keep (R, k_i, χ_i).
 * Any failed proof, malformed value or echo mismatch aborts naming the sender.
 *
 * @example
 *   let res = startPresign({ session, share, signers: ['a', 'c', 'd'] }, rng);
 */
import { modPowSecret, randomBelow, randomSymmetric, type ByteSource } from '../../bigint/index.js';
import { collectInbox, ProtocolAbort, ProtocolMisuse, type Json, type Message, type RoundResult } from '../round.js';
import { assertHasAux } from './aux.js';
import { decodePayload, encodePayload, hexInt, hexPoint, parseHexInt, Reader } from './codec.js';
import { assertEchoes, echoDigest } from './commit.js';
import { modQInverse, mulG, mulP, Point, pointFromHex, scalar } from './group.js';
import { keyShareFromJson, keyShareToJson, type CmpKeyShare, type PartyAux } from './keyshare.js';
import { JsonRound, registerStep, splitInbox, type StepResult } from './machine.js';
import { ELL, ELL_PRIME, Q } from './params.js';
import { Presignature } from './presignature.js';
import { affGDecode, affGEncode, encDecode, encEncode, logStarDecode, logStarEncode } from './proofcodec.js';
import { evaluationPoints, lagrangeAtZero } from './shamir.js';
import { proveAffG, verifyAffG } from './zk/affg.js';
import { proveEnc, verifyEnc } from './zk/enc.js';
import { proveLogStar, verifyLogStar } from './zk/logstar.js';

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

/** λ_j·X_j: party j's additive public share for the signer set. */
function additivePublic(share: CmpKeyShare, signers: readonly string[], id: string): Point {
  const pts = evaluationPoints(share.parties);
  const lam = lagrangeAtZero(pts.get(id) as bigint, signers.map((s) => pts.get(s) as bigint));
  return mulP(share.publicShares.get(id) as Point, lam);
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

function load(s: S): { key: CmpKeyShare & { aux: NonNullable<CmpKeyShare['aux']> }; signers: string[]; mine: PartyAux } {
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
  const rho = sk.pk.randomNonce(rng);
  const nu = sk.pk.randomNonce(rng);
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
  const Ks: { [id: string]: Json } = {};
  const Gs: { [id: string]: Json } = {};
  const echoValues = new Map<string, string>([[self, `${s.K as string},${s.G as string}`]]);
  for (const j of signers) {
    if (j === self) continue;
    const pk = (key.aux.parties.get(j) as PartyAux).paillier;
    const r = new Reader(decodePayload(bcs.get(j) as Uint8Array, j), j);
    const K = r.nat('K');
    const G = r.nat('G');
    if (!pk.isCiphertext(K) || !pk.isCiphertext(G)) throw new ProtocolAbort('cmp_bad_ciphertext', `${j} sent a malformed ciphertext`, [j]);
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
    const rI = sk.pk.randomNonce(rng);
    const rHat = sk.pk.randomNonce(rng);
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
    const payload = encodePayload({
      Gamma: hexPoint(Gamma),
      D: hexInt(D),
      F: hexInt(F),
      Dh: hexInt(Dh),
      Fh: hexInt(Fh),
      affg: affGEncode(affg),
      affgHat: affGEncode(affgHat),
      logstar: logStarEncode(logstar),
      echo,
    });
    outbox.push({ session, from: self, to: j, round: 2, payload });
  }
  return { kind: 'next', state: { ...s, Ks, Gs, betas, echo, Gamma: hexPoint(Gamma) }, outbox };
}

function round2(state: Json, inbox: readonly Message[], session: string, rng: ByteSource): StepResult<Presignature> {
  const s = state as S;
  const { key, signers, mine } = load(s);
  const self = key.self;
  const sk = key.aux.paillier;
  const got = collectInbox(inbox, { session, round: 2, self, from: signers, broadcast: false });
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
  for (const j of signers) {
    if (j === self) continue;
    const pkj = (key.aux.parties.get(j) as PartyAux).paillier;
    const r = new Reader(decodePayload(got.get(j) as Uint8Array, j), j);
    if (r.str('echo') !== s.echo) echoMismatch.push(j);
    const Gj = r.point('Gamma');
    const D = r.nat('D');
    const F = r.nat('F');
    const Dh = r.nat('Dh');
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
    const b = betas[j] as { beta: string; betaHat: string };
    delta = scalar(delta + alpha - parseHexInt(b.beta));
    chi = scalar(chi + alphaHat - parseHexInt(b.betaHat));
  }
  assertEchoes(echoMismatch);
  if (Gamma.is0()) throw new ProtocolAbort('cmp_presign_inconsistent', 'Γ is the identity');
  const Delta = mulP(Gamma, k);
  const outbox: Message[] = [{ session, from: self, to: null, round: 3, payload: encodePayload({ delta: hexInt(delta), Delta: hexPoint(Delta) }) }];
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
    chi: hexInt(chi),
    delta: hexInt(delta),
    Delta: hexPoint(Delta),
    GammaSum: hexPoint(Gamma),
    Ks: s.Ks as Json,
  };
  return { kind: 'next', state: next, outbox };
}

function round3(state: Json, inbox: readonly Message[], session: string): StepResult<Presignature> {
  const s = state as S;
  const { key, signers, mine } = load(s);
  const self = key.self;
  const { bc, p2p } = splitInbox(inbox);
  const bcs = collectInbox(bc, { session, round: 3, self, from: signers, broadcast: true });
  const proofs = collectInbox(p2p, { session, round: 3, self, from: signers, broadcast: false });
  const Gamma = pointFromHex(s.GammaSum as string);
  const Ks = s.Ks as { [id: string]: string };
  let delta = parseHexInt(s.delta as string);
  let DeltaSum = pointFromHex(s.Delta as string);
  for (const j of signers) {
    if (j === self) continue;
    const pkj = (key.aux.parties.get(j) as PartyAux).paillier;
    const r = new Reader(decodePayload(bcs.get(j) as Uint8Array, j), j);
    const dj = r.nat('delta');
    const Dj = r.point('Delta');
    if (dj >= Q) throw new ProtocolAbort('cmp_malformed_message', `δ of ${j} is out of range`, [j]);
    const proof = logStarDecode(new Reader(decodePayload(proofs.get(j) as Uint8Array, j), j).sub('logstar'));
    if (!verifyLogStar({ session, prover: j }, { pk: pkj, C: parseHexInt(Ks[j] as string), X: Dj, g: Gamma, setup: mine.pedersen }, proof, key.aux.paillier)) {
      throw new ProtocolAbort('cmp_bad_proof', `Π^log* (Δ) of ${j} does not verify`, [j]);
    }
    delta = scalar(delta + dj);
    DeltaSum = DeltaSum.add(Dj);
  }
  if (delta === 0n || !mulG(delta).equals(DeltaSum)) {
    // Every value except δ_j is proven; the paper's extra identification round (proofs of
    // decryption for δ_j) is not implemented, so nobody is named here.
    throw new ProtocolAbort('cmp_presign_inconsistent', 'δ·G does not match ΣΔ_j: a party sent a wrong δ');
  }
  const R = mulP(Gamma, modQInverse(delta));
  const output = new Presignature(session, self, signers, key.publicKey, R, parseHexInt(s.k as string), parseHexInt(s.chi as string));
  return { kind: 'done', output, outbox: [] };
}

registerStep<Presignature>(PROTOCOL, 1, round1);
registerStep<Presignature>(PROTOCOL, 2, round2);
registerStep<Presignature>(PROTOCOL, 3, round3);
