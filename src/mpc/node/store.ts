/**
 * A signing node's durable store: one JSON file under the node's data directory, rewritten
 * atomically (temporary file, fsync, rename, fsync of the directory), plus an append-only journal
 * (`JOURNAL_FILE`, one fdatasync'd line) for the hot-path changes (nonce and presignature spends,
 * withdrawal states), so a change that returned is on disk before the node answers. Secrets (identity keys, key shares, TLS keys) are sealed
 * (`seal.ts`); the rest is public bookkeeping: the key catalogue, spent FROST nonce ids, the state
 * of each withdrawal this node took part in, and used session ids. Opening a store locks its
 * directory (`dir-lock.ts`) until `close()` or process exit: a second opener is refused
 * (`node_dir_locked`), so two processes never spend from one journal.
 *
 * @example
 *   const store = NodeStore.open({ dir, nodeId: 'node-1', releasedKey, rng });   // or { passphrase } (development fallback)
 *   store.consumeNonce(id, { withdrawalId, state: 'share_released' });   // fsync'd before it returns
 *   store.close();   // the directory's lock is released
 */
import {
  closeSync, existsSync, fdatasync, fdatasyncSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readFileSync, renameSync, truncateSync, writeFileSync, writeSync,
} from 'node:fs';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { CustosError } from '../../core/errors.js';
import { derToPem } from '../../enclave/certificate.js';
import { issueCertificate } from '../../enclave/issue-certificate.js';
import type { Json, Rng } from '../protocols/round.js';
import { generateIdentity, identityFromSecrets, type NodeIdentity } from '../transport/identity.js';
import { lockDirectory, type DirectoryLock } from './dir-lock.js';
import { deriveReleasedStoreKey, deriveSealingKey, PASSPHRASE_SEALING_LABEL, RELEASED_SEALING_LABEL, seal, SCRYPT, unseal, type SealedBox } from './seal.js';

export const STORE_FILE = 'node-store.json';
/**
 * Append-only journal beside the store: the hot-path writes (a FROST nonce or a presignature
 * spent, a withdrawal's state) are one appended line and an fdatasync (about 1 ms here) instead of
 * rewriting the whole store (temp file, fsync, rename, directory fsync: about 11 ms here). Every
 * full rewrite folds the journal in and truncates it; opening the store replays it. Entries are
 * idempotent and merge monotonically (spent stays spent, a withdrawal's state only advances), so a
 * crash between a rewrite and the truncation replays harmlessly; a torn last line is ignored (its
 * write had not returned, so nothing depended on it). Holds no secret.
 */
export const JOURNAL_FILE = 'node-journal.log';
const JOURNAL_COMPACT_BYTES = 1 << 20;
const STATE_RANK: Readonly<Record<WithdrawalState, number>> = { started: 0, share_released: 1, signed: 2 };

interface JournalEntry {
  /** Nonce ids spent (FROST nonce ids, `presig:<id>` for presignatures). */
  spent?: string[];
  /** Session ids used. */
  sessions?: string[];
  /** A presignature whose sealed secret is deleted. */
  dropPresignature?: string;
  withdrawal?: WithdrawalRecord & { id: string };
}

/** Public catalogue entry of one key this node holds a share of. */
export interface KeyRecord {
  readonly keyId: string;
  /** Protocol family (`frost`; `cmp` when threshold ECDSA lands). */
  readonly protocol: string;
  /** `ed25519` | `bip340` (FROST suites). */
  readonly suite: string;
  readonly threshold: number;
  readonly parties: readonly string[];
  /** Group public key (hex). */
  readonly publicKey: string;
  readonly generation: number;
  /** Public key package (what a coordinator needs to aggregate). */
  readonly publicPackage: Json;
  readonly createdAt: number;
}

export type WithdrawalState = 'started' | 'share_released' | 'signed';

export interface WithdrawalRecord {
  readonly digest: string;
  readonly state: WithdrawalState;
  readonly attempts: number;
  readonly updatedAt: number;
  /** Once `signed`: the signature this node completed and the key it verifies under (hex, public). */
  readonly signature?: string;
  readonly publicKey?: string;
}

