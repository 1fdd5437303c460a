/**
 * The signing coordinator: runs key generation across all n nodes, signing with t healthy nodes,
 * and refresh, by relaying envelopes it can neither read nor forge (`../transport`). It holds no
 * secret. Signing picks t healthy holders of the key (preferred order first), and when a node is
 * down or the session aborts it retries with another subset. For FROST it checks every relayed
 * signature share itself (`aggregateSignature` over the signed broadcasts) before delivering them,
 * so a cheating node is named from evidence the coordinator verified, excluded from later
 * sessions, and reported through `onCulprit` (wire it to alerts).
 *
 * @example
 *   const coordinator = new Coordinator({ nodes, onCulprit: (a) => alerts.raise(a) });
 *   const key = await coordinator.keygen({ scheme: 'ed25519', threshold: 3 });
 *   const { signature } = await coordinator.sign({ keyId: key.keyId, authorization });
 */
import { randomBytes } from 'node:crypto';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { CustosError } from '../../core/errors.js';
import { systemClock, type Clock } from '../../core/clock.js';
import { aggregateSignature, bip340Verify, signingPublicKey, type PublicPackage } from '../protocols/frost/index.js';
import { ProtocolAbort, type Message } from '../protocols/round.js';
import { rawMessageDigest, type DeriveDigest, type SignedAuthorization } from '../node/authorization.js';
import type { KeyRecord } from '../node/store.js';
import { edVerify } from '../transport/ed25519.js';
import { verifyEnvelopeSignature, type Envelope } from '../transport/envelope.js';
import { directoryOf, type Directory, type PublicIdentity } from '../transport/identity.js';
import { NodeCallFailed, NodeClient, type NodeTlsPins } from './client.js';
import {
  checkedEcdsa, combineSigmaShares, PresignaturePool, runOnlineSigning, sigmaCulprits, subsetKey, subsetsInOrder, type CombinedEcdsa, type PooledPresignature,
} from './ecdsa.js';
import { runSession, SessionFailed } from './session.js';

export interface NodeEndpoint {
  readonly id: string;
  /** Base URL of the node's API: `http:` on loopback only, `https:` with the pinned certificate otherwise. */
  readonly url: string;
  /**
   * For an `https:` URL: the node's TLS certificate (PEM), the only one the coordinator accepts
   * from it; during a rotation of that certificate, `certificates` pins the new one as well.
   */
  readonly tls?: NodeTlsPins | undefined;
  /** The node's pinned public identity. */
  readonly identity: PublicIdentity;
}

export interface CulpritAlert {
  readonly node: string;
  readonly keyId: string;
  readonly session: string;
  readonly code: string;
  readonly message: string;
}

export interface CoordinatorOptions {
  readonly nodes: readonly NodeEndpoint[];
  /** Raised when a node is identified as cheating (it is then excluded). */
  readonly onCulprit?: (alert: CulpritAlert) => void;
  /** Human progress lines (keygen, refresh, retries). */
  readonly onProgress?: (line: string) => void;
  /** Per-call timeout (default 10 s). */
  readonly timeoutMs?: number;
  /** How long a health answer is trusted (default 5 s). */
  readonly healthTtlMs?: number;
  /** Signing attempts before giving up (default 4). */
  readonly maxAttempts?: number;
  readonly clock?: Clock;
  /** The coordinator's Ed25519 secret key (32 bytes): signs every POST to nodes that require it. */
  readonly secretKey?: Uint8Array;
  /** Adversarial tests only: alters envelopes on their way to a node. */
  readonly relayTamper?: (e: Envelope, recipient: string) => Envelope;
}

export interface NodeHealth {
  readonly id: string;
  readonly up: boolean;
  readonly keys: readonly { keyId: string; generation: number; pending?: number }[];
  readonly error?: string;
}

/** One configured node as an operator sees it (`GET /v1/admin/nodes`). */
export interface NodeStatus {
  readonly id: string;
  readonly url: string;
  readonly reachable: boolean;
  /** When the node last answered a health check healthy (ms since the epoch); null: never. */
  readonly lastSeen: number | null;
  readonly keys: readonly { keyId: string; generation: number; pending?: number }[];
  /** Identified as cheating and excluded from signing until readmitted. */
  readonly excluded: boolean;
  readonly error?: string;
}

export interface KeyInfo {
  readonly keyId: string;
  readonly suite: string;
  readonly protocol: string;
  readonly threshold: number;
  readonly parties: readonly string[];
  /** Group public key (hex): 32-byte Ed25519, or 33-byte compressed secp256k1 (BIP-340 x-only is bytes 1..33). */
  readonly publicKey: string;
  readonly generation: number;
  /** Nodes that answered holding this key. */
  readonly holders: readonly string[];
}

export interface SignRequest {
  readonly keyId: string;
  readonly authorization: SignedAuthorization;
  /** Nodes to try first (e.g. a region preference); the others follow in id order. */
  readonly prefer?: readonly string[];
}

