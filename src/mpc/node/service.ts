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
import { bitLength, generateSafePrime, isSafePrime } from '../bigint/index.js';
import { ProtocolAbort, type Json, type Message, type PartyId, type Rng, type Round, type RoundResult } from '../protocols/round.js';
import { openEnvelope, sealEnvelope, type Envelope } from '../transport/envelope.js';
import { checkNodeId, directoryOf, publicIdentity, type Directory, type PublicIdentity } from '../transport/identity.js';
import { parseNodeValueRules, verifyAuthorization, type DeriveDigest, type NodeValueRulesJSON, type PinnedApproverKey } from './authorization.js';
import { driverFor, driverForKey, type KeyScheme, type Run, type RunOutput } from './scheme.js';
import type { KeyRecord, NodeStore, PresignatureRecord } from './store.js';

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
  /** This node's own value tiers (more approvals, an HSM approval token from an amount on), whatever the policy says. */
  readonly valueTiers?: NodeValueRulesJSON['valueTiers'];
  /** HSM approval public keys for tiers that require an HSM approval token. */
  readonly hsmApprovalKeys?: NodeValueRulesJSON['hsmApprovalKeys'];
  /** Token contracts this node pins by asset symbol (Ethereum ERC-20: `{ "USDC": "0x…" }`). */
  readonly tokens?: Readonly<Record<string, string>>;
  /** Chain ids this node pins by chain (`{ "ethereum": 1 }`): a transaction for another network is refused. */
  readonly chainIds?: Readonly<Record<string, number>>;
}

/** Misbehaviours a node can be started with for adversarial tests (CUSTOS_NODE_TEST_HOOK). */
export const TEST_HOOKS = ['corrupt-signature-share', 'corrupt-presign-proof'] as const;
export type TestHook = (typeof TEST_HOOKS)[number];

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
/** Most unspent presignatures one node keeps (all keys together). */
export const MAX_PRESIGNATURES = 1024;
/** Bits of each safe prime of a Paillier-Blum modulus (2048-bit N). */
const PRIME_BITS = 1024;
const KEY_ID = /^[A-Za-z0-9_.:-]{1,128}$/;
const SESSION = /^(?:[0-9a-f]{2}){16,64}$/;

interface LiveSession {
  readonly kind: 'dkg' | 'sign' | 'refresh' | 'presign';
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
  /**
   * Set when this step spent a presignature: settles once the spend is on disk. The envelopes
   * must not leave the node before it resolves, nor at all if it rejects (server.ts awaits it).
   */
  readonly durable?: Promise<void>;
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
  private primeJob: Promise<void> | null = null;
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
      presignatures: this.o.store.listPresignatures().length,
      primePool: this.o.store.primePairs(),
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

  /** SECRET: a safe-prime pair from the sealed pool (taken durably, never handed out twice). */
  private primes(): { p: bigint; q: bigint } {
    const pair = this.o.store.takePrimePair();
    if (!pair) throw new NodeRefused('node_no_primes', 'no safe-prime pair is ready on this node (the session start prepares one)', 503);
    return { p: pair.p, q: pair.q };
  }

  private sweep(): void {
    const now = this.o.clock.now();
    for (const [id, s] of this.sessions) if (s.expiresAt <= now) this.sessions.delete(id);
  }

