/**
 * FROST distributed key generation without a dealer (the FROST paper's KeyGen, Pedersen DKG with
 * Feldman commitments and Schnorr proofs of knowledge, as RFC 9591 Appendix C's VSS describes):
 *
 * - round 1 (broadcast): commitments C_i = [a_i0·G … a_i(t-1)·G] to a random polynomial f_i and a
 *   proof of knowledge of a_i0 bound to the session id and the sender's identifier;
 * - round 2 (peer to peer): f_i(id_j) to each party j, after every proof checked out;
 * - round 3 (broadcast): a hash of the resulting public key package, so a dealer who equivocated on
 *   its broadcast cannot leave honest parties with different keys.
 *
 * Each party's share is s_j = Σ_i f_i(id_j); the group secret Σ_i a_i0 exists nowhere. A bad proof,
 * a share off its dealer's commitment, a malformed or replayed message names the sender.
 *
 * @example
 *   let res = startDkg({ suite: 'ed25519', session, self: 'node-1', parties, threshold: 3, rng });
 *   // deliver res.outbox, then: res = res.next.finalize(inbox) … until res.kind === 'done'
 *   const keyShare: FrostKeyShare = res.output;
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, concatBytes, hexToBytes } from '@noble/hashes/utils.js';
import {
  collectInbox, ProtocolAbort, ProtocolMisuse,
  type Message, type PartyId, type Rng, type Round, type RoundResult, type RoundState,
} from '../round.js';
import { keyShareJson, parseKeyShare, type FrostKeyShare } from './key-share.js';
import { checkParties, checkSession } from './params.js';
import {
  baseMulSecret, evaluateCommitment, evaluatePolynomial, frostSuite, randomScalar,
  type FrostSuite, type GroupPoint, type IdentifierScheme, type PartyIdentifiers, type SuiteName,
} from './suite.js';
import { Memo } from './memo.js';
import { decodePointCached } from './signing-core.js';
import { decodePayload, encodePayload, splitFixed } from './wire.js';

/** Round-1 broadcasts already verified in this process (a pure function of public bytes). */
const verifiedRound1 = new Memo<string[]>(1024);

export const DKG_PROTOCOL = 'frost-dkg';
const TAG1 = 'frost/dkg/1';
const TAG2 = 'frost/dkg/2';
const TAG3 = 'frost/dkg/3';

export interface DkgParams {
  readonly suite: SuiteName;
  /** Fresh hex session id agreed by all parties (16..64 bytes). */
  readonly session: string;
  readonly self: PartyId;
  /** All n parties, including self. */
  readonly parties: readonly PartyId[];
  /** t: the number of parties needed to sign (1 < t ≤ n). */
  readonly threshold: number;
  /** Identifier scheme (default `derived`; all parties must agree). */
  readonly identifiers?: IdentifierScheme;
}

interface Common {
  readonly suite: SuiteName;
  readonly session: string;
  readonly self: PartyId;
  readonly parties: PartyId[];
  readonly threshold: number;
  readonly identifiers: IdentifierScheme;
}

function ids(suite: FrostSuite, c: Common): PartyIdentifiers {
  return suite.identifiers(c.identifiers, c.parties);
}

function proofChallenge(suite: FrostSuite, c: Common, party: PartyId, C0: GroupPoint, R: GroupPoint): bigint {
  return suite.hashToScalar('dkg-pok', hexToBytes(c.session), hexToBytes(ids(suite, c).hex(party)), C0.toBytes(), R.toBytes());
}

/** Hash of the public key package that every party confirms in round 3. */
export function publicPackageHash(
  suite: FrostSuite,
  session: string,
  key: Pick<FrostKeyShare, 'threshold' | 'parties' | 'commitment' | 'verifyingShares'>,
): string {
  const enc = new TextEncoder();
  const parts: Uint8Array[] = [enc.encode(`custos/frost/${suite.name}/package`), hexToBytes(session), Uint8Array.of(key.threshold & 0xff, (key.threshold >> 8) & 0xff)];
  for (const c of key.commitment) parts.push(hexToBytes(c));
  for (const p of key.parties) {
    const id = enc.encode(p);
    parts.push(Uint8Array.of(id.length & 0xff, id.length >> 8), id, hexToBytes(key.verifyingShares[p] as string));
  }
  return bytesToHex(sha256(concatBytes(...parts)));
}

/**
 * Starts DKG for one party: samples its polynomial and proof, returns round 1 and its broadcast.
 */
