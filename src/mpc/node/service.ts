/**
 * The signing node's service logic, independent of HTTP: it joins key generation, signing and
 * refresh sessions that a coordinator drives by relaying envelopes, and answers health and key
 * catalogue queries. It trusts nothing the coordinator says: envelopes are opened against pinned
 * peer identities (`../transport`), signing needs a policy-signed authorization whose digest the
 * node re-derives (`authorization.ts`), each FROST nonce is marked spent on disk before the share
 * leaves, and a withdrawal that this node has signed is never signed again.
 *
 * Withdrawal rule: the first session for a withdrawal binds it to its digest; a later session for
 * the same withdrawal is refused if the digest differs, or once this node has completed a
 * signature for it; after an aborted session (a peer went down, a culprit was named) the same
 * digest may be retried (at most `MAX_ATTEMPTS` times). A retry can only yield another signature
 * over the very same transaction, which the chains treat as the same transaction.
 *
 * @example
 *   const node = new NodeService({ store, config, clock: systemClock, rng, deriveDigest: rawMessageDigest });
 *   const { envelopes } = node.startSession({ kind: 'sign', session, keyId, signers, authorization });
 *   const next = node.advance(session, { round: 1, envelopes: relayed });
 */
import { CustosError } from '../../core/errors.js';
import type { Clock } from '../../core/clock.js';
import { ProtocolAbort, type Message, type PartyId, type Rng, type Round, type RoundResult } from '../protocols/round.js';
import { openEnvelope, sealEnvelope, type Envelope } from '../transport/envelope.js';
import { checkNodeId, directoryOf, publicIdentity, type Directory, type PublicIdentity } from '../transport/identity.js';
import { verifyAuthorization, type DeriveDigest, type PinnedApproverKey } from './authorization.js';
import { driverFor, driverForKey, type KeyScheme, type Run, type RunOutput } from './scheme.js';
import type { KeyRecord, NodeStore } from './store.js';

/** Provisioned configuration of a node (pinned peers and policy key). */
export interface NodeConfig {
  /** Every node's public identity, this one included (pinned at provisioning). */
  readonly peers: readonly PublicIdentity[];
  /** Ed25519 public key (hex) of the policy key that signs authorizations. */
  readonly policyPublicKey: string;
  /** Minimum distinct approvers an authorization must carry. */
  readonly minApprovals: number;
  /** Ed25519 public keys (hex) of coordinators allowed to POST (`caller-auth.ts`); absent: any caller. */
  readonly coordinatorKeys?: readonly string[];
  /** Pinned approvers' approval public keys: only their valid approval signatures count toward `minApprovals`. */
  readonly approverKeys?: readonly PinnedApproverKey[];
}

export type TestHook = 'corrupt-signature-share';

export interface NodeServiceOptions {
  readonly store: NodeStore;
  readonly config: NodeConfig | null;
  readonly clock: Clock;
  readonly rng: Rng;
  readonly deriveDigest: DeriveDigest;
  /** Session lifetime in memory (default 120 s). */
  readonly sessionTtlMs?: number;
  /** Misbehaviour for adversarial tests only (set with CUSTOS_NODE_TEST_HOOK). */
  readonly testHook?: TestHook | undefined;
}

export const MAX_ATTEMPTS = 8;
const KEY_ID = /^[A-Za-z0-9_.:-]{1,128}$/;
const SESSION = /^(?:[0-9a-f]{2}){16,64}$/;

interface LiveSession {
  readonly kind: 'dkg' | 'sign' | 'refresh';
  readonly keyId: string;
  readonly protocolName: string;
  readonly complete: Run['complete'];
  readonly withdrawalId?: string;
  readonly expiresAt: number;
  round: Round<unknown>;
}

export interface SessionStep {
  /** Envelopes this node sends (the coordinator relays them). */
  readonly envelopes: Envelope[];
  readonly done: boolean;
  /** On completion: the public result (key or signature), never a secret. */
  readonly result?: Record<string, unknown>;
}

export class NodeRefused extends CustosError {
  constructor(code: string, message: string, status = 409) {
    super(code, message, status);
    this.name = 'NodeRefused';
  }
}