/** Public catalogue entry of one stored (unspent) CGGMP21 presignature of this node. */
export interface PresignatureRecord {
  /** The presigning session id (also the presignature's id on every signer). */
  readonly id: string;
  readonly keyId: string;
  /** Key generation the presignature was made with (a refresh makes it unusable). */
  readonly generation: number;
  readonly signers: readonly string[];
  /** R (compressed point, hex): public. */
  readonly R: string;
  /** Every signer's R̄_j = k_j·R and S̄_j = χ_j·R (compressed hex, public): a σ_j is checkable against them. */
  readonly RBar?: Readonly<Record<string, string>>;
  readonly SBar?: Readonly<Record<string, string>>;
  readonly createdAt: number;
}

/** Where a stored safe-prime pair came from: generated here, or TEST-ONLY fixture material. */
export type PrimeSource = 'generated' | 'test-fixture';

interface StoreFile {
  version: 1;
  nodeId: string;
  /** Passphrase stores: scrypt parameters; key-release stores: `kind: 'key-release'` and the HKDF salt. */
  kdf: { salt: string; N: number; r: number; p: number; kind?: undefined } | { kind: 'key-release'; salt: string };
  identity: { signingKey: string; exchangeKey: string; sealed: SealedBox };
  keys: Record<string, KeyRecord & { sealedShare: SealedBox; pending?: KeyRecord & { sealedShare: SealedBox } }>;
  nonces: string[];
  withdrawals: Record<string, WithdrawalRecord>;
  sessions: string[];
  /** Unspent presignatures (k_i, χ_i sealed); deleted in the write that marks them spent. */
  presignatures?: Record<string, PresignatureRecord & { sealed: SealedBox }>;
  /** Safe-prime pairs waiting to become a Paillier modulus (sealed), taken once. */
  primes?: { source: PrimeSource; fingerprint: string; sealed: SealedBox }[];
  /** Fingerprints of every prime pair this node used or holds (a modulus is never reused). */
  usedPrimes?: string[];
  /** The node's TLS certificate (self-signed, public) and its P-384 private key (sealed); see `TlsStatus`. */
  tls?: {
    certificate: string;
    sealed: SealedBox;
    /** Made by `prepareTlsRotation`, key sealed under the label `tls-next`; served only after `activateTlsRotation`. */
    next?: { certificate: string; sealed: SealedBox; createdAt: number };
    /** The certificate the last activation replaced (public; its key is deleted). */
    previous?: { certificate: string; replacedAt: number };
    events?: TlsEvent[];
  };
}

/** One change of a node's TLS certificate, kept in the store (public): made on first use, a rotation prepared, a rotation activated. */
export interface TlsEvent {
  readonly at: number;
  readonly event: 'created' | 'prepared' | 'activated';
  /** SHA-256 fingerprint (`AA:BB:…`) of the certificate made or now served. */
  readonly fingerprint: string;
  /** `activated`: the fingerprint of the certificate it replaced. */
  readonly replaced?: string;
}

/** A certificate of the node's TLS material (public). */
export interface TlsCertificateInfo {
  /** PEM, as the coordinator's cluster file pins it. */
  readonly certificate: string;
  /** SHA-256 fingerprint, `AA:BB:…` (node:crypto `X509Certificate.fingerprint256`). */
  readonly fingerprint: string;
}

/** The node's TLS material, public parts: the certificate it serves, a prepared one, the one it replaced, every change. */
export interface TlsStatus {
  readonly current: TlsCertificateInfo;
  readonly next?: TlsCertificateInfo & { readonly createdAt: number };
  readonly previous?: TlsCertificateInfo & { readonly replacedAt: number };
  readonly events: readonly TlsEvent[];
}

/** SHA-256 fingerprint of a PEM certificate as node's TLS layer writes it (`AA:BB:…`); the coordinator pins it. */
export function certificateFingerprint(pem: string): string {
  return new X509Certificate(pem).fingerprint256;
}

/** How long a node's self-signed TLS certificate is valid (it is pinned, not checked against a CA). */
const TLS_CERTIFICATE_DAYS = 3650;

export interface OpenStoreOptions {
  readonly dir: string;
  readonly nodeId: string;
  /** DEVELOPMENT FALLBACK: the passphrase the store key is derived from (scrypt). Give this or `releasedKey`. */
  readonly passphrase?: string | undefined;
  /** The sealing key key release returned after attestation (the store keeps no copy; the caller zeroes it). */
  readonly releasedKey?: Uint8Array | undefined;
  readonly rng: Rng;
  /** Lower scrypt cost (tests of this module only). */
  readonly kdfCost?: { N: number; r: number; p: number };
  /**
   * Inspection only (tests, tooling): takes no lock and writes nothing (the journal is replayed in
   * memory), so it may lag a running node's latest writes; every write throws `node_store_read_only`.
   */
  readonly readOnly?: boolean;
}