export function startDkg(params: DkgParams & { readonly rng: Rng }): RoundResult<FrostKeyShare> {
  const suite = frostSuite(params.suite);
  checkSession(params.session);
  const scheme = params.identifiers ?? 'derived';
  const parties = checkParties(params.parties, params.self, params.threshold, suite, scheme);
  const c: Common = { suite: params.suite, session: params.session, self: params.self, parties, threshold: params.threshold, identifiers: scheme };
  const coefficients: bigint[] = [];
  for (let k = 0; k < c.threshold; k++) coefficients.push(randomScalar(suite, params.rng));
  const commitment = coefficients.map((a) => suite.Point.BASE.multiply(a));
  const nonce = randomScalar(suite, params.rng);
  const R = suite.Point.BASE.multiply(nonce);
  const ch = proofChallenge(suite, c, c.self, commitment[0] as GroupPoint, R);
  const z = suite.Fn.add(nonce, suite.Fn.mul(coefficients[0] as bigint, ch));
  const payload = encodePayload(TAG1, c.session, [
    concatBytes(...commitment.map((p) => p.toBytes())), R.toBytes(), suite.Fn.toBytes(z),
  ]);
  const round = new DkgRound1(c, coefficients, bytesToHex(payload));
  return { kind: 'next', next: round, outbox: [{ session: c.session, from: c.self, to: null, round: 1, payload }] };
}

/** Restores a DKG round from `serialize()` output (e.g. after a restart, in another process). */
export function restoreDkg(state: RoundState): Round<FrostKeyShare> {
  if (state.protocol !== DKG_PROTOCOL) throw new ProtocolMisuse('frost_bad_state', 'not a FROST DKG state');
  const d = (typeof state.data === 'object' && state.data !== null ? state.data : {}) as Record<string, unknown>;
  const c = (d.common ?? null) as Common | null;
  if (typeof c !== 'object' || c === null || !Array.isArray(c.parties)) throw new ProtocolMisuse('frost_bad_state', 'malformed DKG state');
  const suite = frostSuite(c.suite);
  checkSession(c.session);
  if (state.session !== c.session) throw new ProtocolMisuse('frost_bad_state', 'session mismatch in DKG state');
  checkParties(c.parties, c.self, c.threshold, suite, c.identifiers);
  const hexes = (v: unknown): string[] => {
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new ProtocolMisuse('frost_bad_state', 'malformed DKG state');
    return v as string[];
  };
  switch (state.round) {
    case 1:
      if (typeof d.ownPayload !== 'string') throw new ProtocolMisuse('frost_bad_state', 'malformed DKG state');
      return new DkgRound1(c, hexes(d.coefficients).map((x) => suite.Fn.fromBytes(hexToBytes(x))), String(d.ownPayload));
    case 2:
      return new DkgRound2(c, suite.Fn.fromBytes(hexToBytes(String(d.ownShare))),
        Object.fromEntries(c.parties.map((p) => [p, hexes((d.commitments as Record<string, unknown>)[p])])));
    case 3:
      return new DkgRound3(c, parseKeyShare(d.key), String(d.packageHash));
    default:
      throw new ProtocolMisuse('frost_bad_state', 'unknown DKG round');
  }
}

/** Round 1: checks everybody's commitments and proofs, then deals the peer-to-peer shares. */
class DkgRound1 implements Round<FrostKeyShare> {
  readonly protocol = DKG_PROTOCOL;
  readonly number = 1;
  private used = false;
  constructor(private readonly c: Common, private readonly coefficients: bigint[], private readonly ownPayload: string) {}
  get session(): string {
    return this.c.session;
  }