export interface SignResult {
  /** 64 bytes: R || z (Ed25519) or x(R) || z (BIP-340). */
  readonly signature: Uint8Array;
  /** The key it verifies under (32-byte Ed25519 or x-only BIP-340, tweaked when Taproot). */
  readonly publicKey: Uint8Array;
  readonly signers: readonly string[];
  readonly session: string;
  readonly attempts: number;
  /** Threshold ECDSA only: the recovery id (0/1) of the low-S signature. */
  readonly recovery?: number;
}

/** Per-call timeout of CGGMP21 key generation, refresh and presigning rounds (seconds of CPU each). */
const CMP_TIMEOUT_MS = 180_000;

/** Node refusals that another subset would repeat: stop and surface them. */
const FATAL = /^(authorization_|withdrawal_|node_unknown_key$|node_bad_signers$)/;

export class Coordinator {
  private readonly clients: Map<string, NodeClient>;
  private readonly directory: Directory;
  private readonly excludedNodes = new Set<string>();
  private healthAt = -Infinity;
  private healthCache: NodeHealth[] = [];
  private readonly records = new Map<string, KeyRecord>();
  /** Threshold ECDSA presignatures per key and signer subset (public ids and R only). */
  private readonly pool = new PresignaturePool();
  private readonly pools = new Map<string, { perSubset: number; subsets?: readonly (readonly string[])[] | undefined }>();
  private poolLoop: Promise<void> | null = null;
  private poolStopped = false;
  private readonly completions = new Set<Promise<void>>();
  /** Per withdrawal: the nodes' recording of its signature, while it runs. */
  private readonly recording = new Map<string, Promise<void>>();
  private readonly lastSeen = new Map<string, number>();
  private readonly clock: Clock;

  constructor(private readonly o: CoordinatorOptions) {
    this.directory = directoryOf(o.nodes.map((n) => n.identity));
    for (const n of o.nodes) if (n.identity.id !== n.id) throw new CustosError('mpc_bad_cluster', `node ${n.id} is pinned with the identity of ${n.identity.id}`);
    this.clients = new Map(o.nodes.map((n) => [n.id, new NodeClient(n, o.timeoutMs ?? 10_000, o.secretKey)]));
    this.clock = o.clock ?? systemClock;
  }

  /** Nodes excluded after being identified as cheating. */
  excluded(): string[] {
    return [...this.excludedNodes].sort();
  }

  /** Lets an operator take a node back after investigation. */
  readmit(node: string): void {
    this.excludedNodes.delete(node);
  }

  private progress(line: string): void {
    this.o.onProgress?.(line);
  }

  /** Asks every node for its health (2 s timeout each). */
  async health(): Promise<NodeHealth[]> {
    const list = await Promise.all([...this.clients.values()].map(async (c): Promise<NodeHealth> => {
      try {
        const h = (await c.health(2_000)) as { id?: unknown; status?: unknown; keys?: unknown };
        if (h.id !== c.id) return { id: c.id, up: false, keys: [], error: 'answered with another id' };
        return { id: c.id, up: h.status === 'ok', keys: Array.isArray(h.keys) ? (h.keys as NodeHealth['keys']) : [], ...(h.status === 'ok' ? {} : { error: String(h.status) }) };
      } catch (err) {
        return { id: c.id, up: false, keys: [], error: err instanceof CustosError ? err.code : 'error' };
      }
    }));
    this.healthCache = list;
    this.healthAt = this.clock.now();
    for (const h of list) if (h.up) this.lastSeen.set(h.id, this.healthAt);
    return list;
  }

  /** Every configured node: reachable now (a fresh health check), last seen, keys held, excluded. */
  async nodeStatus(): Promise<NodeStatus[]> {
    const health = await this.health();
    return this.o.nodes.map((n) => {
      const h = health.find((x) => x.id === n.id);
      return {
        id: n.id, url: n.url, reachable: h?.up ?? false, lastSeen: this.lastSeen.get(n.id) ?? null, keys: h?.keys ?? [],
        excluded: this.excludedNodes.has(n.id), ...(h?.error ? { error: h.error } : {}),
      };
    });
  }

  private async cachedHealth(): Promise<NodeHealth[]> {
    if (this.clock.now() - this.healthAt > (this.o.healthTtlMs ?? 5_000)) return this.health();
    return this.healthCache;
  }

  private newSession(): string {
    return bytesToHex(randomBytes(32));
  }

