/**
 * Proactive share refresh (custos' addition to FROST; Herzberg et al.'s proactive secret sharing
 * with Feldman-verifiable zero-sharings). Every one of the n holders deals a random polynomial
 * δ_i of degree t-1 with δ_i(0) = 0 and broadcasts Feldman commitments [δ_i0·G = O, δ_i1·G, …];
 * party j's new share is s_j + Σ_i δ_i(id_j). The group key is unchanged (the constant terms sum
 * to zero, and every party checks each dealer's constant commitment is the identity), while any
 * t shares mixing generations no longer interpolate to the key: old shares stop working.
 *
 * - round 1: commitments (broadcast) and δ_i(id_j) (peer to peer) in one round;
 * - round 2: every party broadcasts the hash of the new public key package; the new share is output
 *   only when all n agree.
 *
 * A dealer whose constant term is not zero, whose share is off its commitment, or whose message is
 * malformed or replayed is named. All n parties must take part.
 *
 * @example
 *   let res = startRefresh({ key, session, rng });
 *   // deliver; res = res.next.finalize(inbox) … until done: res.output is the new FrostKeyShare
 */
import { bytesToHex, concatBytes, hexToBytes } from '@noble/hashes/utils.js';
import {
  collectInbox, ProtocolAbort, ProtocolMisuse,
  type Message, type PartyId, type Rng, type Round, type RoundResult, type RoundState,
} from '../round.js';
import { confirmPackage, publicPackageHash } from './dkg.js';
import { keyIdentifiers, keyShareJson, parseKeyShare, type FrostKeyShare } from './key-share.js';
import { checkSession } from './params.js';
import { decodePointCached } from './signing-core.js';
import { baseMulSecret, evaluateCommitment, evaluatePolynomial, frostSuite, randomScalar, type GroupPoint } from './suite.js';
import { decodePayload, encodePayload, splitFixed } from './wire.js';

export const REFRESH_PROTOCOL = 'frost-refresh';
const TAG_COMMIT = 'frost/refresh/1/commitment';
const TAG_SHARE = 'frost/refresh/1/share';
const TAG_CONFIRM = 'frost/refresh/2';

export interface RefreshParams {
  /** The current share (any generation); all holders of this key take part. */
  readonly key: FrostKeyShare;
  /** Fresh hex session id agreed by all n parties. */
  readonly session: string;
}

/**
 * Starts a refresh: deals this party's zero-sharing and returns round 1 with its messages.
 * `dealConstant` exists only so tests can play a dealer who cheats; production never passes it.
 */
export function startRefresh(params: RefreshParams & { readonly rng: Rng; readonly dealConstant?: bigint }): RoundResult<FrostKeyShare> {
  const { key, session } = params;
  const suite = frostSuite(key.suite);
  checkSession(session);
  const coefficients: bigint[] = [params.dealConstant ?? 0n];
  for (let k = 1; k < key.threshold; k++) coefficients.push(randomScalar(suite, params.rng));
  const commitment = coefficients.map((a) => (a === 0n ? suite.Point.ZERO : suite.Point.BASE.multiply(a)));
  const outbox: Message[] = [{
    session, from: key.self, to: null, round: 1,
    payload: encodePayload(TAG_COMMIT, session, [concatBytes(...commitment.map((p) => suite.encodePoint(p)))]),
  }];
  for (const p of key.parties) {
    if (p === key.self) continue;
    const d = evaluatePolynomial(suite, coefficients, keyIdentifiers(suite, key).scalar(p));
    outbox.push({ session, from: key.self, to: p, round: 1, payload: encodePayload(TAG_SHARE, session, [suite.Fn.toBytes(d)]) });
  }
  const ownDelta = evaluatePolynomial(suite, coefficients, keyIdentifiers(suite, key).scalar(key.self));
  coefficients.fill(0n);
  const own = commitment.map((p) => bytesToHex(suite.encodePoint(p)));
  return { kind: 'next', next: new RefreshRound1(key, session, ownDelta, own), outbox };
}

/** Restores a refresh round from `serialize()` output. */
export function restoreRefresh(state: RoundState): Round<FrostKeyShare> {
  if (state.protocol !== REFRESH_PROTOCOL) throw new ProtocolMisuse('frost_bad_state', 'not a FROST refresh state');
  const d = state.data as Record<string, unknown> | null;
  if (typeof d !== 'object' || d === null) throw new ProtocolMisuse('frost_bad_state', 'malformed refresh state');
  checkSession(state.session);
  if (state.round === 1) {
    const key = parseKeyShare(d.key);
    const suite = frostSuite(key.suite);
    const own = d.ownCommitment;
    if (!Array.isArray(own) || !own.every((x) => typeof x === 'string')) throw new ProtocolMisuse('frost_bad_state', 'malformed refresh state');
    return new RefreshRound1(key, state.session, suite.Fn.fromBytes(hexToBytes(String(d.ownDelta))), own as string[]);
  }
  if (state.round === 2) {
    const fresh = parseKeyShare(d.fresh);
    return new RefreshRound2(fresh, state.session, String(d.packageHash));
  }
  throw new ProtocolMisuse('frost_bad_state', 'unknown refresh round');
}

class RefreshRound1 implements Round<FrostKeyShare> {
  readonly protocol = REFRESH_PROTOCOL;
  readonly number = 1;
  private used = false;
  constructor(
    private readonly key: FrostKeyShare,
    readonly session: string,
    private readonly ownDelta: bigint,
    private readonly ownCommitment: string[],
  ) {}

