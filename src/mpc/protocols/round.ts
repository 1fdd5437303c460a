/**
 * The shape every threshold protocol in custos follows: a party is a chain of rounds. A round takes
 * its inbox (messages from the other parties, already authenticated by the caller) and returns either
 * the next round plus an outbox, or the protocol's output. A round never does I/O, never reads a
 * clock, and draws randomness only from the injected `Rng`.
 *
 * Misbehaviour that can be attributed is thrown as a `ProtocolAbort` naming the culprits
 * (identifiable abort). Everything a party keeps between rounds serialises with `Round.serialize()`
 * to a JSON-safe `RoundState` (which may hold secrets: seal it before it leaves the enclave); each
 * protocol exports a function that restores a round from its state.
 *
 * @example
 *   // a protocol's start function returns the first round and the round-1 outbox
 *   let res: RoundResult<KeyShare> = startKeygen(params, rng);
 *   while (res.kind === 'next') {
 *     await transport.send(res.outbox);
 *     res = res.next.finalize(await transport.collect(res.next.session, res.next.number));
 *   }
 *   await transport.send(res.outbox);
 *   return res.output;
 */
import { CustosError } from '../../core/errors.js';

/** A party's identifier inside one protocol instance (stable across sessions, e.g. a node id). */
export type PartyId = string;

/** Injected randomness: returns `n` fresh uniformly random bytes. Production passes node:crypto's. */
export type Rng = (n: number) => Uint8Array;

/**
 * One protocol message. `to: null` is a broadcast (the caller must deliver the same bytes to every
 * party, e.g. by echo broadcast). `session` is the hex session id the message belongs to; a round
 * refuses messages of another session or round. Payloads never carry secrets except peer-to-peer
 * shares, which the transport encrypts.
 */
export interface Message {
  readonly session: string;
  readonly from: PartyId;
  readonly to: PartyId | null;
  readonly round: number;
  readonly payload: Uint8Array;
}

/** JSON-safe value (what `RoundState.data` may hold; bytes go in as hex strings). */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Everything a party keeps between rounds. May contain secrets: seal before storing. */
export interface RoundState {
  readonly protocol: string;
  readonly round: number;
  readonly session: string;
  readonly data: Json;
}

/** The outcome of one round: continue with `next`, or finish with `output`. Both may send. */
export type RoundResult<Out> =
  | { readonly kind: 'next'; readonly next: Round<Out>; readonly outbox: Message[] }
  | { readonly kind: 'done'; readonly output: Out; readonly outbox: Message[] };

/** One round of one party. `finalize` is called once with every message addressed to this round. */
export interface Round<Out> {
  readonly protocol: string;
  /**
   * The round whose messages this object consumes. A start function emits round-1 messages and
   * returns the round with number 1; its `finalize` emits round-2 messages, and so on.
   */
  readonly number: number;
  readonly session: string;
  /** Consume the inbox; throws `ProtocolAbort` naming culprits on attributable misbehaviour. */
  finalize(inbox: readonly Message[]): RoundResult<Out>;
  /** Snapshot of the party's state, restorable in another process. */
  serialize(): RoundState;
}

/**
 * Identifiable abort: the protocol stopped because the named parties misbehaved (bad share, bad proof,
 * replayed or missing message). `culprits` is empty only when nobody can be blamed. Messages never
 * contain secret material.
 */
export class ProtocolAbort extends CustosError {
  readonly culprits: readonly PartyId[];

  constructor(code: string, message: string, culprits: readonly PartyId[] = []) {
    super(code, message, 409, { culprits: [...culprits] });
    this.name = 'ProtocolAbort';
    this.culprits = [...culprits];
  }
}

/** The caller asked for something the protocol refuses (bad parameters, nonce reuse, bad state). */
export class ProtocolMisuse extends CustosError {
  constructor(code: string, message: string) {
    super(code, message, 400);
    this.name = 'ProtocolMisuse';
  }
}

/**
 * Validates an inbox against what a round expects and indexes it by sender. Rejects (naming the
 * sender) a message of another session or round, from an unexpected party, addressed to somebody
 * else, of the wrong kind (broadcast vs peer-to-peer), or duplicated; names the parties whose
 * message is missing.
 *
 * @example
 *   const byParty = collectInbox(inbox, { session, round: 2, self: 'a', from: ['b', 'c'], broadcast: false });
 */
export function collectInbox(
  inbox: readonly Message[],
  want: {
    readonly session: string;
    readonly round: number;
    readonly self: PartyId;
    readonly from: readonly PartyId[];
    readonly broadcast: boolean;
  },
): Map<PartyId, Uint8Array> {
  const expected = new Set(want.from.filter((p) => p !== want.self));
  const got = new Map<PartyId, Uint8Array>();
  for (const m of inbox) {
    if (m.session !== want.session) {
      throw new ProtocolAbort('protocol_wrong_session', `message from ${m.from} belongs to another session`, [m.from]);
    }
    if (m.round !== want.round) {
      throw new ProtocolAbort('protocol_wrong_round', `message from ${m.from} is for round ${m.round}, expected ${want.round}`, [m.from]);
    }
    if (!expected.has(m.from)) {
      throw new ProtocolAbort('protocol_unexpected_sender', `message from unexpected party ${m.from}`, [m.from]);
    }
    if (want.broadcast ? m.to !== null : m.to !== want.self) {
      throw new ProtocolAbort('protocol_wrong_recipient', `message from ${m.from} has the wrong recipient`, [m.from]);
    }
    if (got.has(m.from)) {
      throw new ProtocolAbort('protocol_duplicate_message', `two messages from ${m.from} in round ${want.round}`, [m.from]);
    }
    got.set(m.from, m.payload);
  }
  const missing = [...expected].filter((p) => !got.has(p));
  if (missing.length > 0) {
    throw new ProtocolAbort('protocol_missing_message', `no round ${want.round} message from ${missing.join(', ')}`, missing);
  }
  return got;
}
