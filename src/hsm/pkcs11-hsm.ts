/**
 * `Hsm` over a PKCS#11 token through `pkcs11js` (tested on SoftHSM2). Keys are generated inside the
 * token as token objects: private and secret keys CKA_SENSITIVE, and CKA_EXTRACTABLE false (a KEK
 * made `backupable` is extractable only under a trusted wrapping key). Signing happens in the
 * token (CKM_ECDSA on a caller-computed digest, CKM_EDDSA); every signature is checked in software
 * before it is returned (ECDSA by recovering the key with @noble/curves, Ed25519 with node:crypto).
 *
 * Sessions: a small pool of read/write sessions, logged in once with the PIN from configuration
 * (the PIN sits in a private field, never in a log line or an error). Concurrent calls each take
 * their own session, so signing from many requests at once is safe (the library is initialised
 * with CKF_OS_LOCKING_OK). A session the token dropped is reopened and logged in again, and the
 * call retried once; re-opening itself is retried with a short backoff (`recoveryDelaysMs`) while
 * the token is unavailable. A refused or locked PIN is never retried: the connection then fails
 * fast with the same clear error (`hsm_pin_incorrect`, `hsm_token_locked`) without touching the
 * token again, because every further login with a wrong PIN brings a real HSM closer to locking.
 * `onEvent` hears about each step so the caller can raise an alert (`hsmEventAlert`).
 *
 * @example
 *   const hsm = await Pkcs11Hsm.open({ library: '/usr/lib/softhsm/libsofthsm2.so', tokenLabel: 'custos', pin });
 *   await hsm.generateSecp256k1('cold-eth');
 *   const { signature, recovery } = await hsm.signSecp256k1Digest('cold-eth', keccakDigest);
 *   await hsm.close();
 */