  finalize(inbox: readonly Message[]): RoundResult<FrostKeyShare> {
    if (this.used) throw new ProtocolMisuse('frost_round_reused', 'this refresh round was already finalized');
    const { key, session } = this;
    const suite = frostSuite(key.suite);
    const t = key.threshold;
    const want = { session, round: 1, self: key.self, from: key.parties };
    const commits = collectInbox(inbox.filter((m) => m.to === null), { ...want, broadcast: true });
    const shares = collectInbox(inbox.filter((m) => m.to !== null), { ...want, broadcast: false });
    const ids = keyIdentifiers(suite, key);
    const myId = ids.scalar(key.self);
    const dealt: Record<PartyId, GroupPoint[]> = {};
    const deltas = new Map<PartyId, bigint>();
    const culprits = new Map<PartyId, string>();
    for (const [from, payload] of commits) {
      try {
        const [cBytes] = decodePayload(payload, TAG_COMMIT, session, 1, from) as [Uint8Array];
        const parts = splitFixed(cBytes, suite.pointBytes, t, from, 'refresh commitment');
        const C = parts.map((b, k) => (k === 0 ? suite.decodePoint(b, from, 'refresh commitment', true) : decodePointCached(suite, b, from, 'refresh commitment')));
        // The zero-sharing check: the dealt constant term must be 0, or the group key would move.
        if (!(C[0] as GroupPoint).is0()) {
          throw new ProtocolAbort('frost_refresh_nonzero_constant', `${from} dealt a refresh polynomial with a non-zero constant term`, [from]);
        }
        const [dBytes] = decodePayload(shares.get(from) as Uint8Array, TAG_SHARE, session, 1, from) as [Uint8Array];
        deltas.set(from, suite.decodeScalar(dBytes, from, 'refresh share'));
        dealt[from] = C;
      } catch (e) {
        if (!(e instanceof ProtocolAbort)) throw e;
        culprits.set(from, e.code);
      }
    }
    const fail = (): never => {
      const names = [...culprits.keys()];
      const codes = new Set(culprits.values());
      const code = codes.size === 1 ? [...codes][0] as string : 'frost_refresh_failed';
      throw new ProtocolAbort(code, `refresh failed: misbehaving dealer(s) ${names.join(', ')}`, names);
    };
    if (culprits.size > 0) fail();
    dealt[key.self] = this.ownCommitment.map((h, k) => suite.decodePoint(hexToBytes(h), key.self, 'refresh commitment', k === 0));
    const old = key.commitment.map((h) => decodePointCached(suite, hexToBytes(h), key.self, 'commitment'));
    const group = old.map((p, k) => key.parties.reduce((acc, q) => acc.add((dealt[q] as GroupPoint[])[k] as GroupPoint), p));
    if (group.some((p) => p.is0())) throw new ProtocolAbort('frost_refresh_degenerate', 'refreshed commitment is degenerate', []);
    let share = suite.Fn.add(suite.Fn.fromBytes(hexToBytes(key.signingShare)), this.ownDelta);
    for (const d of deltas.values()) share = suite.Fn.add(share, d);
    // Batch Feldman check against the new group commitment (the old share matched the old one);
    // only if it fails, check each dealer to name it.
    if (!baseMulSecret(suite, share).equals(evaluateCommitment(suite, group, myId))) {
      for (const [from, d] of deltas) {
        if (!baseMulSecret(suite, d).equals(evaluateCommitment(suite, dealt[from] as GroupPoint[], myId))) culprits.set(from, 'frost_refresh_bad_share');
      }
      if (culprits.size === 0) throw new ProtocolAbort('frost_refresh_bad_share', 'refresh shares do not match the commitments', []);
      fail();
    }
    if (share === 0n) throw new ProtocolAbort('frost_refresh_degenerate', 'refresh produced a zero share', []);
    const verifyingShares: Record<PartyId, string> = {};
    for (const p of key.parties) verifyingShares[p] = bytesToHex(suite.encodePoint(evaluateCommitment(suite, group, ids.scalar(p))));
    const fresh: FrostKeyShare = {
      ...key,
      signingShare: bytesToHex(suite.Fn.toBytes(share)),
      commitment: group.map((p) => bytesToHex(p.toBytes())),
      verifyingShares,
      generation: key.generation + 1,
    };
    this.used = true;
    const hash = publicPackageHash(suite, session, fresh);
    const payload = encodePayload(TAG_CONFIRM, session, [hexToBytes(hash)]);
    return { kind: 'next', next: new RefreshRound2(fresh, session, hash), outbox: [{ session, from: key.self, to: null, round: 2, payload }] };
  }

  serialize(): RoundState {
    if (this.used) throw new ProtocolMisuse('frost_round_reused', 'this refresh round was already finalized');
    const suite = frostSuite(this.key.suite);
    return {
      protocol: REFRESH_PROTOCOL, round: 1, session: this.session,
      data: { key: keyShareJson(this.key), ownDelta: bytesToHex(suite.Fn.toBytes(this.ownDelta)), ownCommitment: [...this.ownCommitment] },
    };
  }
}

class RefreshRound2 implements Round<FrostKeyShare> {
  readonly protocol = REFRESH_PROTOCOL;
  readonly number = 2;
  constructor(private readonly fresh: FrostKeyShare, readonly session: string, private readonly packageHash: string) {}

  finalize(inbox: readonly Message[]): RoundResult<FrostKeyShare> {
    const c = { session: this.session, self: this.fresh.self, parties: this.fresh.parties };
    return { kind: 'done', output: confirmPackage(c, inbox, TAG_CONFIRM, 2, this.packageHash, this.fresh), outbox: [] };
  }

  serialize(): RoundState {
    return { protocol: REFRESH_PROTOCOL, round: 2, session: this.session, data: { fresh: keyShareJson(this.fresh), packageHash: this.packageHash } };
  }
}