  /** Distributed key generation across `parties` (default: every configured node). */
  async keygen(p: { scheme: 'ed25519' | 'schnorr' | 'ecdsa'; threshold: number; parties?: readonly string[]; keyId?: string }): Promise<KeyInfo> {
    const parties = [...(p.parties ?? [...this.clients.keys()])].sort();
    const health = await this.health();
    const down = parties.filter((id) => !health.find((h) => h.id === id)?.up);
    this.progress(`nodes up: ${parties.length - down.length}/${parties.length}`);
    if (down.length > 0) throw new CustosError('mpc_nodes_down', `key generation needs every party; down: ${down.join(', ')}`, 503);
    const keyId = p.keyId ?? `${p.scheme}-${bytesToHex(randomBytes(6))}`;
    const session = this.newSession();
    this.progress(`key generation ${keyId}: ${p.scheme} ${p.threshold}-of-${parties.length}, session ${session.slice(0, 16)}…`);
    const clients = parties.map((id) => this.client(id));
    const results = await this.runOrExplain(keyId, session, () => runSession(clients, () => ({
      kind: 'dkg', session, keyId, scheme: p.scheme, threshold: p.threshold, parties,
    }), { onRound: (r) => this.progress(`  round ${r} relayed`), tamper: this.o.relayTamper, timeoutMs: p.scheme === 'ecdsa' ? CMP_TIMEOUT_MS : undefined }));
    const info = this.agree(keyId, results);
    this.healthAt = -Infinity; // the cached key lists are out of date
    this.progress(`key ${keyId} ready: public key ${info.publicKey}`);
    return info;
  }

  /** Proactive refresh of every share of `keyId` (all parties take part); the public key is unchanged. */
  async refresh(p: { keyId: string }): Promise<KeyInfo> {
    const before = await this.keyRecordFrom(await this.holders(p.keyId), p.keyId);
    const health = await this.health();
    const down = before.parties.filter((id) => !health.find((h) => h.id === id)?.up);
    if (down.length > 0) throw new CustosError('mpc_nodes_down', `refresh needs every party; down: ${down.join(', ')}`, 503);
    const session = this.newSession();
    this.progress(`refresh ${p.keyId}: generation ${before.generation} → ${before.generation + 1}, session ${session.slice(0, 16)}…`);
    const results = await this.runOrExplain(p.keyId, session, () => runSession(before.parties.map((id) => this.client(id)), () => ({
      kind: 'refresh', session, keyId: p.keyId,
    }), { onRound: (r) => this.progress(`  round ${r} relayed`), tamper: this.o.relayTamper, timeoutMs: before.protocol === 'cmp' ? CMP_TIMEOUT_MS : undefined }));
    const info = this.agree(p.keyId, results);
    this.healthAt = -Infinity;
    if (info.publicKey !== before.publicKey) throw new CustosError('mpc_refresh_changed_key', 'refresh changed the public key; the old shares stay current');
    // Phase two: every holder finished, so every holder may switch. A holder missed here is
    // switched by the next sign (`completeRefresh`), as it keeps the finished share pending.
    const commits = await Promise.allSettled(before.parties.map((id) => this.client(id).commitRefresh(p.keyId, info.generation)));
    const missed = before.parties.filter((_, i) => commits[i]?.status === 'rejected');
    if (missed.length > 0) this.progress(`commit of generation ${info.generation} pending on ${missed.join(', ')} (completed by the next session)`);
    this.progress(`key ${p.keyId} refreshed: generation ${info.generation}`);
    return info;
  }

  /** Every key the reachable nodes hold, with the nodes holding it. */
  async listKeys(): Promise<KeyInfo[]> {
    const health = await this.health();
    const byKey = new Map<string, { record: KeyRecord; holders: string[] }>();
    await Promise.all(health.filter((h) => h.up).map(async (h) => {
      const res = (await this.client(h.id).keys()) as { keys?: KeyRecord[] };
      for (const k of res.keys ?? []) {
        const e = byKey.get(k.keyId);
        if (e) e.holders.push(h.id);
        else byKey.set(k.keyId, { record: k, holders: [h.id] });
      }
    }));
    return [...byKey.values()].map(({ record, holders }) => ({ ...info(record), holders: holders.sort() })).sort((a, b) => a.keyId.localeCompare(b.keyId));
  }