function str(o: Record<string, unknown>, k: string, re: RegExp): string {
  const v = o[k];
  if (typeof v !== 'string' || !re.test(v)) throw new NodeRefused('node_bad_request', `field ${k} is missing or malformed`, 400);
  return v;
}

function obj(x: unknown): Record<string, unknown> {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) throw new NodeRefused('node_bad_request', 'request body must be a JSON object', 400);
  return x as Record<string, unknown>;
}

function partyList(o: Record<string, unknown>, k: string): string[] {
  const v = o[k];
  if (!Array.isArray(v) || v.length < 2 || v.length > 64) throw new NodeRefused('node_bad_request', `field ${k} must list 2 to 64 nodes`, 400);
  for (const p of v) checkNodeId(p);
  return [...new Set(v as string[])].sort();
}

export class NodeService {
  private readonly sessions = new Map<string, LiveSession>();
  private readonly directory: Directory | null;
  private readonly ttl: number;

  constructor(private readonly o: NodeServiceOptions) {
    this.directory = o.config ? directoryOf(o.config.peers) : null;
    this.ttl = o.sessionTtlMs ?? 120_000;
    const me = this.directory?.get(o.store.identity.id);
    if (me && (me.signingKey !== o.store.identity.signingKey || me.exchangeKey !== o.store.identity.exchangeKey)) {
      throw new CustosError('node_config_mismatch', 'the provisioned peer list pins another identity for this node', 500);
    }
  }

  get id(): string {
    return this.o.store.identity.id;
  }

  /** Coordinator keys whose signature POSTs need, or null when callers are not authenticated. */
  get coordinatorKeys(): readonly string[] | null {
    const k = this.o.config?.coordinatorKeys;
    return k && k.length > 0 ? k : null;
  }

  get identity(): PublicIdentity {
    return publicIdentity(this.o.store.identity);
  }

  health(): Record<string, unknown> {
    this.sweep();
    return {
      id: this.id, status: this.directory ? 'ok' : 'unprovisioned', identity: publicIdentity(this.o.store.identity),
      keys: this.o.store.listKeys().map((k) => {
        const pending = this.o.store.pendingGeneration(k.keyId);
        return { keyId: k.keyId, generation: k.generation, ...(pending === undefined ? {} : { pending }) };
      }),
      sessions: this.sessions.size,
      sealing: this.o.store.sealingLabel, ...(this.o.testHook ? { testHook: this.o.testHook } : {}),
    };
  }

  keys(): KeyRecord[] {
    return this.o.store.listKeys();
  }

  key(keyId: string): KeyRecord {
    const k = this.o.store.getKey(keyId);
    if (!k) throw new NodeRefused('node_unknown_key', `this node holds no share of key ${keyId}`, 404);
    return k;
  }

  private sweep(): void {
    const now = this.o.clock.now();
    for (const [id, s] of this.sessions) if (s.expiresAt <= now) this.sessions.delete(id);
  }

  private ready(): { directory: Directory; config: NodeConfig } {
    if (!this.directory || !this.o.config) throw new NodeRefused('node_not_provisioned', 'this node has no pinned peers or policy key yet', 503);
    return { directory: this.directory, config: this.o.config };
  }

  /**
   * Second phase of a refresh: makes the refreshed share (generation `generation`) current. The
   * coordinator calls it on every holder once all of them finished the refresh session.
   */
  commitRefresh(keyId: string, body: unknown): { keyId: string; generation: number } {
    this.ready();
    const generation = obj(body).generation;
    if (!Number.isSafeInteger(generation)) throw new NodeRefused('node_bad_request', 'generation must be an integer', 400);
    this.key(keyId);
    if (!this.o.store.commitPending(keyId, generation as number)) {
      throw new NodeRefused('node_no_pending_refresh', `no finished refresh of ${keyId} to generation ${String(generation)} on this node`);
    }
    return { keyId, generation: generation as number };
  }