export class NodeStore {
  private readonly path: string;
  private readonly nonceSet: Set<string>;
  private readonly sessionSet: Set<string>;
  /** Sessions marked used in memory but not yet on disk (carried by the next journal entry). */
  private readonly unsavedSessions = new Set<string>();
  private journalFd: number | null = null;
  private journalBytes = 0;
  private closed = false;

  private constructor(
    private readonly dir: string,
    private readonly data: StoreFile,
    private readonly key: Uint8Array,
    private readonly rng: Rng,
    readonly identity: NodeIdentity,
    /** How this store's key was obtained (for health and the start-up line). */
    readonly sealingLabel: string,
    /** The directory's lock; null when opened read-only. */
    private readonly lock: DirectoryLock | null,
  ) {
    this.path = join(dir, STORE_FILE);
    this.nonceSet = new Set(data.nonces);
    this.sessionSet = new Set(data.sessions);
  }

  /**
   * Opens (or creates, with a fresh identity) the store of `nodeId` under `dir`, locking `dir`
   * first: refused with `DirectoryLocked` (`node_dir_locked`) while another process, or another
   * open store in this one, holds it.
   */
  static open(o: OpenStoreOptions): NodeStore {
    if ((o.passphrase === undefined) === (o.releasedKey === undefined)) {
      throw new CustosError('node_bad_sealing_key', 'open a node store with either a released sealing key or (development fallback) a passphrase');
    }
    if (o.readOnly) {
      if (!existsSync(join(o.dir, STORE_FILE))) throw new CustosError('node_store_missing', `no node store in ${o.dir}`, 404);
      return NodeStore.load(o, null);
    }
    mkdirSync(o.dir, { recursive: true, mode: 0o700 });
    const lock = lockDirectory(o.dir);
    try {
      return NodeStore.load(o, lock);
    } catch (err) {
      lock.release();
      throw err;
    }
  }

  private static load(o: OpenStoreOptions, lock: DirectoryLock | null): NodeStore {
    const released = o.releasedKey !== undefined;
    const label = released ? RELEASED_SEALING_LABEL : PASSPHRASE_SEALING_LABEL;
    const path = join(o.dir, STORE_FILE);
    if (!existsSync(path)) {
      const salt = o.rng(16);
      const cost = o.kdfCost ?? SCRYPT;
      const key = released ? deriveReleasedStoreKey(o.releasedKey!, salt) : deriveSealingKey(o.passphrase!, salt, cost);
      const identity = generateIdentity(o.nodeId, o.rng);
      const secrets = new Uint8Array(64);
      secrets.set(identity.signingSecret, 0);
      secrets.set(identity.exchangeSecret, 32);
      const data: StoreFile = {
        version: 1, nodeId: o.nodeId, kdf: released ? { kind: 'key-release', salt: bytesToHex(salt) } : { salt: bytesToHex(salt), ...cost },
        identity: { signingKey: identity.signingKey, exchangeKey: identity.exchangeKey, sealed: seal(key, o.nodeId, 'identity', secrets, o.rng) },
        keys: {}, nonces: [], withdrawals: {}, sessions: [],
      };
      secrets.fill(0);
      const store = new NodeStore(o.dir, data, key, o.rng, identity, label, lock);
      store.flush();
      return store;
    }
    let data: StoreFile;
    try {
      data = JSON.parse(readFileSync(path, 'utf8')) as StoreFile;
    } catch {
      throw new CustosError('node_store_corrupt', `node store ${path} is not valid JSON`, 500);
    }
    if (data.version !== 1 || data.nodeId !== o.nodeId) {
      throw new CustosError('node_store_mismatch', `node store ${path} belongs to node ${String(data.nodeId)}, not ${o.nodeId}`, 500);
    }
    const kdf = data.kdf;
    if ((kdf.kind === 'key-release') !== released) {
      throw new CustosError('node_store_sealing_mismatch', `node store ${path} is sealed ${kdf.kind === 'key-release' ? 'under a released key: configure the key-release service' : 'under a passphrase: open it with CUSTOS_NODE_PASSPHRASE'}`, 500);
    }
    const key = kdf.kind === 'key-release' ? deriveReleasedStoreKey(o.releasedKey!, hexToBytes(kdf.salt)) : deriveSealingKey(o.passphrase!, hexToBytes(kdf.salt), { N: kdf.N, r: kdf.r, p: kdf.p });
    const secrets = unseal(key, o.nodeId, 'identity', data.identity.sealed);
    const identity = identityFromSecrets(o.nodeId, secrets.subarray(0, 32), secrets.subarray(32, 64));
    secrets.fill(0);
    if (identity.signingKey !== data.identity.signingKey || identity.exchangeKey !== data.identity.exchangeKey) {
      throw new CustosError('node_store_corrupt', 'the sealed identity does not match its public keys', 500);
    }
    const store = new NodeStore(o.dir, data, key, o.rng, identity, label, lock);
    store.replayJournal();
    return store;
  }