  /**
   * Signs an authorized withdrawal with t nodes; retries with another subset when a node is down
   * or the session aborts, excluding identified cheaters. Throws `CustosError` with the nodes'
   * refusal code (`authorization_*`, `withdrawal_*`) when the request itself is refused, or
   * `mpc_not_enough_nodes` / `mpc_sign_failed` (details list every attempt).
   */
  async sign(req: SignRequest, deriveDigest: DeriveDigest = rawMessageDigest): Promise<SignResult> {
    const maxAttempts = this.o.maxAttempts ?? 4;
    const down = new Set<string>();
    const tried = new Set<string>();
    const attempts: { signers: string[]; error: string }[] = [];
    const a = req.authorization.authorization;
    const derived = deriveDigest(a.chain, hexToBytes(a.unsignedTx), hexToBytes(a.digest));
    if (bytesToHex(derived.digest) !== a.digest) throw new CustosError('authorization_digest_mismatch', 'the digest does not match the unsigned transaction', 403);
    await this.recording.get(a.withdrawalId); // a signature of this withdrawal still being recorded by the nodes
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      let health = await this.cachedHealth();
      if (!health.some((h) => h.keys.some((k) => k.keyId === req.keyId))) health = await this.health(); // a key newer than the cache
      if (await this.completeRefresh(req.keyId, health)) health = await this.health();
      const candidates = health
        .filter((h) => h.up && !down.has(h.id) && !this.excludedNodes.has(h.id) && h.keys.some((k) => k.keyId === req.keyId))
        .map((h) => h.id);
      const prefer = (req.prefer ?? []).filter((id) => candidates.includes(id));
      const ordered = [...prefer, ...candidates.filter((id) => !prefer.includes(id)).sort()];
      const record = ordered.length > 0 ? await this.signingRecord(ordered, req.keyId, health).catch(() => null) : null;
      const t = record?.threshold ?? Infinity;
      if (!record || ordered.length < t) {
        throw new CustosError('mpc_not_enough_nodes', `not enough healthy, trusted holders of ${req.keyId} to sign (${ordered.length} available)`, 503, { attempts });
      }
      if (record.protocol === 'cmp') {
        const session = this.newSession();
        let signers: string[] = [];
        try {
          const r = await this.signEcdsa(req, record, ordered, derived.digest, tried, session, (s) => {
            signers = s;
          });
          return { ...r, attempts: attempt };
        } catch (err) {
          const why = this.absorb(err, req.keyId, session, down);
          attempts.push({ signers, error: why });
          this.progress(`attempt ${attempt} with ${signers.join(', ')} failed: ${why}`);
          continue;
        }
      }
      const signers = ordered.slice(0, t);
      const session = this.newSession();
      if (attempt > 1) this.progress(`retry ${attempt}: signers ${signers.join(', ')}`);
      const round1: Message[] = [];
      const round2: Message[] = [];
      // Evidence the coordinator checks itself: every signer's commitments and share, as relayed.
      const evidence = () => this.aggregate(record, session, signers, derived.digest, derived.taprootMerkleRoot, round1, round2);
      let aggregated: { signature: Uint8Array; publicKey: Uint8Array } | null = null;
      try {
        const start = { kind: 'sign', session, keyId: req.keyId, signers, authorization: req.authorization }; // one body for every signer
        const results = await runSession(signers.map((id) => this.client(id)), () => start, {
          tamper: this.o.relayTamper,
          between: (round, envelopes) => {
            const msgs = envelopes.map((e) => this.asMessage(e));
            if (round === 1) round1.push(...msgs);
            if (round === 2) round2.push(...msgs);
          },
          // Once every share is relayed, the coordinator aggregates and verifies the signature
          // itself: that is the result, one round trip sooner. The nodes still get the shares (in
          // the background) and record the withdrawal as signed. If the shares do not aggregate,
          // the session goes on, so that the nodes name the culprits as well.
          finishEarly: (round) => {
            if (round !== 2 || round2.length !== signers.length) return false;
            try {
              aggregated = evidence();
              return true;
            } catch {
              return false;
            }
          },
          onBackground: (delivery) => this.track(delivery, a.withdrawalId),
        });
        // Without the early result: the signers agree on one signature and it verifies under the
        // key (cheap); otherwise the relayed shares decide who cheated.
        const s = aggregated ?? this.checkedSignature(record, results, derived.digest, derived.taprootMerkleRoot) ?? evidence();
        return { signature: s.signature, publicKey: s.publicKey, signers, session, attempts: attempt };
      } catch (err) {
        let cause = err;
        if (err instanceof SessionFailed && round2.length === signers.length) {
          try {
            evidence();
          } catch (e) {
            if (e instanceof ProtocolAbort) cause = e;
          }
        }
        const why = this.absorb(cause, req.keyId, session, down);
        attempts.push({ signers, error: why });
        this.progress(`attempt ${attempt} with ${signers.join(', ')} failed: ${why}`);
      }
    }
    throw new CustosError('mpc_sign_failed', `signing ${a.withdrawalId} failed after ${attempts.length} attempts: ${attempts.map((x) => x.error).join(' | ')}`, 502, { attempts });
  }

  /**
   * The signature the nodes already completed for this authorization's withdrawal, for a
   * coordinator that crashed (or timed out) after the session finished: nodes refuse a second
   * signature, but hand out the one they made. Accepted only if it verifies under the key over the
   * digest derived here from the unsigned transaction. Null when no holder has one.
   */
  async recoverSignature(req: SignRequest, deriveDigest: DeriveDigest = rawMessageDigest): Promise<SignResult | null> {
    const a = req.authorization.authorization;
    const derived = deriveDigest(a.chain, hexToBytes(a.unsignedTx), hexToBytes(a.digest));
    const digest = bytesToHex(derived.digest);
    if (digest !== a.digest) throw new CustosError('authorization_digest_mismatch', 'the digest does not match the unsigned transaction', 403);
    const health = await this.health();
    const holders = health.filter((h) => h.up && h.keys.some((k) => k.keyId === req.keyId)).map((h) => h.id);
    if (holders.length === 0) return null;
    const record = await this.signingRecord(holders, req.keyId, health);
    const answers = await Promise.all(holders.map((id) => this.client(id).signedWithdrawal(a.withdrawalId).then(
      (x) => ({ id, x: x as Record<string, unknown> }),
      () => null,
    )));
    let found: { signature: Uint8Array; publicKey: Uint8Array } | null = null;
    const signers: string[] = [];
    for (const ans of answers) {
      if (!ans || ans.x.digest !== digest) continue;
      const s = this.checkedSignature(record, new Map([[ans.id, ans.x]]), derived.digest, derived.taprootMerkleRoot);
      if (!s) continue;
      found ??= s;
      signers.push(ans.id);
    }
    if (!found) return null;
    this.progress(`recovered the signature of ${a.withdrawalId} from ${signers.join(', ')}`);
    return { signature: found.signature, publicKey: found.publicKey, signers, session: 'recovered', attempts: 0 };
  }

  /**
   * Finishes an interrupted refresh: when some holders already run generation g and others hold
   * the finished generation-g share as pending, commits it on those. Returns whether it did.
   */
  private async completeRefresh(keyId: string, health: readonly NodeHealth[]): Promise<boolean> {
    const entries = health.filter((h) => h.up).flatMap((h) => h.keys.filter((k) => k.keyId === keyId).map((k) => ({ id: h.id, ...k })));
    const top = Math.max(...entries.map((e) => e.generation));
    const behind = entries.filter((e) => e.generation < top && e.pending === top);
    if (behind.length === 0) return false;
    await Promise.allSettled(behind.map((e) => this.client(e.id).commitRefresh(keyId, top)));
    this.progress(`completed the refresh of ${keyId} to generation ${top} on ${behind.map((e) => e.id).join(', ')}`);
    return true;
  }

  /** Classifies a failed attempt: marks down nodes, excludes culprits, rethrows fatal refusals. */
  private absorb(err: unknown, keyId: string, session: string, down: Set<string>): string {
    if (err instanceof ProtocolAbort) {
      for (const c of err.culprits) this.exclude(c, keyId, session, err.code, err.message);
      return `${err.code}: ${err.message}`;
    }
    if (err instanceof SessionFailed) {
      const fatal = err.failures.find((f) => !f.unreachable && FATAL.test(f.code));
      if (fatal) throw new CustosError(fatal.code, fatal.message, fatal.status);
      for (const f of err.failures) if (f.unreachable) down.add(f.node);
      return err.failures.map((f) => `${f.node} ${f.code}`).join(', ');
    }
    if (err instanceof CustosError) return `${err.code}: ${err.message}`;
    throw err;
  }

  private exclude(node: string, keyId: string, session: string, code: string, message: string): void {
    if (!this.clients.has(node)) return;
    this.excludedNodes.add(node);
    this.progress(`node ${node} identified as cheating (${code}); excluded`);
    this.o.onCulprit?.({ node, keyId, session, code, message });
  }

  private asMessage(e: Envelope): Message {
    verifyEnvelopeSignature(e, this.directory);
    if (e.to !== null || e.payload === undefined) throw new CustosError('mpc_unexpected_envelope', 'signing rounds are broadcast only', 502);
    return { session: e.session, from: e.from, to: null, round: e.round, payload: hexToBytes(e.payload) };
  }

  private aggregate(
    record: KeyRecord, session: string, signers: readonly string[], message: Uint8Array, merkleRoot: Uint8Array | undefined,
    round1: readonly Message[], round2: readonly Message[],
  ): { signature: Uint8Array; publicKey: Uint8Array } {
    if (record.protocol !== 'frost') throw new CustosError('mpc_unsupported_scheme', `no aggregator for ${record.protocol}`);
    return aggregateSignature({
      key: record.publicPackage as unknown as PublicPackage, session, signers, message, taprootMerkleRoot: merkleRoot, round1, round2,
    });
  }

  /**
   * One threshold-ECDSA attempt: picks a signer subset not tried yet for this request (one with a
   * pooled presignature first), presigns on the spot when the pool has none for it, and runs the
   * one-round online session, combining and verifying the σ shares itself.
   */
  private async signEcdsa(
    req: SignRequest, record: KeyRecord, ordered: readonly string[], digest: Uint8Array, tried: Set<string>, session: string,
    onSigners: (s: string[]) => void,
  ): Promise<Omit<SignResult, 'attempts'>> {
    const subsets = subsetsInOrder(ordered, record.threshold);
    const fresh = subsets.filter((x) => !tried.has(subsetKey(x)));
    const signers = fresh.find((x) => this.pool.count(req.keyId, record.generation, x) > 0) ?? fresh[0] ?? (subsets[0] as string[]);
    tried.add(subsetKey(signers));
    onSigners(signers);
    let pre = this.pool.take(req.keyId, record.generation, signers);
    if (!pre) {
      this.progress(`no pooled presignature for ${signers.join(', ')}: presigning first`);
      pre = await this.presignWith(req.keyId, record, signers);
    }
    this.wakePool();
    const presignature = pre;
    let run: { combined: CombinedEcdsa; completion: Promise<NodeCallFailed[]> };
    try {
      run = await runOnlineSigning({
        clients: signers.map((id) => this.client(id)), session, tamper: this.o.relayTamper,
        body: { kind: 'sign', session, keyId: req.keyId, signers, authorization: req.authorization, presignature: presignature.id },
        combine: (envelopes) => combineSigmaShares({ envelopes, directory: this.directory, signers, session, R: presignature.R, publicKey: record.publicKey, digest }),
        identify: (envelopes) => sigmaCulprits({ envelopes, presignature, digest }),
      });
    } catch (err) {
      throw this.corroborated(err, signers, 'online signing');
    }
    this.track(run.completion, req.authorization.authorization.withdrawalId);
    const c = run.combined;
    return { signature: c.signature, publicKey: hexToBytes(record.publicKey), signers, session, recovery: c.recovery };
  }

  /**
   * The nodes record the withdrawal as signed in the background; `settle()` waits for that, and
   * so does a later `sign` of the same withdrawal (which the nodes then refuse as already signed).
   */
  private track(completion: Promise<NodeCallFailed[]>, withdrawalId: string): void {
    const done = completion.then((failed) => {
      for (const f of failed) this.progress(`${f.node} did not record ${withdrawalId} as signed: ${f.code}`);
    });
    this.completions.add(done);
    this.recording.set(withdrawalId, done);
    void done.finally(() => {
      this.completions.delete(done);
      if (this.recording.get(withdrawalId) === done) this.recording.delete(withdrawalId);
    });
  }

  /**
   * Waits until every node was told the outcome of the signing sessions run so far, or, given a
   * withdrawal id, of that withdrawal's signature only.
   */
  async settle(withdrawalId?: string): Promise<void> {
    if (withdrawalId !== undefined) await this.recording.get(withdrawalId);
    else await Promise.all([...this.completions]);
  }

  /**
   * One presigning session among `signers` (3 rounds, seconds of CPU on each node); the result
   * goes into the pool. Culprits the honest signers agree on (named by at least two of them, or
   * by every other signer) are raised as a `ProtocolAbort` so that `absorb` excludes them.
   */
  private async presignWith(keyId: string, record: KeyRecord, signers: readonly string[]): Promise<PooledPresignature> {
    const session = this.newSession();
    let results: Map<string, Record<string, unknown>>;
    try {
      results = await runSession(signers.map((id) => this.client(id)), () => ({ kind: 'presign', session, keyId, signers }), {
        tamper: this.o.relayTamper, timeoutMs: CMP_TIMEOUT_MS,
      });
    } catch (err) {
      throw this.corroborated(err, signers, 'presigning');
    }
    const answers = [...results.values()];
    const R = answers[0]?.R;
    const sorted = (m: unknown) => (typeof m === 'object' && m !== null ? Object.entries(m).sort(([a], [b]) => (a < b ? -1 : 1)) : null);
    const pub = (x: Record<string, unknown>) => JSON.stringify([sorted(x.RBar), sorted(x.SBar)]);
    if (typeof R !== 'string' || answers.some((x) => x.R !== R || x.presignature !== session || x.generation !== record.generation || pub(x) !== pub(answers[0] as Record<string, unknown>))) {
      throw new CustosError('mpc_presign_mismatch', 'the signers finished presigning with different results', 502);
    }
    const first = answers[0] as { RBar?: Record<string, string>; SBar?: Record<string, string> };
    const pre = { id: session, R, signers: [...signers].sort(), ...(first.RBar && first.SBar ? { RBar: first.RBar, SBar: first.SBar } : {}) };
    this.pool.add(keyId, record.generation, pre);
    return pre;
  }

  /**
   * Culprits that signers name in a CGGMP21 session cannot be re-checked here (the proofs travel
   * encrypted peer to peer), so an accusation counts only when the honest side agrees: a node named
   * by at least two other signers (or by every other signer of a two-party session) becomes a
   * `ProtocolAbort` naming it, which `absorb` turns into exclusion and an alert. A node named by a
   * single accuser is reported, not excluded (one cheater must not get an honest node excluded).
   */
  private corroborated(err: unknown, signers: readonly string[], what: string): unknown {
    if (!(err instanceof SessionFailed)) return err;
    const accusers = new Map<string, Set<string>>();
    for (const f of err.failures) for (const c of f.culprits) if (c !== f.node) accusers.set(c, (accusers.get(c) ?? new Set()).add(f.node));
    const agreed = [...accusers].filter(([, by]) => by.size >= Math.min(2, signers.length - 1)).map(([c]) => c);
    for (const [c, by] of accusers) if (!agreed.includes(c)) this.progress(`node ${c} named by ${[...by].join(', ')} alone in ${what} (not excluded)`);
    const first = err.failures.find((f) => f.culprits.some((c) => agreed.includes(c)));
    return agreed.length > 0 ? new ProtocolAbort(first?.code ?? 'cmp_abort', `${what} named ${agreed.join(', ')}: ${first?.message ?? ''}`, agreed) : err;
  }

  /**
   * Makes `count` presignatures of `keyId` for one signer subset (default: the first t healthy,
   * trusted holders in preference order) and pools them. Returns the subset.
   */
  async presign(p: { keyId: string; count?: number; signers?: readonly string[] }): Promise<string[]> {
    const health = await this.health();
    const holders = health.filter((h) => h.up && !this.excludedNodes.has(h.id) && h.keys.some((k) => k.keyId === p.keyId)).map((h) => h.id).sort();
    const record = await this.signingRecord(holders, p.keyId, health);
    if (record.protocol !== 'cmp') throw new CustosError('mpc_unsupported_scheme', `keys of protocol ${record.protocol} need no presignatures`, 400);
    const signers = [...(p.signers ?? holders.slice(0, record.threshold))].sort();
    if (signers.length < record.threshold) throw new CustosError('mpc_not_enough_nodes', `not enough healthy holders of ${p.keyId} to presign`, 503);
    for (let i = 0; i < (p.count ?? 1); i++) {
      try {
        await this.presignWith(p.keyId, record, signers);
      } catch (err) {
        if (err instanceof ProtocolAbort) for (const c of err.culprits) this.exclude(c, p.keyId, 'presign', err.code, err.message);
        throw err;
      }
    }
    return signers;
  }

  /** Pooled presignatures of `keyId` for `signers` (current generation as last seen). */
  pooledPresignatures(keyId: string, signers: readonly string[]): number {
    const gen = this.records.get(keyId)?.generation;
    return gen === undefined ? 0 : this.pool.count(keyId, gen, signers);
  }

  /**
   * Learns the presignatures the nodes already hold (e.g. after this coordinator restarted): one
   * goes into the pool when every member of its signer set lists it. Returns how many were added.
   */
  async syncPresignatures(keyId: string): Promise<number> {
    const health = await this.health();
    const holders = health.filter((h) => h.up && h.keys.some((k) => k.keyId === keyId)).map((h) => h.id);
    const record = await this.signingRecord(holders, keyId, health);
    type Listed = { id: string; R: string; signers: string[]; generation: number; RBar?: Record<string, string>; SBar?: Record<string, string> };
    const lists = new Map<string, Listed[]>();
    await Promise.all(holders.map(async (id) => {
      const r = (await this.client(id).presignatures(keyId).catch(() => ({ presignatures: [] }))) as { presignatures?: Listed[] };
      lists.set(id, r.presignatures ?? []);
    }));
    let added = 0;
    for (const [node, list] of lists) {
      for (const p of list) {
        // counted once: in the list of the subset's first member
        if (p.signers[0] !== node || p.generation !== record.generation) continue;
        const canon = (x: Listed) => JSON.stringify([x.RBar, x.SBar].map((m) => (m ? Object.entries(m).sort(([a], [b]) => (a < b ? -1 : 1)) : null)));
        const same = (x: Listed) => x.id === p.id && x.R === p.R && canon(x) === canon(p);
        if (!p.signers.every((s) => lists.get(s)?.some(same))) continue;
        this.pool.add(keyId, record.generation, { id: p.id, R: p.R, signers: p.signers, ...(p.RBar && p.SBar ? { RBar: p.RBar, SBar: p.SBar } : {}) });
        added++;
      }
    }
    return added;
  }

  /**
   * Keeps `perSubset` presignatures of `keyId` ready for each of `subsets` (default: the first t
   * healthy holders) and refills in the background, one presigning session at a time, whenever a
   * signature takes one. `stopPresignaturePools()` ends it.
   */
  keepPresignatures(p: { keyId: string; perSubset: number; subsets?: readonly (readonly string[])[] }): void {
    this.pools.set(p.keyId, { perSubset: p.perSubset, subsets: p.subsets });
    this.poolStopped = false;
    this.wakePool();
  }

  /** Closes the kept-alive connections to the nodes (a later call opens new ones). */
  close(): void {
    for (const c of this.clients.values()) c.close();
  }

  /** Stops the background refill (waits for a presigning session in flight). */
  async stopPresignaturePools(): Promise<void> {
    this.poolStopped = true;
    this.pools.clear();
    await this.poolLoop;
    await this.settle();
  }

  private wakePool(): void {
    if (this.poolLoop || this.poolStopped || this.pools.size === 0) return;
    this.poolLoop = this.refillPools().finally(() => {
      this.poolLoop = null;
    });
  }

  private async refillPools(): Promise<void> {
    for (let guard = 0; guard < 10_000 && !this.poolStopped; guard++) {
      let made = false;
      for (const [keyId, want] of this.pools) {
        if (this.poolStopped) return;
        try {
          const health = await this.cachedHealth();
          const holders = health.filter((h) => h.up && !this.excludedNodes.has(h.id) && h.keys.some((k) => k.keyId === keyId)).map((h) => h.id).sort();
          const record = await this.signingRecord(holders, keyId, health);
          const subsets = want.subsets ?? (holders.length >= record.threshold ? [holders.slice(0, record.threshold)] : []);
          const short = subsets.find((x) => x.every((id) => holders.includes(id)) && this.pool.count(keyId, record.generation, x) < want.perSubset);
          if (!short) continue;
          await this.presignWith(keyId, record, [...short].sort());
          made = true;
        } catch (err) {
          if (err instanceof ProtocolAbort) for (const c of err.culprits) this.exclude(c, keyId, 'presign', err.code, err.message);
          this.progress(`presignature refill for ${keyId} failed: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
      if (!made) return;
    }
  }

  /** The signature the signers returned, if they all agree and it verifies under the key; else null. */
  private checkedSignature(
    record: KeyRecord, results: Map<string, Record<string, unknown>>, message: Uint8Array, merkleRoot: Uint8Array | undefined,
  ): { signature: Uint8Array; publicKey: Uint8Array } | null {
    const sigs = new Set([...results.values()].map((r) => `${String(r.signature)}/${String(r.publicKey)}`));
    const first = [...results.values()][0];
    if (sigs.size !== 1 || !first || typeof first.signature !== 'string' || !/^[0-9a-f]{128}$/.test(first.signature)) return null;
    if (record.protocol === 'cmp') {
      const signature = first.publicKey === record.publicKey ? checkedEcdsa(first.signature, message, record.publicKey) : null;
      return signature ? { signature, publicKey: hexToBytes(record.publicKey) } : null;
    }
    const pkg = record.publicPackage as unknown as PublicPackage;
    const publicKey = signingPublicKey(pkg, merkleRoot);
    if (first.publicKey !== bytesToHex(publicKey)) return null;
    const signature = hexToBytes(first.signature);
    const ok = pkg.suite === 'ed25519' ? edVerify(signature, message, bytesToHex(publicKey))
      : pkg.suite === 'bip340' ? bip340Verify(signature, message, publicKey) : false;
    return ok ? { signature, publicKey } : null;
  }

  private client(id: string): NodeClient {
    const c = this.clients.get(id);
    if (!c) throw new CustosError('mpc_unknown_node', `node ${id} is not configured`);
    return c;
  }

  private async holders(keyId: string): Promise<string[]> {
    const health = await this.health();
    return health.filter((h) => h.up && h.keys.some((k) => k.keyId === keyId)).map((h) => h.id);
  }

  /**
   * The key record for signing, fetched from the candidates once per generation and then reused
   * while the health answers show every candidate at that generation.
   */
  private async signingRecord(ids: readonly string[], keyId: string, health: readonly NodeHealth[]): Promise<KeyRecord> {
    const gens = new Set(ids.map((id) => health.find((h) => h.id === id)?.keys.find((k) => k.keyId === keyId)?.generation));
    const cached = this.records.get(keyId);
    if (cached && gens.size === 1 && gens.has(cached.generation)) return cached;
    const record = await this.keyRecordFrom(ids, keyId);
    this.records.set(keyId, record);
    return record;
  }

  /** The key's public record as the given nodes report it; they must agree exactly. */
  private async keyRecordFrom(ids: readonly string[], keyId: string): Promise<KeyRecord> {
    if (ids.length === 0) throw new CustosError('mpc_unknown_key', `no reachable node holds key ${keyId}`, 404);
    const records = await Promise.all(ids.map((id) => this.client(id).key(keyId).catch(() => null)));
    const ok = records.filter((r): r is KeyRecord => r !== null);
    const canon = (r: KeyRecord) => JSON.stringify([r.keyId, r.protocol, r.suite, r.threshold, r.parties, r.publicKey, r.generation, r.publicPackage]);
    const first = ok[0];
    if (!first) throw new CustosError('mpc_unknown_key', `no reachable node holds key ${keyId}`, 404);
    if (ok.some((r) => canon(r) !== canon(first))) throw new CustosError('mpc_key_mismatch', `nodes disagree about key ${keyId} (generation or package)`, 409);
    return first;
  }

  private agree(keyId: string, results: Map<string, Record<string, unknown>>): KeyInfo {
    const keys = [...results.values()].map((r) => `${String(r.publicKey)}/${String(r.generation)}`);
    if (new Set(keys).size !== 1) throw new CustosError('mpc_key_mismatch', `nodes finished ${keyId} with different keys`, 409);
    const r = [...results.values()][0] as { publicKey: string; generation: number; suite: string; protocol: string; threshold: number };
    const parties = [...results.keys()].sort();
    return { keyId, suite: r.suite, protocol: r.protocol, threshold: r.threshold, parties, publicKey: r.publicKey, generation: r.generation, holders: parties };
  }

  private async runOrExplain<T>(keyId: string, session: string, f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (err) {
      if (err instanceof SessionFailed) {
        const named = [...new Set(err.failures.flatMap((x) => x.culprits))];
        // Culprits named by nodes in DKG/refresh cannot be re-checked here (their shares are encrypted
        // peer to peer): reported for investigation, not excluded automatically.
        for (const c of named) this.progress(`node ${c} named as culprit by its peers`);
        throw new CustosError('mpc_session_failed', `session failed: ${err.message}`, 502, { culprits: named });
      }
      if (err instanceof NodeCallFailed) throw new CustosError('mpc_session_failed', err.message, 502);
      throw err;
    }
  }
}

function info(r: KeyRecord): Omit<KeyInfo, 'holders'> {
  return { keyId: r.keyId, suite: r.suite, protocol: r.protocol, threshold: r.threshold, parties: r.parties, publicKey: r.publicKey, generation: r.generation };
}