  /** Joins a new session; returns this node's first envelopes. */
  /**
   * The signature this node completed for a withdrawal (public: it is what goes on chain), so a
   * coordinator that crashed after the session can finish without a second signature.
   */
  signedWithdrawal(withdrawalId: string): { withdrawalId: string; digest: string; signature: string; publicKey: string } {
    if (typeof withdrawalId !== 'string' || !/^[A-Za-z0-9_.:-]{1,128}$/.test(withdrawalId)) throw new NodeRefused('node_bad_request', 'malformed withdrawal id', 400);
    const w = this.o.store.withdrawal(withdrawalId);
    if (!w || w.state !== 'signed' || !w.signature || !w.publicKey) throw new NodeRefused('node_no_signature', `this node holds no completed signature for ${withdrawalId}`, 404);
    return { withdrawalId, digest: w.digest, signature: w.signature, publicKey: w.publicKey };
  }

  startSession(body: unknown): SessionStep {
    const { directory, config } = this.ready();
    this.sweep();
    const b = obj(body);
    const kind = b.kind;
    const session = str(b, 'session', SESSION);
    const keyId = str(b, 'keyId', KEY_ID);
    if (this.sessions.has(session)) throw new NodeRefused('node_session_exists', 'session already running');
    const now = this.o.clock.now();
    let run: Run;
    let withdrawalId: string | undefined;
    if (kind === 'dkg') {
      const parties = partyList(b, 'parties');
      const threshold = b.threshold;
      if (!Number.isSafeInteger(threshold)) throw new NodeRefused('node_bad_request', 'threshold must be an integer', 400);
      for (const p of parties) if (!directory.has(p)) throw new NodeRefused('node_unknown_peer', `${p} is not a pinned peer of this node`, 400);
      if (this.o.store.getKey(keyId)) throw new NodeRefused('node_key_exists', `key ${keyId} already exists`);
      const scheme = str(b, 'scheme', /^(ed25519|schnorr|ecdsa)$/) as KeyScheme;
      if (!this.o.store.useSession(session)) throw new NodeRefused('node_session_reused', 'this session id was used before');
      run = driverFor(scheme).keygen({ scheme, session, self: this.id, parties, threshold: threshold as number, rng: this.o.rng });
    } else if (kind === 'refresh') {
      const record = this.key(keyId);
      if (!this.o.store.useSession(session)) throw new NodeRefused('node_session_reused', 'this session id was used before');
      run = driverForKey(record).refresh({ share: this.o.store.keyShare(keyId), session, rng: this.o.rng });
    } else if (kind === 'sign') {
      const record = this.key(keyId);
      const signers = partyList(b, 'signers');
      const auth = verifyAuthorization(b.authorization, {
        policyPublicKey: config.policyPublicKey, now, keyId, minApprovals: config.minApprovals, approverKeys: config.approverKeys ?? [],
        deriveDigest: this.o.deriveDigest,
      });
      withdrawalId = auth.authorization.withdrawalId;
      const prev = this.o.store.withdrawal(withdrawalId);
      if (prev?.state === 'signed') throw new NodeRefused('withdrawal_already_signed', `withdrawal ${withdrawalId} was already signed by this node`);
      if (prev && prev.digest !== auth.authorization.digest) {
        throw new NodeRefused('withdrawal_digest_conflict', `withdrawal ${withdrawalId} was bound to another transaction`);
      }
      if (prev && prev.attempts >= MAX_ATTEMPTS) throw new NodeRefused('withdrawal_attempts_exhausted', `withdrawal ${withdrawalId} had ${prev.attempts} signing attempts`);
      if (!signers.includes(this.id) || !signers.every((s) => record.parties.includes(s) && directory.has(s))) {
        throw new NodeRefused('node_bad_signers', 'signers must be pinned holders of this key, this node among them', 400);
      }
      // A newer session for the same withdrawal supersedes a live one (its peers went away).
      for (const [id, s] of this.sessions) if (s.withdrawalId === withdrawalId) this.sessions.delete(id);
      if (!this.o.store.startWithdrawal(withdrawalId, auth.authorization.digest, session, now)) {
        throw new NodeRefused('node_session_reused', 'this session id was used before');
      }
      const wid = withdrawalId;
      const store = this.o.store;
      const clock = this.o.clock;
      run = driverForKey(record).sign({
        share: store.keyShare(keyId), session, signers, message: auth.message, taprootMerkleRoot: auth.taprootMerkleRoot, rng: this.o.rng,
        nonceLedger: { consume: (id) => store.consumeNonce(id, { id: wid, now: clock.now() }) },
      });
    } else {
      throw new NodeRefused('node_bad_request', 'kind must be dkg, sign or refresh', 400);
    }
    const live: LiveSession = {
      kind, keyId, protocolName: run.protocolName, complete: run.complete, expiresAt: now + this.ttl,
      round: null as unknown as Round<unknown>, ...(withdrawalId ? { withdrawalId } : {}),
    };
    return this.step(session, live, run.start);
  }