import { createHash, createPublicKey, randomBytes, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import type { Alert } from '../alerts/outbox.js';
import { CustosError } from '../core/errors.js';
import {
  assertDigest32,
  assertEddsaMessage,
  assertKeyLabel,
  assertSecretLength,
  type GenerateKeyOptions,
  type Hsm,
  type HsmKeyInfo,
  type HsmKeyKind,
  type Secp256k1Signature,
  type WrapMechanism,
} from './hsm.js';
import { ED25519_EC_PARAMS, SECP256K1_EC_PARAMS, equalBytes, unwrapEcPoint } from './ec-encoding.js';
import { CK } from './pkcs11-api.js';
import {
  SESSION_LOST,
  acquirePkcs11Library,
  ckrName,
  mapPkcs11Error,
  releasePkcs11Library,
  type Handle,
  type Pkcs11Library,
} from './pkcs11-module.js';
import { findSlot, type BackupReceiverPublicKey } from './pkcs11-token.js';
import { normaliseSecp256k1 } from './secp256k1-signature.js';


export interface HsmEvent {
  type: 'session_lost' | 'session_recovered' | 'recovery_failed' | 'login_failed' | 'token_locked';
  /** The PKCS#11 return value name that triggered it. */
  ckr?: string;
  /** The custos error code, when the event ends in one. */
  code?: string;
  /** session_recovered / recovery_failed: how many attempts re-opening took. */
  attempts?: number;
}

const SEVERITY: Record<HsmEvent['type'], Alert['severity']> = {
  session_lost: 'warning',
  session_recovered: 'info',
  recovery_failed: 'critical',
  login_failed: 'critical',
  token_locked: 'critical',
};

/**
 * The security alert for an HSM event (for the alerts outbox): `hsm.<type>`, critical when the
 * token refuses the PIN, is locked or cannot be reached again. Carries no PIN and no key.
 *
 * @example
 *   const hsm = await openHsm(config, { onEvent: (e) => void enqueueAlert(db, hsmEventAlert(e, config.tokenLabel)) });
 */
export function hsmEventAlert(event: HsmEvent, tokenLabel: string): Alert {
  const what: Record<HsmEvent['type'], string> = {
    session_lost: 'lost its session; reopening and retrying',
    session_recovered: `sessions re-opened${event.attempts && event.attempts > 1 ? ` after ${event.attempts} attempts` : ''}`,
    recovery_failed: `could not be reached again${event.attempts ? ` after ${event.attempts} attempts` : ''}`,
    login_failed: 'refused the PIN; custos stops logging in until it is reconfigured',
    token_locked: 'is locked (too many wrong PINs); the security officer must reset the user PIN',
  };
  return {
    kind: `hsm.${event.type}`,
    severity: SEVERITY[event.type],
    summary: `HSM token "${tokenLabel}" ${what[event.type]}`,
    details: { tokenLabel, ...event },
  };
}

export interface Pkcs11HsmConfig {
  library: string;
  tokenLabel: string;
  /** User PIN (CUSTOS_HSM_PIN). Kept in a private field; never logged. */
  pin: string;
  /** Sessions opened at most (default 4). */
  maxSessions?: number;
  /** Alerts hook: session loss, recovery, failed login, locked token. */
  onEvent?: (event: HsmEvent) => void;
  /** Waits before each attempt to re-open sessions after a loss (default [0, 100, 500] ms: three attempts). */
  recoveryDelaysMs?: readonly number[];
  /** Module name to load instead of pkcs11js (tests of the missing-addon error). */
  moduleName?: string;
}

/** A root KEK exported for a second HSM, wrapped by RSA-OAEP under that HSM's receiver key. */
export interface KekBackup {
  format: 'custos-kek-backup/1';
  kekLabel: string;
  kekId: string;
  /** SoftHSM2 2.6 implements RSA-OAEP wrapping with SHA-1 only (OAEP-SHA1 remains a sound KEM). */
  mechanism: 'rsa-oaep-sha1';
  receiverFingerprint: string;
  wrapped: Uint8Array;
  /** First 8 bytes of the KEK's RFC 3394 wrap of 32 zero bytes: proves a restore got the same key. */
  checkValue: string;
}

interface KeyHandles {
  kind: HsmKeyKind;
  secretOrPrivate: Handle;
  publicKey?: Handle;
  /** Cached public key bytes (65-byte uncompressed secp256k1, 32-byte Ed25519). */
  publicBytes?: Uint8Array;
  /** Ed25519 only: the public key as an OpenSSL key object for the post-signing check. */
  verifier?: KeyObject;
}

export class Pkcs11Hsm implements Hsm {
  readonly backend = 'pkcs11' as const;
  readonly description: string;
  readonly #lib: Pkcs11Library;
  readonly #config: Omit<Pkcs11HsmConfig, 'pin'>;
  readonly #pin: string;
  #slot: Handle;
  #idle: Handle[] = [];
  #open = new Set<Handle>();
  #waiters: { resolve: (session: Handle) => void; reject: (err: Error) => void }[] = [];
  #opening = 0;
  #recovering: Promise<void> | undefined;
  #closed = false;
  /** Set once the token refused or locked the PIN: every later call fails with it, without a login. */
  #loginRefused: CustosError | undefined;
  #keys = new Map<string, KeyHandles>();

  private constructor(lib: Pkcs11Library, slot: Handle, config: Pkcs11HsmConfig) {
    this.#lib = lib;
    this.#slot = slot;
    const { pin, ...rest } = config;
    this.#pin = pin;
    this.#config = rest;
    const info = lib.pkcs11.C_GetTokenInfo(slot);
    this.description = `PKCS#11 token "${config.tokenLabel}" (${info.manufacturerID.trim()} ${info.model.trim()}, serial ${info.serialNumber.trim()})`;
  }

  /** Loads the library, finds the token by label and logs in (checking the PIN now, not at first use). */
  static async open(config: Pkcs11HsmConfig): Promise<Pkcs11Hsm> {
    if (typeof config.pin !== 'string' || config.pin.length === 0) {
      throw new CustosError('hsm_pin_missing', 'no HSM PIN configured (set CUSTOS_HSM_PIN)', 503);
    }
    const lib = acquirePkcs11Library(config.library, config.moduleName);
    try {
      const slot = findSlot(lib, config.tokenLabel);
      const hsm = new Pkcs11Hsm(lib, slot, config);
      const session = await hsm.#acquire();
      hsm.#release(session);
      return hsm;
    } catch (err) {
      releasePkcs11Library(lib);
      throw err;
    }
  }

  /** Never shows the PIN, whatever inspects this object. */
  toJSON(): Record<string, unknown> {
    return { backend: this.backend, description: this.description };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `Pkcs11Hsm { ${this.description} }`;
  }

  // ---- sessions ---------------------------------------------------------------------------

  #emit(event: HsmEvent): void {
    try {
      this.#config.onEvent?.(event);
    } catch {
      // an alert hook must not break the HSM path
    }
  }

  #openSession(): Handle {
    const { pkcs11, mod } = this.#lib;
    let session: Handle;
    try {
      session = pkcs11.C_OpenSession(this.#slot, CK.CKF_SERIAL_SESSION | CK.CKF_RW_SESSION);
    } catch (err) {
      throw mapPkcs11Error(err, mod, 'open a session');
    }
    try {
      pkcs11.C_Login(session, CK.CKU_USER, this.#pin);
    } catch (err) {
      const ckr = ckrName(err, mod);
      if (ckr !== 'CKR_USER_ALREADY_LOGGED_IN') {
        try {
          pkcs11.C_CloseSession(session);
        } catch {
          // already failing
        }
        const refused = mapPkcs11Error(err, mod, 'log in to the token');
        if (refused.code === 'hsm_pin_incorrect' || refused.code === 'hsm_token_locked') this.#loginRefused = refused;
        if (ckr === 'CKR_PIN_LOCKED') this.#emit({ type: 'token_locked', ckr, code: refused.code });
        else this.#emit({ type: 'login_failed', ...(ckr ? { ckr } : {}), code: refused.code });
        throw refused;
      }
    }
    this.#open.add(session);
    return session;
  }

  async #acquire(): Promise<Handle> {
    if (this.#closed) throw new CustosError('hsm_closed', 'this HSM connection is closed', 503);
    if (this.#loginRefused) throw this.#loginRefused;
    if (this.#recovering) {
      await this.#recovering.catch(() => undefined);
      if (this.#closed) throw new CustosError('hsm_closed', 'this HSM connection is closed', 503);
      if (this.#loginRefused) throw this.#loginRefused;
    }
    const idle = this.#idle.pop();
    if (idle) return idle;
    const max = this.#config.maxSessions ?? 4;
    if (this.#open.size + this.#opening < max) {
      this.#opening++;
      try {
        return this.#openSession();
      } finally {
        this.#opening--;
      }
    }
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  #release(session: Handle): void {
    if (!this.#open.has(session)) return;
    if (this.#closed) return;
    const waiter = this.#waiters.shift();
    if (waiter) waiter.resolve(session);
    else this.#idle.push(session);
  }

  /**
   * Closes every session of this token in this process, then opens one and logs in again; while the
   * token is unavailable, tries again after each of `recoveryDelaysMs`. A refused or locked PIN
   * ends it at once. When it fails, every caller waiting for a session gets the same error.
   */
  async #recover(): Promise<void> {
    if (this.#recovering) return this.#recovering;
    const delays = this.#config.recoveryDelaysMs ?? [0, 100, 500];
    this.#recovering = (async () => {
      const { pkcs11 } = this.#lib;
      let last: unknown;
      for (let attempt = 1; attempt <= Math.max(1, delays.length); attempt++) {
        const wait = delays[attempt - 1] ?? 0;
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        if (this.#closed) throw new CustosError('hsm_closed', 'this HSM connection is closed', 503);
        try {
          pkcs11.C_CloseAllSessions(this.#slot);
        } catch {
          // the sessions are gone either way
        }
        this.#open.clear();
        this.#idle = [];
        this.#keys.clear();
        try {
          this.#slot = findSlot(this.#lib, this.#config.tokenLabel);
          const session = this.#openSession();
          this.#idle.push(session);
          this.#emit({ type: 'session_recovered', attempts: attempt });
          return;
        } catch (err) {
          last = err;
          if (this.#loginRefused) throw err; // never log in again with a refused PIN
        }
      }
      const failed = last instanceof CustosError ? last : mapPkcs11Error(last, this.#lib.mod, 'reopen a session');
      this.#emit({ type: 'recovery_failed', code: failed.code, attempts: Math.max(1, delays.length), ...(typeof failed.details?.ckr === 'string' ? { ckr: failed.details.ckr } : {}) });
      throw failed;
    })();
    try {
      await this.#recovering;
    } catch (err) {
      for (const waiter of this.#waiters.splice(0)) waiter.reject(err as Error);
      throw err;
    } finally {
      this.#recovering = undefined;
    }
    // waiters queued before the loss hold no session: hand them fresh ones
    while (this.#waiters.length > 0 && this.#idle.length > 0) this.#release(this.#idle.pop() as Handle);
  }

  /** Runs `fn` on a session of its own; on session loss recovers and retries once. */
  async #run<T>(action: string, fn: (session: Handle) => T | Promise<T>): Promise<T> {
    const { mod } = this.#lib;
    for (let attempt = 0; ; attempt++) {
      const session = await this.#acquire();
      try {
        const result = await fn(session);
        this.#release(session);
        return result;
      } catch (err) {
        const ckr = ckrName(err, mod);
        if (ckr && SESSION_LOST.has(ckr) && attempt === 0 && !this.#closed) {
          this.#open.delete(session);
          this.#emit({ type: 'session_lost', ckr });
          await this.#recover();
          continue;
        }
        if (ckr === 'CKR_OBJECT_HANDLE_INVALID' || ckr === 'CKR_KEY_HANDLE_INVALID') {
          this.#keys.clear();
          this.#release(session);
          if (attempt === 0) continue;
          throw mapPkcs11Error(err, mod, action);
        }
        this.#release(session);
        throw mapPkcs11Error(err, mod, action);
      }
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const { pkcs11 } = this.#lib;
    for (const session of this.#open) {
      try {
        pkcs11.C_CloseSession(session);
      } catch {
        // closing is best effort
      }
    }
    this.#open.clear();
    this.#idle = [];
    this.#keys.clear();
    for (const waiter of this.#waiters.splice(0)) waiter.reject(new CustosError('hsm_closed', 'this HSM connection is closed', 503));
    releasePkcs11Library(this.#lib);
  }

  // ---- objects ----------------------------------------------------------------------------

  #find(session: Handle, template: { type: number; value: number | boolean | string | Buffer }[]): Handle[] {
    const { pkcs11 } = this.#lib;
    pkcs11.C_FindObjectsInit(session, template);
    try {
      return pkcs11.C_FindObjects(session, 4);
    } finally {
      pkcs11.C_FindObjectsFinal(session);
    }
  }

  /** Finds the secret or private key with this label (and its public key for EC). */
  #handles(session: Handle, label: string): KeyHandles | undefined {
    const cached = this.#keys.get(label);
    if (cached) return cached;
    const { pkcs11 } = this.#lib;
    const secret = this.#find(session, [
      { type: CK.CKA_CLASS, value: CK.CKO_SECRET_KEY },
      { type: CK.CKA_LABEL, value: label },
    ]);
    const priv = this.#find(session, [
      { type: CK.CKA_CLASS, value: CK.CKO_PRIVATE_KEY },
      { type: CK.CKA_LABEL, value: label },
    ]);
    const all = [...secret, ...priv];
    if (all.length === 0) return undefined;
    if (all.length > 1) throw new CustosError('hsm_key_ambiguous', `more than one HSM key is labelled "${label}"`, 409);
    const handle = all[0] as Handle;
    const [keyType] = pkcs11.C_GetAttributeValue(session, handle, [{ type: CK.CKA_KEY_TYPE }]);
    const kt = readUlong(keyType?.value);
    let entry: KeyHandles;
    if (secret.length === 1) {
      if (kt !== CK.CKK_AES) throw new CustosError('hsm_key_kind_unsupported', `HSM key "${label}" is not an AES key`, 409);
      entry = { kind: 'aes-256', secretOrPrivate: handle };
    } else {
      const pubs = this.#find(session, [
        { type: CK.CKA_CLASS, value: CK.CKO_PUBLIC_KEY },
        { type: CK.CKA_LABEL, value: label },
      ]);
      if (pubs.length !== 1) throw new CustosError('hsm_key_incomplete', `HSM key "${label}" has no single public key`, 409);
      const pub = pubs[0] as Handle;
      const [params, point] = pkcs11.C_GetAttributeValue(session, pub, [{ type: CK.CKA_EC_PARAMS }, { type: CK.CKA_EC_POINT }]);
      const ecParams = new Uint8Array(params?.value ?? []);
      if (kt === CK.CKK_EC && equalBytes(ecParams, SECP256K1_EC_PARAMS)) {
        entry = { kind: 'secp256k1', secretOrPrivate: handle, publicKey: pub, publicBytes: unwrapEcPoint(new Uint8Array(point?.value ?? []), 65) };
      } else if (kt === CK.CKK_EC_EDWARDS) {
        const publicBytes = unwrapEcPoint(new Uint8Array(point?.value ?? []), 32);
        entry = { kind: 'ed25519', secretOrPrivate: handle, publicKey: pub, publicBytes, verifier: ed25519KeyObject(publicBytes) };
      } else {
        throw new CustosError('hsm_key_kind_unsupported', `HSM key "${label}" is neither secp256k1 nor Ed25519`, 409);
      }
    }
    this.#keys.set(label, entry);
    return entry;
  }

  #require(session: Handle, label: string, kind?: HsmKeyKind): KeyHandles {
    assertKeyLabel(label);
    const entry = this.#handles(session, label);
    if (!entry) throw new CustosError('hsm_key_not_found', `no HSM key is labelled "${label}"`, 404);
    if (kind && entry.kind !== kind) throw new CustosError('hsm_key_kind_mismatch', `HSM key "${label}" is ${entry.kind}, not ${kind}`, 409);
    return entry;
  }

  #info(session: Handle, label: string, entry: KeyHandles): HsmKeyInfo {
    const { pkcs11 } = this.#lib;
    const attrs = pkcs11.C_GetAttributeValue(session, entry.secretOrPrivate, [
      { type: CK.CKA_ID },
      { type: CK.CKA_EXTRACTABLE },
      { type: CK.CKA_SENSITIVE },
      { type: CK.CKA_NEVER_EXTRACTABLE },
      { type: CK.CKA_WRAP_WITH_TRUSTED },
    ]);
    const bool = (i: number) => (attrs[i]?.value?.[0] ?? 0) !== 0;
    return {
      label,
      id: Buffer.from(attrs[0]?.value ?? []).toString('hex'),
      kind: entry.kind,
      extractable: bool(1),
      sensitive: bool(2),
      neverExtractable: bool(3),
      wrapWithTrusted: bool(4),
    };
  }

  #assertFree(session: Handle, label: string): void {
    assertKeyLabel(label);
    if (this.#find(session, [{ type: CK.CKA_LABEL, value: label }]).length > 0) {
      throw new CustosError('hsm_key_exists', `an HSM key labelled "${label}" already exists`, 409);
    }
  }

  async generateAesKek(label: string, options: GenerateKeyOptions = {}): Promise<HsmKeyInfo> {
    return this.#run('generate an AES key-encryption key', (session) => {
      this.#assertFree(session, label);
      const { pkcs11 } = this.#lib;
      const backupable = options.backupable === true;
      pkcs11.C_GenerateKey(session, { mechanism: CK.CKM_AES_KEY_GEN }, [
        { type: CK.CKA_CLASS, value: CK.CKO_SECRET_KEY },
        { type: CK.CKA_KEY_TYPE, value: CK.CKK_AES },
        { type: CK.CKA_VALUE_LEN, value: 32 },
        { type: CK.CKA_TOKEN, value: true },
        { type: CK.CKA_PRIVATE, value: true },
        { type: CK.CKA_SENSITIVE, value: true },
        { type: CK.CKA_EXTRACTABLE, value: backupable },
        { type: CK.CKA_WRAP_WITH_TRUSTED, value: backupable },
        { type: CK.CKA_WRAP, value: true },
        { type: CK.CKA_UNWRAP, value: true },
        { type: CK.CKA_ENCRYPT, value: false },
        { type: CK.CKA_DECRYPT, value: false },
        { type: CK.CKA_SIGN, value: false },
        { type: CK.CKA_VERIFY, value: false },
        { type: CK.CKA_DERIVE, value: false },
        { type: CK.CKA_LABEL, value: label },
        { type: CK.CKA_ID, value: keyId(options) },
      ]);
      return this.#info(session, label, this.#require(session, label, 'aes-256'));
    });
  }

  async generateSecp256k1(label: string, options: GenerateKeyOptions = {}): Promise<HsmKeyInfo> {
    return this.#generateEc(label, options, 'secp256k1');
  }

  async generateEd25519(label: string, options: GenerateKeyOptions = {}): Promise<HsmKeyInfo> {
    return this.#generateEc(label, options, 'ed25519');
  }

  async #generateEc(label: string, options: GenerateKeyOptions, kind: 'secp256k1' | 'ed25519'): Promise<HsmKeyInfo> {
    return this.#run(`generate a ${kind} key pair`, (session) => {
      this.#assertFree(session, label);
      const { pkcs11 } = this.#lib;
      const id = keyId(options);
      const mechanism = kind === 'secp256k1' ? CK.CKM_EC_KEY_PAIR_GEN : CK.CKM_EC_EDWARDS_KEY_PAIR_GEN;
      const params = Buffer.from(kind === 'secp256k1' ? SECP256K1_EC_PARAMS : ED25519_EC_PARAMS);
      pkcs11.C_GenerateKeyPair(
        session,
        { mechanism },
        [
          { type: CK.CKA_TOKEN, value: true },
          { type: CK.CKA_PRIVATE, value: false },
          { type: CK.CKA_EC_PARAMS, value: params },
          { type: CK.CKA_VERIFY, value: true },
          { type: CK.CKA_LABEL, value: label },
          { type: CK.CKA_ID, value: id },
        ],
        [
          { type: CK.CKA_TOKEN, value: true },
          { type: CK.CKA_PRIVATE, value: true },
          { type: CK.CKA_SENSITIVE, value: true },
          { type: CK.CKA_EXTRACTABLE, value: false },
          { type: CK.CKA_SIGN, value: true },
          { type: CK.CKA_DERIVE, value: false },
          { type: CK.CKA_LABEL, value: label },
          { type: CK.CKA_ID, value: id },
        ],
      );
      return this.#info(session, label, this.#require(session, label, kind));
    });
  }

  async findKey(label: string): Promise<HsmKeyInfo | undefined> {
    assertKeyLabel(label);
    return this.#run('find a key', (session) => {
      const entry = this.#handles(session, label);
      return entry ? this.#info(session, label, entry) : undefined;
    });
  }

  async findKeyById(id: Uint8Array): Promise<HsmKeyInfo | undefined> {
    const wanted = Buffer.from(id).toString('hex');
    return (await this.listKeys()).find((k) => k.id === wanted);
  }

  async listKeys(): Promise<HsmKeyInfo[]> {
    return this.#run('list keys', (session) => {
      const { pkcs11 } = this.#lib;
      const labels = new Set<string>();
      for (const cls of [CK.CKO_SECRET_KEY, CK.CKO_PRIVATE_KEY]) {
        pkcs11.C_FindObjectsInit(session, [{ type: CK.CKA_CLASS, value: cls }]);
        try {
          for (;;) {
            const batch = pkcs11.C_FindObjects(session, 64);
            if (batch.length === 0) break;
            for (const h of batch) {
              const [l] = pkcs11.C_GetAttributeValue(session, h, [{ type: CK.CKA_LABEL }]);
              labels.add(Buffer.from(l?.value ?? []).toString('utf8'));
            }
          }
        } finally {
          pkcs11.C_FindObjectsFinal(session);
        }
      }
      const out: HsmKeyInfo[] = [];
      for (const label of [...labels].sort()) {
        let entry: KeyHandles | undefined;
        try {
          entry = this.#handles(session, label);
        } catch (err) {
          if (err instanceof CustosError && err.code.startsWith('hsm_key_')) continue; // keys custos did not make
          throw err;
        }
        if (entry) out.push(this.#info(session, label, entry));
      }
      return out;
    });
  }

  async deleteKey(label: string): Promise<void> {
    return this.#run('delete a key', (session) => {
      const entry = this.#require(session, label);
      const { pkcs11 } = this.#lib;
      pkcs11.C_DestroyObject(session, entry.secretOrPrivate);
      if (entry.publicKey) pkcs11.C_DestroyObject(session, entry.publicKey);
      this.#keys.delete(label);
    });
  }

  async publicKey(label: string, format: 'uncompressed' | 'compressed' = 'uncompressed'): Promise<Uint8Array> {
    return this.#run('read a public key', (session) => {
      const entry = this.#require(session, label);
      if (entry.kind === 'aes-256' || !entry.publicBytes) throw new CustosError('hsm_key_kind_mismatch', `HSM key "${label}" has no public key`, 409);
      if (entry.kind === 'ed25519') return new Uint8Array(entry.publicBytes);
      return secp256k1.Point.fromBytes(entry.publicBytes).toBytes(format === 'compressed');
    });
  }

  async signSecp256k1Digest(label: string, digest: Uint8Array): Promise<Secp256k1Signature> {
    assertDigest32(digest);
    return this.#run('sign with ECDSA', async (session) => {
      const entry = this.#require(session, label, 'secp256k1');
      const { pkcs11 } = this.#lib;
      pkcs11.C_SignInit(session, { mechanism: CK.CKM_ECDSA }, entry.secretOrPrivate);
      const raw = await pkcs11.C_SignAsync(session, Buffer.from(digest), Buffer.alloc(64));
      return normaliseSecp256k1(new Uint8Array(raw), digest, entry.publicBytes as Uint8Array);
    });
  }

  async signEd25519(label: string, message: Uint8Array): Promise<Uint8Array> {
    assertEddsaMessage(message);
    return this.#run('sign with EdDSA', async (session) => {
      const entry = this.#require(session, label, 'ed25519');
      const { pkcs11 } = this.#lib;
      pkcs11.C_SignInit(session, { mechanism: CK.CKM_EDDSA }, entry.secretOrPrivate);
      const sig = new Uint8Array(await pkcs11.C_SignAsync(session, Buffer.from(message), Buffer.alloc(64)));
      if (sig.length !== 64 || !cryptoVerify(null, message, entry.verifier as KeyObject, sig)) {
        throw new CustosError('hsm_signature_invalid', 'the HSM returned an Ed25519 signature that does not verify', 502);
      }
      return sig;
    });
  }

  // ---- wrapping ---------------------------------------------------------------------------

  #mechanism(m: WrapMechanism): { mechanism: number } {
    return { mechanism: m === 'aes-kw' ? CK.CKM_AES_KEY_WRAP : CK.CKM_AES_KEY_WRAP_PAD };
  }

  /**
   * SoftHSM2 2.6.1 zero-pads a key to a multiple of 8 bytes before CKM_AES_KEY_WRAP_PAD, so its
   * RFC 5649 length indicator is wrong for other lengths (see README in this folder). custos keys
   * are 16..64 bytes in multiples of 8 on this backend, where every token agrees with RFC 5649.
   */
  #checkLength(length: number, mechanism: WrapMechanism): void {
    assertSecretLength(length, mechanism);
    if (length % 8 !== 0) {
      throw new CustosError('hsm_invalid_input', 'the PKCS#11 backend wraps secrets of a multiple of 8 bytes only', 400);
    }
  }

  #wrapObject(session: Handle, kek: KeyHandles, key: Handle, mechanism: WrapMechanism): Uint8Array {
    const { pkcs11 } = this.#lib;
    return new Uint8Array(pkcs11.C_WrapKey(session, this.#mechanism(mechanism), kek.secretOrPrivate, key, Buffer.alloc(128)));
  }

  async wrapSecret(kekLabel: string, secret: Uint8Array, mechanism: WrapMechanism = 'aes-kw'): Promise<Uint8Array> {
    this.#checkLength(secret.length, mechanism);
    return this.#run('wrap a secret', (session) => {
      const kek = this.#require(session, kekLabel, 'aes-256');
      const { pkcs11 } = this.#lib;
      const value = Buffer.from(secret);
      let obj: Handle | undefined;
      try {
        obj = pkcs11.C_CreateObject(session, [
          { type: CK.CKA_CLASS, value: CK.CKO_SECRET_KEY },
          { type: CK.CKA_KEY_TYPE, value: CK.CKK_GENERIC_SECRET },
          { type: CK.CKA_TOKEN, value: false },
          { type: CK.CKA_SENSITIVE, value: true },
          { type: CK.CKA_EXTRACTABLE, value: true },
          { type: CK.CKA_VALUE, value },
        ]);
        return this.#wrapObject(session, kek, obj, mechanism);
      } finally {
        value.fill(0);
        if (obj) pkcs11.C_DestroyObject(session, obj);
      }
    });
  }

  async generateWrappedSecret(kekLabel: string, length: number, mechanism: WrapMechanism = 'aes-kw'): Promise<Uint8Array> {
    this.#checkLength(length, mechanism);
    return this.#run('generate a wrapped secret', (session) => {
      const kek = this.#require(session, kekLabel, 'aes-256');
      const { pkcs11 } = this.#lib;
      let obj: Handle | undefined;
      try {
        obj = pkcs11.C_GenerateKey(session, { mechanism: CK.CKM_GENERIC_SECRET_KEY_GEN }, [
          { type: CK.CKA_CLASS, value: CK.CKO_SECRET_KEY },
          { type: CK.CKA_KEY_TYPE, value: CK.CKK_GENERIC_SECRET },
          { type: CK.CKA_VALUE_LEN, value: length },
          { type: CK.CKA_TOKEN, value: false },
          { type: CK.CKA_SENSITIVE, value: true },
          { type: CK.CKA_EXTRACTABLE, value: true },
        ]);
        return this.#wrapObject(session, kek, obj, mechanism);
      } finally {
        if (obj) pkcs11.C_DestroyObject(session, obj);
      }
    });
  }

  async unwrapSecret(kekLabel: string, wrapped: Uint8Array, mechanism: WrapMechanism = 'aes-kw'): Promise<Uint8Array> {
    if (!(wrapped instanceof Uint8Array) || wrapped.length < 16 || wrapped.length > 128 || wrapped.length % 8 !== 0) {
      throw new CustosError('hsm_unwrap_failed', 'a wrapped secret is 16 to 128 bytes in multiples of 8', 400);
    }
    try {
      return await this.#run('unwrap a secret', (session) => {
        const kek = this.#require(session, kekLabel, 'aes-256');
        const { pkcs11 } = this.#lib;
        let obj: Handle | undefined;
        try {
          obj = pkcs11.C_UnwrapKey(session, this.#mechanism(mechanism), kek.secretOrPrivate, Buffer.from(wrapped), [
            { type: CK.CKA_CLASS, value: CK.CKO_SECRET_KEY },
            { type: CK.CKA_KEY_TYPE, value: CK.CKK_GENERIC_SECRET },
            { type: CK.CKA_TOKEN, value: false },
            { type: CK.CKA_SENSITIVE, value: false },
            { type: CK.CKA_EXTRACTABLE, value: true },
          ]);
          const [v] = pkcs11.C_GetAttributeValue(session, obj, [{ type: CK.CKA_VALUE }]);
          const out = new Uint8Array(v?.value ?? []);
          v?.value?.fill(0);
          return out;
        } finally {
          if (obj) pkcs11.C_DestroyObject(session, obj);
        }
      });
    } catch (err) {
      // SoftHSM2 answers a failed integrity check with CKR_GENERAL_ERROR; say what it means here.
      if (err instanceof CustosError && err.code === 'hsm_error' && err.details?.ckr === 'CKR_GENERAL_ERROR') {
        throw new CustosError('hsm_unwrap_failed', 'the HSM could not unwrap the blob (wrong key-encryption key or altered blob)', 400, err.details);
      }
      throw err;
    }
  }

  // ---- probes: the token, not custos, decides ----------------------------------------------

  /**
   * Asks the token for CKA_VALUE of a key. custos adds no check of its own: for a sensitive or
   * non-extractable key the refusal (`hsm_key_not_extractable`, details.ckr) is the HSM's.
   */
  async tryExportKeyValue(label: string): Promise<Uint8Array> {
    return this.#run('read a key value', (session) => {
      const entry = this.#require(session, label);
      const { pkcs11 } = this.#lib;
      const [v] = pkcs11.C_GetAttributeValue(session, entry.secretOrPrivate, [{ type: CK.CKA_VALUE }]);
      return new Uint8Array(v?.value ?? []);
    });
  }

  /** Asks the token to wrap key `label` under key `wrappingLabel` (AES KW); again no check of ours. */
  async tryWrapKey(wrappingLabel: string, label: string, mechanism: WrapMechanism = 'aes-kwp'): Promise<Uint8Array> {
    return this.#run('wrap a stored key', (session) => {
      const wrapping = this.#require(session, wrappingLabel, 'aes-256');
      const entry = this.#require(session, label);
      return this.#wrapObject(session, wrapping, entry.secretOrPrivate, mechanism);
    });
  }

  // ---- backup -----------------------------------------------------------------------------

  /**
   * On the target HSM: makes the RSA-3072 receiver key pair whose private key (non-extractable,
   * unwrap only) will take in a root KEK backup. Returns the public half for the SO ceremony.
   */
  async createBackupReceiver(label: string): Promise<BackupReceiverPublicKey> {
    return this.#run('create a backup receiver key', (session) => {
      this.#assertFree(session, label);
      const { pkcs11 } = this.#lib;
      const id = keyId({});
      const pair = pkcs11.C_GenerateKeyPair(
        session,
        { mechanism: CK.CKM_RSA_PKCS_KEY_PAIR_GEN },
        [
          { type: CK.CKA_TOKEN, value: true },
          { type: CK.CKA_PRIVATE, value: false },
          { type: CK.CKA_MODULUS_BITS, value: 3072 },
          { type: CK.CKA_PUBLIC_EXPONENT, value: Buffer.from([1, 0, 1]) },
          { type: CK.CKA_WRAP, value: false },
          { type: CK.CKA_ENCRYPT, value: false },
          { type: CK.CKA_VERIFY, value: false },
          { type: CK.CKA_LABEL, value: label },
          { type: CK.CKA_ID, value: id },
        ],
        [
          { type: CK.CKA_TOKEN, value: true },
          { type: CK.CKA_PRIVATE, value: true },
          { type: CK.CKA_SENSITIVE, value: true },
          { type: CK.CKA_EXTRACTABLE, value: false },
          { type: CK.CKA_UNWRAP, value: true },
          { type: CK.CKA_DECRYPT, value: false },
          { type: CK.CKA_SIGN, value: false },
          { type: CK.CKA_LABEL, value: label },
          { type: CK.CKA_ID, value: id },
        ],
      );
      return this.#rsaPublic(session, pair.publicKey);
    });
  }

  #rsaPublic(session: Handle, handle: Handle): BackupReceiverPublicKey {
    const { pkcs11 } = this.#lib;
    const [n, e] = pkcs11.C_GetAttributeValue(session, handle, [{ type: CK.CKA_MODULUS }, { type: CK.CKA_PUBLIC_EXPONENT }]);
    const modulus = new Uint8Array(n?.value ?? []);
    const publicExponent = new Uint8Array(e?.value ?? []);
    return { modulus, publicExponent, fingerprint: receiverFingerprint(modulus, publicExponent) };
  }

  #rsaKey(session: Handle, label: string, cls: number): Handle {
    const found = this.#find(session, [
      { type: CK.CKA_CLASS, value: cls },
      { type: CK.CKA_KEY_TYPE, value: CK.CKK_RSA },
      { type: CK.CKA_LABEL, value: label },
    ]);
    if (found.length !== 1) throw new CustosError('hsm_key_not_found', `no single RSA key labelled "${label}"`, 404);
    return found[0] as Handle;
  }

  #oaep(): { mechanism: number; parameter: { type: number; hashAlg: number; mgf: number; source: number } } {
    const { mod } = this.#lib;
    return {
      mechanism: CK.CKM_RSA_PKCS_OAEP,
      parameter: { type: mod.CK_PARAMS_RSA_OAEP, hashAlg: CK.CKM_SHA_1, mgf: CK.CKG_MGF1_SHA1, source: CK.CKZ_DATA_SPECIFIED },
    };
  }

  #checkValue(session: Handle, kek: Handle): string {
    const { pkcs11 } = this.#lib;
    const probe = pkcs11.C_CreateObject(session, [
      { type: CK.CKA_CLASS, value: CK.CKO_SECRET_KEY },
      { type: CK.CKA_KEY_TYPE, value: CK.CKK_GENERIC_SECRET },
      { type: CK.CKA_TOKEN, value: false },
      { type: CK.CKA_EXTRACTABLE, value: true },
      { type: CK.CKA_VALUE, value: Buffer.alloc(32) },
    ]);
    try {
      return pkcs11.C_WrapKey(session, { mechanism: CK.CKM_AES_KEY_WRAP }, kek, probe, Buffer.alloc(64)).subarray(0, 8).toString('hex');
    } finally {
      pkcs11.C_DestroyObject(session, probe);
    }
  }

  /**
   * On the source HSM: wraps a backupable root KEK under the trusted wrapping key the SO installed
   * (see installTrustedWrappingKey). The token refuses for a non-backupable KEK or an untrusted key.
   */
  async exportKekBackup(kekLabel: string, trustedKeyLabel: string): Promise<KekBackup> {
    return this.#run('export a root KEK backup', (session) => {
      const kek = this.#require(session, kekLabel, 'aes-256');
      const info = this.#info(session, kekLabel, kek);
      const { pkcs11 } = this.#lib;
      const trusted = this.#rsaKey(session, trustedKeyLabel, CK.CKO_PUBLIC_KEY);
      const receiver = this.#rsaPublic(session, trusted);
      const wrapped = new Uint8Array(pkcs11.C_WrapKey(session, this.#oaep(), trusted, kek.secretOrPrivate, Buffer.alloc(512)));
      return {
        format: 'custos-kek-backup/1',
        kekLabel,
        kekId: info.id,
        mechanism: 'rsa-oaep-sha1',
        receiverFingerprint: receiver.fingerprint,
        wrapped,
        checkValue: this.#checkValue(session, kek.secretOrPrivate),
      };
    });
  }

  /**
   * On the target HSM: unwraps a KEK backup with the receiver's private key into a token object
   * (sensitive, non-extractable, wrap/unwrap only) and checks the check value before keeping it.
   */
  async restoreKekBackup(backup: KekBackup, receiverLabel: string): Promise<HsmKeyInfo> {
    if (backup.format !== 'custos-kek-backup/1' || backup.mechanism !== 'rsa-oaep-sha1') {
      throw new CustosError('hsm_backup_invalid', 'not a custos KEK backup this version can restore', 400);
    }
    return this.#run('restore a root KEK backup', (session) => {
      this.#assertFree(session, backup.kekLabel);
      const { pkcs11 } = this.#lib;
      const receiverPublic = this.#rsaPublic(session, this.#rsaKey(session, receiverLabel, CK.CKO_PUBLIC_KEY));
      if (receiverPublic.fingerprint !== backup.receiverFingerprint) {
        throw new CustosError('hsm_backup_wrong_receiver', 'this backup was made for another receiver key', 400);
      }
      const priv = this.#rsaKey(session, receiverLabel, CK.CKO_PRIVATE_KEY);
      const kek = pkcs11.C_UnwrapKey(session, this.#oaep(), priv, Buffer.from(backup.wrapped), [
        { type: CK.CKA_CLASS, value: CK.CKO_SECRET_KEY },
        { type: CK.CKA_KEY_TYPE, value: CK.CKK_AES },
        { type: CK.CKA_TOKEN, value: true },
        { type: CK.CKA_PRIVATE, value: true },
        { type: CK.CKA_SENSITIVE, value: true },
        { type: CK.CKA_EXTRACTABLE, value: false },
        { type: CK.CKA_WRAP, value: true },
        { type: CK.CKA_UNWRAP, value: true },
        { type: CK.CKA_ENCRYPT, value: false },
        { type: CK.CKA_DECRYPT, value: false },
        { type: CK.CKA_LABEL, value: backup.kekLabel },
        { type: CK.CKA_ID, value: Buffer.from(backup.kekId, 'hex') },
      ]);
      if (this.#checkValue(session, kek) !== backup.checkValue) {
        pkcs11.C_DestroyObject(session, kek);
        throw new CustosError('hsm_backup_invalid', 'the restored KEK does not match the backup check value', 400);
      }
      return this.#info(session, backup.kekLabel, this.#require(session, backup.kekLabel, 'aes-256'));
    });
  }
}

function keyId(options: GenerateKeyOptions): Buffer {
  if (options.id !== undefined) {
    if (!(options.id instanceof Uint8Array) || options.id.length === 0 || options.id.length > 64) {
      throw new CustosError('hsm_invalid_input', 'a key id is 1 to 64 bytes', 400);
    }
    return Buffer.from(options.id);
  }
  return randomBytes(16);
}

function readUlong(value: Buffer | undefined): number {
  if (!value || value.length === 0) return -1;
  return value.length >= 8 ? Number(value.readBigUInt64LE(0)) : value.readUInt32LE(0);
}

/** An Ed25519 public key for node:crypto (OpenSSL): SPKI DER = fixed RFC 8410 prefix || 32 bytes. */
function ed25519KeyObject(publicKey: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), publicKey]), format: 'der', type: 'spki' });
}

/** SHA-256 over modulus || exponent, hex. */
export function receiverFingerprint(modulus: Uint8Array, publicExponent: Uint8Array): string {
  return createHash('sha256').update(modulus).update(publicExponent).digest('hex');
}