  finalize(inbox: readonly Message[]): RoundResult<FrostKeyShare> {
    if (this.used) throw new ProtocolMisuse('frost_round_reused', 'this DKG round was already finalized');
    const { c } = this;
    const suite = frostSuite(c.suite);
    const got = collectInbox(inbox, { session: c.session, round: 1, self: c.self, from: c.parties, broadcast: true });
    const commitments: Record<PartyId, string[]> = {};
    const culprits: PartyId[] = [];
    let firstError: ProtocolAbort | undefined;
    for (const [from, payload] of got) {
      try {
        const memoKey = `${c.suite}:${c.identifiers}:${c.threshold}:${c.session}:${c.parties.join('\u0000')}:${from}:${bytesToHex(sha256(payload))}`;
        commitments[from] = verifiedRound1.get(memoKey, () => {
          const [cBytes, rBytes, zBytes] = decodePayload(payload, TAG1, c.session, 3, from) as [Uint8Array, Uint8Array, Uint8Array];
          const C = splitFixed(cBytes, suite.pointBytes, c.threshold, from, 'DKG commitment')
            .map((b) => decodePointCached(suite, b, from, 'DKG commitment'));
          const R = suite.decodePoint(rBytes, from, 'proof of knowledge');
          const z = suite.decodeScalar(zBytes, from, 'proof of knowledge');
          const ch = proofChallenge(suite, c, from, C[0] as GroupPoint, R);
          // z·G = R + c·C0 proves knowledge of the constant term, bound to this session and sender.
          const lhs = suite.Point.BASE.multiplyUnsafe(z);
          if (!lhs.equals(R.add((C[0] as GroupPoint).multiplyUnsafe(ch)))) {
            throw new ProtocolAbort('frost_dkg_bad_proof', `proof of knowledge from ${from} does not verify`, [from]);
          }
          return C.map((p) => bytesToHex(p.toBytes()));
        });
      } catch (e) {
        if (!(e instanceof ProtocolAbort)) throw e;
        culprits.push(...e.culprits);
        firstError ??= e;
      }
    }
    if (firstError) throw culprits.length > 1 ? new ProtocolAbort(firstError.code, `DKG round 1 failed for ${culprits.join(', ')}`, culprits) : firstError;
    // Our own commitments come from our own payload (the bytes everyone else checked).
    const own = decodePayload(hexToBytes(this.ownPayload), TAG1, c.session, 3, c.self)[0] as Uint8Array;
    commitments[c.self] = splitFixed(own, suite.pointBytes, c.threshold, c.self, 'DKG commitment').map((b) => bytesToHex(b));
    this.used = true;
    const outbox: Message[] = [];
    for (const p of c.parties) {
      if (p === c.self) continue;
      const share = evaluatePolynomial(suite, this.coefficients, ids(suite, c).scalar(p));
      outbox.push({ session: c.session, from: c.self, to: p, round: 2, payload: encodePayload(TAG2, c.session, [suite.Fn.toBytes(share)]) });
    }
    const ownShare = evaluatePolynomial(suite, this.coefficients, ids(suite, c).scalar(c.self));
    this.coefficients.fill(0n);
    return { kind: 'next', next: new DkgRound2(c, ownShare, commitments), outbox };
  }

  serialize(): RoundState {
    if (this.used) throw new ProtocolMisuse('frost_round_reused', 'this DKG round was already finalized');
    const suite = frostSuite(this.c.suite);
    return {
      protocol: DKG_PROTOCOL, round: 1, session: this.c.session,
      data: { common: { ...this.c }, coefficients: this.coefficients.map((a) => bytesToHex(suite.Fn.toBytes(a))), ownPayload: this.ownPayload },
    };
  }
}

/** Round 2: checks each received share against its dealer's commitment and assembles the key. */
class DkgRound2 implements Round<FrostKeyShare> {
  readonly protocol = DKG_PROTOCOL;
  readonly number = 2;
  private used = false;
  constructor(private readonly c: Common, private readonly ownShare: bigint, private readonly commitments: Record<PartyId, string[]>) {}
  get session(): string {
    return this.c.session;
  }