  /**
   * Closes the journal and releases the directory's lock, writing nothing (what returned is on
   * disk already); every later write throws `node_store_closed`. Idempotent.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      if (this.journalFd !== null) closeSync(this.journalFd);
    } finally {
      this.journalFd = null;
      this.lock?.release();
    }
  }

  /** Throws unless this store may write: it holds the directory's lock and is not closed. */
  private writable(): void {
    if (this.closed) throw new CustosError('node_store_closed', `the node store in ${this.dir} is closed`, 500);
    if (this.lock === null) throw new CustosError('node_store_read_only', `the node store in ${this.dir} is open read-only`, 500);
  }

  /** Applies the journal left by the last run (if any) and folds it into the store file. */
  private replayJournal(): void {
    const path = join(this.dir, JOURNAL_FILE);
    if (!existsSync(path)) return;
    const lines = readFileSync(path, 'utf8').split('\n');
    let applied = 0;
    for (const line of lines) {
      if (line === '') continue;
      let e: JournalEntry;
      try {
        e = JSON.parse(line) as JournalEntry;
      } catch {
        break; // a torn last write
      }
      this.apply(e);
      applied++;
    }
    if (applied > 0 && this.lock !== null) this.flush();
  }

  private apply(e: JournalEntry): void {
    for (const id of e.spent ?? []) this.nonceSet.add(id);
    for (const id of e.sessions ?? []) this.sessionSet.add(id);
    if (e.dropPresignature !== undefined && this.data.presignatures) delete this.data.presignatures[e.dropPresignature];
    if (e.withdrawal) {
      const { id, ...rec } = e.withdrawal;
      const prev = this.data.withdrawals[id];
      if (!prev) {
        this.data.withdrawals[id] = rec;
      } else {
        const later = STATE_RANK[rec.state] >= STATE_RANK[prev.state];
        const signature = later ? rec.signature ?? prev.signature : prev.signature;
        const publicKey = later ? rec.publicKey ?? prev.publicKey : prev.publicKey;
        this.data.withdrawals[id] = {
          digest: prev.digest, state: later ? rec.state : prev.state, attempts: Math.max(prev.attempts, rec.attempts),
          updatedAt: Math.max(prev.updatedAt, rec.updatedAt), ...(signature === undefined ? {} : { signature }), ...(publicKey === undefined ? {} : { publicKey }),
        };
      }
    }
  }

  /** Applies an entry in memory and makes it durable: one appended line, fdatasync'd. */
  private journal(e: JournalEntry): void {
    if (this.append(e)) fdatasyncSync(this.journalFd as number);
  }

  /**
   * Applies an entry in memory and appends it; the returned promise settles when it is durable
   * (fdatasync on libuv's thread pool), so the caller can compute while the disk works.
   */
  private journalDeferred(e: JournalEntry): Promise<void> {
    if (!this.append(e)) return Promise.resolve();
    const fd = this.journalFd as number;
    return new Promise((resolve, reject) => fdatasync(fd, (err) => (err ? reject(err) : resolve())));
  }

  /** Applies and appends `e`; true if it went to the journal (still to be synced), false if a compaction already wrote it durably. */
  private append(e: JournalEntry): boolean {
    this.writable();
    if (this.unsavedSessions.size > 0) {
      e.sessions = [...(e.sessions ?? []), ...this.unsavedSessions];
      this.unsavedSessions.clear();
    }
    this.apply(e);
    if (this.journalFd === null) {
      const path = join(this.dir, JOURNAL_FILE);
      const existed = existsSync(path);
      this.journalFd = openSync(path, 'a', 0o600);
      if (!existed) {
        const dfd = openSync(this.dir, 'r');
        try {
          fsyncSync(dfd); // the journal's directory entry is durable before anything relies on it
        } finally {
          closeSync(dfd);
        }
      }
    }
    const line = Buffer.from(`${JSON.stringify(e)}\n`, 'utf8');
    writeSync(this.journalFd, line);
    this.journalBytes += line.length;
    if (this.journalBytes <= JOURNAL_COMPACT_BYTES) return true;
    this.flush(); // the whole store, fsync'd: this entry included
    return false;
  }