  /** Delivers the relayed envelopes of the session's current round. */
  advance(session: string, body: unknown): SessionStep {
    const { directory } = this.ready();
    this.sweep();
    if (typeof session !== 'string' || !SESSION.test(session)) throw new NodeRefused('node_bad_request', 'malformed session id', 400);
    const live = this.sessions.get(session);
    if (!live) throw new NodeRefused('node_unknown_session', 'no such live session on this node (expired, finished or never started)', 404);
    const b = obj(body);
    if (!Array.isArray(b.envelopes) || b.envelopes.length > 256) throw new NodeRefused('node_bad_request', 'envelopes must be a list', 400);
    const expect = { protocol: live.protocolName, session, round: live.round.number };
    let inbox: Message[];
    try {
      inbox = b.envelopes.map((e: unknown) => openEnvelope(e, { self: this.o.store.identity, directory, expect }));
    } catch (err) {
      // A relay that alters or replays an envelope ends the session: this node will not continue it.
      this.sessions.delete(session);
      throw err;
    }
    let res: RoundResult<unknown>;
    try {
      res = live.round.finalize(inbox);
    } catch (err) {
      this.sessions.delete(session);
      throw err;
    }
    return this.step(session, live, res);
  }

  private step(session: string, live: LiveSession, res: RoundResult<unknown>): SessionStep {
    const { directory } = this.ready();
    const outbox = res.outbox.map((m) => this.hooked(live, m));
    const envelopes = outbox.map((m) => sealEnvelope(m, { protocol: live.protocolName, sender: this.o.store.identity, directory, rng: this.o.rng }));
    if (res.kind === 'next') {
      live.round = res.next;
      this.sessions.set(session, live);
      return { envelopes, done: false };
    }
    this.sessions.delete(session);
    return { envelopes, done: true, result: this.finish(live, live.complete(res.output)) };
  }

  private hooked(live: LiveSession, m: Message): Message {
    if (this.o.testHook === 'corrupt-signature-share' && live.kind === 'sign' && m.round === 2) {
      const d = driverForKey(this.key(live.keyId));
      if (d.corruptSignatureShare) return { ...m, payload: d.corruptSignatureShare(m.payload) };
    }
    return m;
  }

  private finish(live: LiveSession, out: RunOutput): Record<string, unknown> {
    const now = this.o.clock.now();
    if (out.kind === 'key') {
      const record: KeyRecord = { ...out.record, keyId: live.keyId, createdAt: live.kind === 'dkg' ? now : this.key(live.keyId).createdAt };
      if (live.kind === 'refresh') this.o.store.putPending(record, out.share);
      else this.o.store.putKey(record, out.share);
      return {
        keyId: record.keyId, publicKey: record.publicKey, generation: record.generation, suite: record.suite, protocol: record.protocol,
        threshold: record.threshold,
      };
    }
    if (live.withdrawalId) this.o.store.setWithdrawalState(live.withdrawalId, 'signed', now, { signature: out.signature, publicKey: out.publicKey });
    return { signature: out.signature, publicKey: out.publicKey };
  }
}

/** Culprits of a protocol abort (for the HTTP answer). */
export function culpritsOf(err: unknown): PartyId[] {
  return err instanceof ProtocolAbort ? [...err.culprits] : [];
}