  private parsedValueRules: ReturnType<typeof parseNodeValueRules> | undefined;
  /** The node's value tiers and HSM keys, parsed once (the configuration is fixed for the service's life). */
  private valueRules(config: NodeConfig): ReturnType<typeof parseNodeValueRules> {
    return (this.parsedValueRules ??= parseNodeValueRules(config));
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
    // presignatures made from the old shares go with them
    this.o.store.dropPresignatures(keyId, generation as number);
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

  /**
   * What must happen before `startSession` and cannot happen inside it: a CGGMP21 key generation
   * or refresh needs a safe-prime pair for this node's new Paillier modulus, generated here
   * (OpenSSL, off the event loop) when the sealed pool is empty. The HTTP shell awaits it.
   */
  async prepareSession(body: unknown): Promise<void> {
    const b = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
    let needs = false;
    if (b.kind === 'dkg' && b.scheme === 'ecdsa') needs = true;
    if (b.kind === 'refresh' && typeof b.keyId === 'string') {
      const k = this.o.store.getKey(b.keyId);
      needs = k !== undefined && driverForKey(k).needsPrimes === true;
    }
    if (!needs) return;
    const pool = this.o.store.primePairs();
    if (pool.generated + pool.testFixture > 0) return;
    this.primeJob ??= Promise.all([generateSafePrime(PRIME_BITS), generateSafePrime(PRIME_BITS)])
      .then(([p, q]) => {
        this.o.store.addPrimePairs([{ p, q }], 'generated');
      })
      .finally(() => {
        this.primeJob = null;
      });
    await this.primeJob;
  }

  /**
   * TEST-ONLY provisioning: safe-prime pairs from public test fixtures, so that process-level tests
   * of CGGMP21 need not spend seconds of CPU per prime. Each prime is re-checked to be a 1024-bit
   * safe prime, a pair used before on this node is skipped. Never use fixture primes for real keys:
   * they are public. Returns how many pairs were added.
   */
  addTestOnlyPrimes(pairs: readonly { p: bigint; q: bigint }[]): number {
    for (const { p, q } of pairs) {
      if (p === q || bitLength(p) !== PRIME_BITS || bitLength(q) !== PRIME_BITS || !isSafePrime(p) || !isSafePrime(q)) {
        throw new CustosError('node_bad_primes', 'test primes must be distinct 1024-bit safe primes');
      }
    }
    return this.o.store.addPrimePairs(pairs, 'test-fixture');
  }

  /** Unspent presignatures this node holds for `keyId` (public fields). */
  presignatures(keyId: string): PresignatureRecord[] {
    this.key(keyId);
    return this.o.store.listPresignatures(keyId);
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
    let durable: Promise<void> | undefined;
    if (kind === 'dkg') {
      const parties = partyList(b, 'parties');
      const threshold = b.threshold;
      if (!Number.isSafeInteger(threshold)) throw new NodeRefused('node_bad_request', 'threshold must be an integer', 400);
      for (const p of parties) if (!directory.has(p)) throw new NodeRefused('node_unknown_peer', `${p} is not a pinned peer of this node`, 400);
      if (this.o.store.getKey(keyId)) throw new NodeRefused('node_key_exists', `key ${keyId} already exists`);
      const scheme = str(b, 'scheme', /^(ed25519|schnorr|ecdsa)$/) as KeyScheme;
      const driver = driverFor(scheme);
      if (!this.o.store.useSession(session)) throw new NodeRefused('node_session_reused', 'this session id was used before');
      const primes = driver.needsPrimes ? this.primes() : undefined;
      run = driver.keygen({ scheme, session, self: this.id, parties, threshold: threshold as number, rng: this.o.rng, primes });
    } else if (kind === 'refresh') {
      const record = this.key(keyId);
      const driver = driverForKey(record);
      if (!this.o.store.useSession(session)) throw new NodeRefused('node_session_reused', 'this session id was used before');
      const primes = driver.needsPrimes ? this.primes() : undefined;
      run = driver.refresh({ share: this.o.store.keyShare(keyId), session, rng: this.o.rng, primes });
    } else if (kind === 'presign') {
      const record = this.key(keyId);
      const driver = driverForKey(record);
      if (!driver.presign) throw new NodeRefused('node_bad_request', `keys of protocol ${record.protocol} need no presignatures`, 400);
      const signers = partyList(b, 'signers');
      if (!signers.includes(this.id) || !signers.every((s) => record.parties.includes(s) && directory.has(s))) {
        throw new NodeRefused('node_bad_signers', 'signers must be pinned holders of this key, this node among them', 400);
      }
      if (this.o.store.listPresignatures().length >= MAX_PRESIGNATURES) {
        throw new NodeRefused('node_presignature_pool_full', `this node holds ${MAX_PRESIGNATURES} presignatures already`, 429);
      }
      if (!this.o.store.useSession(session)) throw new NodeRefused('node_session_reused', 'this session id was used before');
      run = driver.presign({ share: this.o.store.keyShare(keyId), session, signers, rng: this.o.rng });
    } else if (kind === 'sign') {
      const record = this.key(keyId);
      const signers = partyList(b, 'signers');
      const auth = verifyAuthorization(b.authorization, {
        policyPublicKey: config.policyPublicKey, now, keyId, minApprovals: config.minApprovals, approverKeys: config.approverKeys ?? [],
        deriveDigest: this.o.deriveDigest, ...this.valueRules(config), ...(config.tokens ? { tokens: config.tokens } : {}), ...(config.chainIds ? { chainIds: config.chainIds } : {}),
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
      const driver = driverForKey(record);
      let presignatureId: string | undefined;
      if (driver.presign) {
        presignatureId = str(b, 'presignature', SESSION);
        const pre = this.o.store.getPresignature(presignatureId);
        if (!pre || pre.keyId !== keyId) throw new NodeRefused('node_unknown_presignature', 'this node holds no such unspent presignature of this key', 409);
        if (pre.generation !== record.generation) throw new NodeRefused('node_stale_presignature', 'the presignature was made with an earlier share generation', 409);
        if (pre.signers.length !== signers.length || pre.signers.some((s, i) => s !== signers[i])) {
          throw new NodeRefused('node_bad_signers', 'the presignature was made for another signer set', 400);
        }
      }
      // A newer session for the same withdrawal supersedes a live one (its peers went away).
      for (const [id, s] of this.sessions) if (s.withdrawalId === withdrawalId) this.sessions.delete(id);
      if (!this.o.store.startWithdrawal(withdrawalId, auth.authorization.digest, session, now)) {
        throw new NodeRefused('node_session_reused', 'this session id was used before');
      }
      const wid = withdrawalId;
      const store = this.o.store;
      const clock = this.o.clock;
      let presignature: Json | undefined;
      if (presignatureId !== undefined) {
        // Spent in memory and appended to the journal before the signature share is computed; the
        // share leaves only once that write is on disk (`durable`, awaited by the server), so a
        // crash from here on wastes this presignature and nothing can make this node use it twice.
        const spent = store.spendPresignature(presignatureId, { id: wid, now });
        if (spent === undefined) throw new NodeRefused('node_unknown_presignature', 'the presignature was spent meanwhile', 409);
        presignature = spent.secret;
        durable = spent.durable;
        // if a refusal below means nobody awaits it, a failed write must not become an unhandled
        // rejection; the server awaits `durable` itself whenever the step (and its share) is returned
        durable.catch(() => {});
      }
      run = driver.sign({
        share: () => store.keyShare(keyId), session, signers, message: auth.message, taprootMerkleRoot: auth.taprootMerkleRoot, rng: this.o.rng,
        nonceLedger: { consume: (id) => store.consumeNonce(id, { id: wid, now: clock.now() }) }, presignature,
      });
    } else {
      throw new NodeRefused('node_bad_request', 'kind must be dkg, sign, refresh or presign', 400);
    }
    const live: LiveSession = {
      kind, keyId, protocolName: run.protocolName, complete: run.complete, expiresAt: now + this.ttl,
      round: null as unknown as Round<unknown>, ...(withdrawalId ? { withdrawalId } : {}),
    };
    const step = this.step(session, live, run.start);
    return durable ? { ...step, durable } : step;
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
    if (!this.o.testHook || (live.kind !== 'sign' && live.kind !== 'presign')) return m;
    const record = this.key(live.keyId);
    const d = driverForKey(record);
    // FROST sends its signature share in round 2, CGGMP21 its σ share in round 1 (online signing)
    const shareRound = record.protocol === 'cmp' ? 1 : 2;
    if (this.o.testHook === 'corrupt-signature-share' && live.kind === 'sign' && m.round === shareRound && d.corruptSignatureShare) {
      return { ...m, payload: d.corruptSignatureShare(m.payload) };
    }
    if (this.o.testHook === 'corrupt-presign-proof' && live.kind === 'presign' && d.corruptProof) return d.corruptProof(m);
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
    if (out.kind === 'presignature') {
      const record = { ...out.record, keyId: live.keyId, createdAt: now };
      this.o.store.putPresignature(record, out.secret);
      return {
        presignature: record.id, R: record.R, signers: record.signers, generation: record.generation,
        ...(record.RBar && record.SBar ? { RBar: record.RBar, SBar: record.SBar } : {}),
      };
    }
    if (live.withdrawalId) this.o.store.setWithdrawalState(live.withdrawalId, 'signed', now, { signature: out.signature, publicKey: out.publicKey });
    return { signature: out.signature, publicKey: out.publicKey, ...(out.recovery === undefined ? {} : { recovery: out.recovery }) };
  }
}

/** Culprits of a protocol abort (for the HTTP answer). */
export function culpritsOf(err: unknown): PartyId[] {
  return err instanceof ProtocolAbort ? [...err.culprits] : [];
}