  /** Writes the whole store durably (temp file + fsync + rename + directory fsync). */
  private flush(): void {
    this.writable();
    this.data.nonces = [...this.nonceSet];
    this.data.sessions = [...this.sessionSet];
    const tmp = `${this.path}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeFileSync(fd, JSON.stringify(this.data));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.path);
    const dfd = openSync(this.dir, 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
    // everything the journal held is in the store file now
    this.unsavedSessions.clear();
    if (this.journalFd !== null) ftruncateSync(this.journalFd, 0);
    else if (existsSync(join(this.dir, JOURNAL_FILE))) truncateSync(join(this.dir, JOURNAL_FILE), 0);
    this.journalBytes = 0;
  }

  listKeys(): KeyRecord[] {
    return Object.keys(this.data.keys).map((id) => this.getKey(id) as KeyRecord);
  }

  getKey(keyId: string): KeyRecord | undefined {
    const k = this.data.keys[keyId];
    if (!k) return undefined;
    const { sealedShare: _s, pending: _p, ...pub } = k;
    return pub;
  }

  /** The generation a finished but not yet committed refresh would move `keyId` to. */
  pendingGeneration(keyId: string): number | undefined {
    return this.data.keys[keyId]?.pending?.generation;
  }

  /**
   * Stores a refreshed share beside the current one, sealed, durably; signing keeps using the
   * current share until `commitPending` (so a refresh that fails on some nodes changes nothing).
   */
  putPending(record: KeyRecord, share: Json): void {
    const k = this.data.keys[record.keyId];
    if (!k) throw new CustosError('node_unknown_key', `this node holds no share of key ${record.keyId}`, 404);
    const sealedShare = seal(this.key, this.data.nodeId, `key:${record.keyId}:${record.generation}`, new TextEncoder().encode(JSON.stringify(share)), this.rng);
    k.pending = { ...record, sealedShare };
    this.flush();
  }

  /** Makes the pending refreshed share current (the old share is overwritten). Idempotent. */
  commitPending(keyId: string, generation: number): boolean {
    const k = this.data.keys[keyId];
    if (!k) return false;
    if (k.generation === generation && !k.pending) return true;
    if (!k.pending || k.pending.generation !== generation) return false;
    const share = unseal(this.key, this.data.nodeId, `key:${keyId}:${generation}`, k.pending.sealedShare);
    const { sealedShare: _s, ...record } = k.pending;
    this.data.keys[keyId] = { ...record, sealedShare: seal(this.key, this.data.nodeId, `key:${keyId}`, share, this.rng) };
    share.fill(0);
    this.flush();
    return true;
  }

  /**
   * The node's TLS certificate (PEM, self-signed, P-384) and, SECRET, its private key (PKCS#8 PEM):
   * made on first use and kept in the store, the key sealed like the shares, so a backup carries
   * it and the certificate the coordinator pins stays the same across restarts (until a rotation
   * is activated: `activateTlsRotation`).
   */
  tlsCredentials(now: number): { certificate: string; privateKey: string } {
    if (!this.data.tls) {
      this.writable();
      const made = this.makeTlsCertificate(now, 'tls');
      this.data.tls = { certificate: made.certificate, sealed: made.sealed, events: [{ at: now, event: 'created', fingerprint: certificateFingerprint(made.certificate) }] };
      this.flush();
    }
    const key = unseal(this.key, this.data.nodeId, 'tls', this.data.tls.sealed);
    try {
      return { certificate: this.data.tls.certificate, privateKey: new TextDecoder().decode(key) };
    } finally {
      key.fill(0);
    }
  }

  /** The public side of the node's TLS material; undefined before the node first served TLS. */
  tlsStatus(): TlsStatus | undefined {
    const t = this.data.tls;
    if (!t) return undefined;
    return {
      current: { certificate: t.certificate, fingerprint: certificateFingerprint(t.certificate) },
      ...(t.next ? { next: { certificate: t.next.certificate, fingerprint: certificateFingerprint(t.next.certificate), createdAt: t.next.createdAt } } : {}),
      ...(t.previous ? { previous: { certificate: t.previous.certificate, fingerprint: certificateFingerprint(t.previous.certificate), replacedAt: t.previous.replacedAt } } : {}),
      events: [...(t.events ?? [])],
    };
  }

  /**
   * First step of a TLS rotation: makes a new certificate and key (the key sealed, label
   * `tls-next`), durably, beside the current one, which the node keeps serving. Idempotent: with
   * a rotation already prepared nothing changes (`prepared: false`), so a certificate the operator
   * may have pinned already is never replaced. Throws `node_tls_missing` before the node first
   * served TLS.
   */
  prepareTlsRotation(now: number): { status: TlsStatus; prepared: boolean } {
    this.writable();
    const t = this.tlsMaterial();
    if (t.next) return { status: this.tlsStatus() as TlsStatus, prepared: false };
    const made = this.makeTlsCertificate(now, 'tls-next');
    t.next = { certificate: made.certificate, sealed: made.sealed, createdAt: now };
    t.events = [...(t.events ?? []), { at: now, event: 'prepared', fingerprint: certificateFingerprint(made.certificate) }];
    this.flush();
    return { status: this.tlsStatus() as TlsStatus, prepared: true };
  }

  /**
   * Second step: the prepared certificate becomes the current one (its key re-sealed under `tls`)
   * and the replaced certificate is kept as `previous` (public only; its key is deleted), durably.
   * The node serves the new certificate from its next start. Throws `node_tls_missing` or
   * `node_tls_not_prepared`.
   */
  activateTlsRotation(now: number): TlsStatus {
    this.writable();
    const t = this.tlsMaterial();
    const next = t.next;
    if (!next) {
      throw new CustosError('node_tls_not_prepared', `node ${this.data.nodeId} has no prepared TLS certificate: prepare one first (custos mpc-node --rotate-tls), pin it beside the current one, then activate it`, 409);
    }
    const key = unseal(this.key, this.data.nodeId, 'tls-next', next.sealed);
    let sealed: SealedBox;
    try {
      sealed = seal(this.key, this.data.nodeId, 'tls', key, this.rng);
    } finally {
      key.fill(0);
    }
    const replaced = certificateFingerprint(t.certificate);
    this.data.tls = {
      certificate: next.certificate, sealed, previous: { certificate: t.certificate, replacedAt: now },
      events: [...(t.events ?? []), { at: now, event: 'activated', fingerprint: certificateFingerprint(next.certificate), replaced }],
    };
    this.flush();
    return this.tlsStatus() as TlsStatus;
  }

  private tlsMaterial(): NonNullable<StoreFile['tls']> {
    const t = this.data.tls;
    if (!t) {
      throw new CustosError('node_tls_missing', `node ${this.data.nodeId} has no TLS certificate to rotate: one is made the first time the node starts with --tls`, 409);
    }
    return t;
  }

  /**
   * A new self-signed P-384 certificate and its private key sealed under `label`. The subject
   * carries a random tag: OpenSSL looks a pinned self-signed certificate up by its subject, so two
   * certificates a coordinator pins at once for one node must not share one.
   */
  private makeTlsCertificate(now: number, label: string): { certificate: string; sealed: SealedBox } {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    const subject = `custos mpc-node ${this.data.nodeId} ${bytesToHex(this.rng(8))}`;
    const der = issueCertificate({
      subject, issuer: subject, organisation: 'custos', subjectPublicKey: publicKey, issuerPrivateKey: privateKey,
      notBefore: now - 3_600_000, notAfter: now + TLS_CERTIFICATE_DAYS * 86_400_000, ca: false,
    });
    const pem = new TextEncoder().encode(privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
    try {
      return { certificate: derToPem(der), sealed: seal(this.key, this.data.nodeId, label, pem, this.rng) };
    } finally {
      pem.fill(0);
    }
  }

  /** SECRET: the unsealed key share JSON of `keyId`. */
  keyShare(keyId: string): Json {
    const k = this.data.keys[keyId];
    if (!k) throw new CustosError('node_unknown_key', `this node holds no share of key ${keyId}`, 404);
    return JSON.parse(new TextDecoder().decode(unseal(this.key, this.data.nodeId, `key:${keyId}`, k.sealedShare))) as Json;
  }

  /** Stores (or replaces, after a refresh) a key share, sealed, durably. */
  putKey(record: KeyRecord, share: Json): void {
    const sealedShare = seal(this.key, this.data.nodeId, `key:${record.keyId}`, new TextEncoder().encode(JSON.stringify(share)), this.rng);
    this.data.keys[record.keyId] = { ...record, sealedShare };
    this.flush();
  }

  /** Records a session id as used; false if it was used before. Durable. */
  useSession(session: string): boolean {
    if (this.sessionSet.has(session)) return false;
    this.sessionSet.add(session);
    this.flush();
    return true;
  }

  withdrawal(id: string): WithdrawalRecord | undefined {
    return this.data.withdrawals[id];
  }

  /**
   * Binds a withdrawal to its digest and marks `session` used. Not flushed on its own: nothing
   * secret has left yet, and the next write (`consumeNonce`, before the share leaves) carries it.
   */
  startWithdrawal(id: string, digest: string, session: string, now: number): boolean {
    if (this.sessionSet.has(session)) return false;
    this.sessionSet.add(session);
    this.unsavedSessions.add(session);
    const prev = this.data.withdrawals[id];
    this.data.withdrawals[id] = { digest, state: 'started', attempts: (prev?.attempts ?? 0) + 1, updatedAt: now };
    return true;
  }

  /** `result`: the completed signature, kept so a coordinator that lost it can fetch it again. */
  setWithdrawalState(id: string, state: WithdrawalState, now: number, result?: { signature: string; publicKey: string }): void {
    const prev = this.data.withdrawals[id];
    if (!prev) throw new CustosError('node_unknown_withdrawal', 'no such withdrawal in this node', 500);
    const next = { ...prev, state, updatedAt: now, ...(result ? { signature: result.signature, publicKey: result.publicKey } : {}) };
    this.journal({ withdrawal: { id, ...next } });
  }

  /**
   * Marks a nonce pair spent (and, atomically with it, the withdrawal as `share_released`): the
   * write is on disk before this returns, so before the share can leave. False if already spent.
   */
  consumeNonce(nonceId: string, withdrawal?: { id: string; now: number }): boolean {
    if (this.nonceSet.has(nonceId)) return false;
    const prev = withdrawal ? this.data.withdrawals[withdrawal.id] : undefined;
    this.journal({
      spent: [nonceId], ...(withdrawal && prev ? { withdrawal: { id: withdrawal.id, ...prev, state: 'share_released', updatedAt: withdrawal.now } } : {}),
    });
    return true;
  }

  isNonceSpent(nonceId: string): boolean {
    return this.nonceSet.has(nonceId);
  }

  /** Stores a finished presignature, sealed, durably (its id must never have been used). */
  putPresignature(record: PresignatureRecord, secret: Json): void {
    if (this.nonceSet.has(`presig:${record.id}`) || this.data.presignatures?.[record.id]) {
      throw new CustosError('node_presignature_exists', `presignature ${record.id} exists or was spent`, 409);
    }
    const sealed = seal(this.key, this.data.nodeId, `presig:${record.id}`, new TextEncoder().encode(JSON.stringify(secret)), this.rng);
    this.data.presignatures = { ...(this.data.presignatures ?? {}), [record.id]: { ...record, sealed } };
    this.flush();
  }

  /** Unspent presignatures of `keyId` (public fields only). */
  listPresignatures(keyId?: string): PresignatureRecord[] {
    return Object.values(this.data.presignatures ?? {})
      .filter((p) => keyId === undefined || p.keyId === keyId)
      .map(({ sealed: _s, ...pub }) => pub);
  }

  getPresignature(id: string): PresignatureRecord | undefined {
    const p = this.data.presignatures?.[id];
    if (!p) return undefined;
    const { sealed: _s, ...pub } = p;
    return pub;
  }

  /**
   * SECRET: takes presignature `id` for one signature. In one durable write (fsync'd before this
   * returns, so before any signature share computed from it can leave) the sealed secret is deleted,
   * its id recorded as spent, and the withdrawal marked `share_released`. A crash after this can
   * waste the presignature, never reuse it. Undefined if it is unknown or already spent.
   */
  consumePresignature(id: string, withdrawal?: { id: string; now: number }): Json | undefined {
    const spent = this.spendPresignature(id, withdrawal, false);
    return spent?.secret;
  }

  /**
   * SECRET: as `consumePresignature`, but the write's fdatasync runs while the caller computes:
   * the spend is in memory (no second spend can start) and appended at once, and `durable` settles
   * when it is on disk. Nothing computed from `secret` may leave this process before `durable`
   * resolves; if it rejects, nothing may leave at all.
   */
  spendPresignature(id: string, withdrawal?: { id: string; now: number }, deferred = true): { secret: Json; durable: Promise<void> } | undefined {
    const p = this.data.presignatures?.[id];
    if (!p || this.nonceSet.has(`presig:${id}`)) return undefined;
    const secret = JSON.parse(new TextDecoder().decode(unseal(this.key, this.data.nodeId, `presig:${id}`, p.sealed))) as Json;
    const prev = withdrawal ? this.data.withdrawals[withdrawal.id] : undefined;
    const entry: JournalEntry = {
      spent: [`presig:${id}`], dropPresignature: id,
      ...(withdrawal && prev ? { withdrawal: { id: withdrawal.id, ...prev, state: 'share_released', updatedAt: withdrawal.now } } : {}),
    };
    if (deferred) return { secret, durable: this.journalDeferred(entry) };
    this.journal(entry);
    return { secret, durable: Promise.resolve() };
  }

  /** Drops presignatures of `keyId` made before `generation` (after a refresh), durably. */
  dropPresignatures(keyId: string, beforeGeneration: number): number {
    const all = this.data.presignatures ?? {};
    const stale = Object.values(all).filter((p) => p.keyId === keyId && p.generation < beforeGeneration).map((p) => p.id);
    if (stale.length === 0) return 0;
    for (const id of stale) {
      delete all[id];
      this.nonceSet.add(`presig:${id}`);
    }
    this.flush();
    return stale.length;
  }

  /**
   * After a restore from backup: every stored presignature and every pooled safe-prime pair may
   * have been used after the backup was taken, so all are dropped (marked spent / used), durably.
   */
  dropAfterRestore(): { presignatures: number; primePairs: number } {
    const presigs = Object.keys(this.data.presignatures ?? {});
    for (const id of presigs) this.nonceSet.add(`presig:${id}`);
    this.data.presignatures = {};
    const primes = this.data.primes ?? [];
    this.data.usedPrimes = [...new Set([...(this.data.usedPrimes ?? []), ...primes.map((x) => x.fingerprint)])];
    this.data.primes = [];
    this.flush();
    return { presignatures: presigs.length, primePairs: primes.length };
  }

  /** Safe-prime pairs ready to become Paillier moduli, by source. */
  primePairs(): { generated: number; testFixture: number } {
    const list = this.data.primes ?? [];
    return { generated: list.filter((x) => x.source === 'generated').length, testFixture: list.filter((x) => x.source === 'test-fixture').length };
  }

  /**
   * Adds safe-prime pairs to the sealed pool, durably; pairs whose fingerprint this node used or
   * holds already are skipped (a Paillier modulus is never reused). Returns how many were added.
   */
  addPrimePairs(pairs: readonly { p: bigint; q: bigint }[], source: PrimeSource): number {
    const used = new Set(this.data.usedPrimes ?? []);
    const list = [...(this.data.primes ?? [])];
    let added = 0;
    for (const { p, q } of pairs) {
      const fingerprint = primeFingerprint(p, q);
      if (used.has(fingerprint)) continue;
      used.add(fingerprint);
      const secret = new TextEncoder().encode(JSON.stringify({ p: p.toString(16), q: q.toString(16) }));
      list.push({ source, fingerprint, sealed: seal(this.key, this.data.nodeId, `primes:${fingerprint}`, secret, this.rng) });
      added++;
    }
    if (added === 0) return 0;
    this.data.primes = list;
    this.data.usedPrimes = [...used];
    this.flush();
    return added;
  }

  /** SECRET: takes one safe-prime pair out of the pool (durably: it is never handed out twice). */
  takePrimePair(): { p: bigint; q: bigint; source: PrimeSource } | undefined {
    const list = [...(this.data.primes ?? [])];
    const first = list.shift();
    if (!first) return undefined;
    const o = JSON.parse(new TextDecoder().decode(unseal(this.key, this.data.nodeId, `primes:${first.fingerprint}`, first.sealed))) as { p: string; q: string };
    this.data.primes = list;
    this.flush();
    return { p: BigInt(`0x${o.p}`), q: BigInt(`0x${o.q}`), source: first.source };
  }
}

/** Public fingerprint of a prime pair (order-independent): SHA-256 of the sorted pair, 16 bytes hex. */
export function primeFingerprint(p: bigint, q: bigint): string {
  const [a, b] = p < q ? [p, q] : [q, p];
  return bytesToHex(sha256(new TextEncoder().encode(`custos/prime-pair/v1\n${a.toString(16)}\n${b.toString(16)}`))).slice(0, 32);
}