  finalize(inbox: readonly Message[]): RoundResult<FrostKeyShare> {
    if (this.used) throw new ProtocolMisuse('frost_round_reused', 'this DKG round was already finalized');
    const { c } = this;
    const suite = frostSuite(c.suite);
    const got = collectInbox(inbox, { session: c.session, round: 2, self: c.self, from: c.parties, broadcast: false });
    const myId = ids(suite, c).scalar(c.self);
    const decoded: Record<PartyId, GroupPoint[]> = {};
    for (const p of c.parties) decoded[p] = (this.commitments[p] as string[]).map((h) => decodePointCached(suite, hexToBytes(h), p, 'DKG commitment'));
    const received = new Map<PartyId, bigint>();
    for (const [from, payload] of got) {
      const [sBytes] = decodePayload(payload, TAG2, c.session, 1, from) as [Uint8Array];
      received.set(from, suite.decodeScalar(sBytes, from, 'DKG share'));
    }
    const group: GroupPoint[] = [];
    for (let k = 0; k < c.threshold; k++) {
      let acc = suite.Point.ZERO;
      for (const p of c.parties) acc = acc.add((decoded[p] as GroupPoint[])[k] as GroupPoint);
      if (acc.is0()) throw new ProtocolAbort('frost_dkg_degenerate', 'DKG group commitment is degenerate', []);
      group.push(acc);
    }
    let secret = this.ownShare;
    for (const s of received.values()) secret = suite.Fn.add(secret, s);
    // Batch Feldman check: (Σ_j s_j)·G = (Σ_j C_j)(id). Only if it fails, check each dealer to name it.
    if (!baseMulSecret(suite, secret).equals(evaluateCommitment(suite, group, myId))) {
      const culprits = [...received].filter(([from, s]) => !baseMulSecret(suite, s).equals(evaluateCommitment(suite, decoded[from] as GroupPoint[], myId))).map(([from]) => from);
      throw new ProtocolAbort('frost_dkg_bad_share', culprits.length > 0
        ? `DKG share from ${culprits.join(', ')} does not match its commitment`
        : 'DKG shares do not match the commitments', culprits);
    }
    if (secret === 0n) throw new ProtocolAbort('frost_dkg_zero_share', 'DKG produced a zero share', []);
    const verifyingShares: Record<PartyId, string> = {};
    for (const p of c.parties) {
      verifyingShares[p] = bytesToHex(suite.encodePoint(evaluateCommitment(suite, group, ids(suite, c).scalar(p))));
    }
    const key: FrostKeyShare = {
      suite: c.suite, self: c.self, threshold: c.threshold, parties: c.parties, identifiers: c.identifiers,
      signingShare: bytesToHex(suite.Fn.toBytes(secret)),
      commitment: group.map((p) => bytesToHex(p.toBytes())),
      verifyingShares, generation: 0,
    };
    this.used = true;
    const hash = publicPackageHash(suite, c.session, key);
    const payload = encodePayload(TAG3, c.session, [hexToBytes(hash)]);
    return { kind: 'next', next: new DkgRound3(c, key, hash), outbox: [{ session: c.session, from: c.self, to: null, round: 3, payload }] };
  }

  serialize(): RoundState {
    if (this.used) throw new ProtocolMisuse('frost_round_reused', 'this DKG round was already finalized');
    const suite = frostSuite(this.c.suite);
    return {
      protocol: DKG_PROTOCOL, round: 2, session: this.c.session,
      data: { common: { ...this.c }, ownShare: bytesToHex(suite.Fn.toBytes(this.ownShare)), commitments: this.commitments },
    };
  }
}

/** Round 3: every party confirms the same public key package; only then is the key share output. */
class DkgRound3 implements Round<FrostKeyShare> {
  readonly protocol = DKG_PROTOCOL;
  readonly number = 3;
  constructor(private readonly c: Common, private readonly key: FrostKeyShare, private readonly packageHash: string) {}
  get session(): string {
    return this.c.session;
  }

  finalize(inbox: readonly Message[]): RoundResult<FrostKeyShare> {
    return { kind: 'done', output: confirmPackage(this.c, inbox, TAG3, 3, this.packageHash, this.key), outbox: [] };
  }

  serialize(): RoundState {
    return {
      protocol: DKG_PROTOCOL, round: 3, session: this.c.session,
      data: { common: { ...this.c }, key: keyShareJson(this.key), packageHash: this.packageHash },
    };
  }
}

/**
 * Shared by DKG and refresh: checks every party broadcast the same package hash as ours. A mismatch
 * means somebody equivocated on a broadcast; it cannot be pinned on one party from here, so the
 * abort names nobody and the key is not output.
 */
export function confirmPackage<K>(
  c: { session: string; self: PartyId; parties: readonly PartyId[] },
  inbox: readonly Message[], tag: string, round: number, packageHash: string, key: K,
): K {
  const got = collectInbox(inbox, { session: c.session, round, self: c.self, from: c.parties, broadcast: true });
  const disagree: PartyId[] = [];
  for (const [from, payload] of got) {
    const [h] = decodePayload(payload, tag, c.session, 1, from) as [Uint8Array];
    if (bytesToHex(h) !== packageHash) disagree.push(from);
  }
  if (disagree.length > 0) {
    throw new ProtocolAbort('frost_package_mismatch', `parties ${disagree.join(', ')} derived a different public key package (a broadcast was inconsistent)`, []);
  }
  return key;
}
