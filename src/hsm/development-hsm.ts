/**
 * `DevelopmentHsm`: development, not an HSM. The same `Hsm` interface in software for the embedded
 * demo: keys are generated with the platform CSPRNG and kept in a file under the data directory,
 * sealed with AES-256-GCM under a scrypt-derived key (see dev-keystore.ts), never in plaintext on
 * disk. While it is open the keys sit in process memory, so a compromised host reads them: that is
 * the difference from a real HSM, and `description` says so wherever it is shown. Rules the token
 * enforces in a PKCS#11 HSM (non-extractable keys, KEK used only for wrapping) are enforced here by
 * this code. One process at a time may open the file: a lock file beside it (holding the pid)
 * refuses a second opener while the first is alive, so two writers never overwrite each other.
 *
 * @example
 *   const hsm = await DevelopmentHsm.open({ dataDir: '.custos', passphrase: process.env.CUSTOS_DEV_HSM_PASSPHRASE! });
 *   await hsm.generateEd25519('approval');
 *   const sig = await hsm.signEd25519('approval', message);
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ed25519 } from '@noble/curves/ed25519.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { CustosError } from '../core/errors.js';
import { aesKeyUnwrap, aesKeyUnwrapPad, aesKeyWrap, aesKeyWrapPad } from './aes-kw.js';
import { DEFAULT_SCRYPT, deriveKeystoreKey, newKeystoreHeader, readKeystore, writeKeystore, type KeystoreHeader, type KeystoreRecord } from './dev-keystore.js';
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
import { normaliseSecp256k1 } from './secp256k1-signature.js';

export const DEVELOPMENT_HSM_FILE = 'development-hsm.json';

export interface DevelopmentHsmOptions {
  /** Directory for development-hsm.json (created 0700 if absent). */
  dataDir: string;
  /** Passphrase the file key is derived from (CUSTOS_DEV_HSM_PASSPHRASE), at least 8 characters. */
  passphrase: string;
  /** scrypt cost for a new file (default N=2^15, r=8, p=1; N at least 2^14). */
  scrypt?: { N: number; r: number; p: number };
}

interface Key {
  record: KeystoreRecord;
  secret: Uint8Array;
  publicKey?: Uint8Array;
}

export class DevelopmentHsm implements Hsm {
  readonly backend = 'development' as const;
  readonly description: string;
  readonly path: string;
  readonly #header: KeystoreHeader;
  readonly #fileKey: Uint8Array;
  readonly #keys = new Map<string, Key>();
  #writing: Promise<void> = Promise.resolve();
  #closed = false;

  private constructor(path: string, header: KeystoreHeader, fileKey: Uint8Array, records: KeystoreRecord[]) {
    this.path = path;
    this.#header = header;
    this.#fileKey = fileKey;
    this.description = `development HSM (software keys in ${path}): development, not an HSM`;
    for (const record of records) this.#keys.set(record.label, load(record));
  }

  /** Opens the key file, or creates an empty one when there is none. */
  static async open(options: DevelopmentHsmOptions): Promise<DevelopmentHsm> {
    mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
    const path = join(options.dataDir, DEVELOPMENT_HSM_FILE);
    takeLock(`${path}.lock`);
    try {
      if (existsSync(path)) {
        const opened = await readKeystore(path, options.passphrase);
        return new DevelopmentHsm(path, opened.header, opened.key, opened.records);
      }
      const header = newKeystoreHeader(options.scrypt ?? DEFAULT_SCRYPT);
      const key = await deriveKeystoreKey(options.passphrase, header.kdf);
      await writeKeystore(path, header, key, []);
      return new DevelopmentHsm(path, header, key, []);
    } catch (err) {
      rmSync(`${path}.lock`, { force: true });
      throw err;
    }
  }

  toJSON(): Record<string, unknown> {
    return { backend: this.backend, description: this.description };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `DevelopmentHsm { ${this.description} }`;
  }

  #check(): void {
    if (this.#closed) throw new CustosError('hsm_closed', 'this HSM connection is closed', 503);
  }

  #persist(): Promise<void> {
    const records = [...this.#keys.values()].map((k) => k.record);
    const next = this.#writing.then(() => writeKeystore(this.path, this.#header, this.#fileKey, records));
    this.#writing = next.catch(() => undefined);
    return next;
  }

  #require(label: string, kind?: HsmKeyKind): Key {
    this.#check();
    assertKeyLabel(label);
    const key = this.#keys.get(label);
    if (!key) throw new CustosError('hsm_key_not_found', `no HSM key is labelled "${label}"`, 404);
    if (kind && key.record.kind !== kind) throw new CustosError('hsm_key_kind_mismatch', `HSM key "${label}" is ${key.record.kind}, not ${kind}`, 409);
    return key;
  }

  async #generate(label: string, kind: HsmKeyKind, secret: Uint8Array, options: GenerateKeyOptions): Promise<HsmKeyInfo> {
    this.#check();
    assertKeyLabel(label);
    if (this.#keys.has(label)) throw new CustosError('hsm_key_exists', `an HSM key labelled "${label}" already exists`, 409);
    if (options.id !== undefined && (!(options.id instanceof Uint8Array) || options.id.length === 0 || options.id.length > 64)) {
      throw new CustosError('hsm_invalid_input', 'a key id is 1 to 64 bytes', 400);
    }
    const backupable = kind === 'aes-256' && options.backupable === true;
    const record: KeystoreRecord = {
      label,
      id: Buffer.from(options.id ?? randomBytes(16)).toString('hex'),
      kind,
      secret: Buffer.from(secret).toString('base64'),
      extractable: backupable,
      backupable,
    };
    this.#keys.set(label, load(record));
    try {
      await this.#persist();
    } catch (err) {
      this.#keys.delete(label);
      throw err;
    }
    return info(record);
  }

  generateAesKek(label: string, options: GenerateKeyOptions = {}): Promise<HsmKeyInfo> {
    return this.#generate(label, 'aes-256', new Uint8Array(randomBytes(32)), options);
  }

  generateSecp256k1(label: string, options: GenerateKeyOptions = {}): Promise<HsmKeyInfo> {
    return this.#generate(label, 'secp256k1', secp256k1.utils.randomSecretKey(), options);
  }

  generateEd25519(label: string, options: GenerateKeyOptions = {}): Promise<HsmKeyInfo> {
    return this.#generate(label, 'ed25519', ed25519.utils.randomSecretKey(), options);
  }

  async findKey(label: string): Promise<HsmKeyInfo | undefined> {
    this.#check();
    assertKeyLabel(label);
    const key = this.#keys.get(label);
    return key ? info(key.record) : undefined;
  }

  async findKeyById(id: Uint8Array): Promise<HsmKeyInfo | undefined> {
    const wanted = Buffer.from(id).toString('hex');
    return (await this.listKeys()).find((k) => k.id === wanted);
  }

  async listKeys(): Promise<HsmKeyInfo[]> {
    this.#check();
    return [...this.#keys.values()].map((k) => info(k.record)).sort((a, b) => (a.label < b.label ? -1 : 1));
  }

  async deleteKey(label: string): Promise<void> {
    const key = this.#require(label);
    this.#keys.delete(label);
    await this.#persist();
    key.secret.fill(0);
  }

  async publicKey(label: string, format: 'uncompressed' | 'compressed' = 'uncompressed'): Promise<Uint8Array> {
    const key = this.#require(label);
    if (!key.publicKey) throw new CustosError('hsm_key_kind_mismatch', `HSM key "${label}" has no public key`, 409);
    if (key.record.kind === 'ed25519') return new Uint8Array(key.publicKey);
    return secp256k1.Point.fromBytes(key.publicKey).toBytes(format === 'compressed');
  }

  async signSecp256k1Digest(label: string, digest: Uint8Array): Promise<Secp256k1Signature> {
    assertDigest32(digest);
    const key = this.#require(label, 'secp256k1');
    const raw = secp256k1.sign(digest, key.secret, { prehash: false, lowS: true, format: 'compact' });
    return normaliseSecp256k1(raw, digest, key.publicKey as Uint8Array);
  }

  async signEd25519(label: string, message: Uint8Array): Promise<Uint8Array> {
    assertEddsaMessage(message);
    const key = this.#require(label, 'ed25519');
    return ed25519.sign(message, key.secret);
  }

  async wrapSecret(kekLabel: string, secret: Uint8Array, mechanism: WrapMechanism = 'aes-kw'): Promise<Uint8Array> {
    assertSecretLength(secret.length, mechanism);
    const kek = this.#require(kekLabel, 'aes-256');
    return mechanism === 'aes-kw' ? aesKeyWrap(kek.secret, secret) : aesKeyWrapPad(kek.secret, secret);
  }

  async generateWrappedSecret(kekLabel: string, length: number, mechanism: WrapMechanism = 'aes-kw'): Promise<Uint8Array> {
    assertSecretLength(length, mechanism);
    const secret = new Uint8Array(randomBytes(length));
    try {
      return await this.wrapSecret(kekLabel, secret, mechanism);
    } finally {
      secret.fill(0);
    }
  }

  async unwrapSecret(kekLabel: string, wrapped: Uint8Array, mechanism: WrapMechanism = 'aes-kw'): Promise<Uint8Array> {
    if (!(wrapped instanceof Uint8Array) || wrapped.length < 16 || wrapped.length > 128) {
      throw new CustosError('hsm_unwrap_failed', 'a wrapped secret is 16 to 128 bytes', 400);
    }
    const kek = this.#require(kekLabel, 'aes-256');
    return mechanism === 'aes-kw' ? aesKeyUnwrap(kek.secret, wrapped) : aesKeyUnwrapPad(kek.secret, wrapped);
  }

  /** Software counterpart of the PKCS#11 probe: key values never leave the development backend. */
  async tryExportKeyValue(label: string): Promise<Uint8Array> {
    this.#require(label);
    throw new CustosError('hsm_key_not_extractable', 'the key value is sensitive: it never leaves the HSM in plaintext', 403);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#writing;
    this.#closed = true;
    for (const key of this.#keys.values()) key.secret.fill(0);
    this.#keys.clear();
    this.#fileKey.fill(0);
    rmSync(`${this.path}.lock`, { force: true });
  }
}

/** Creates the lock file; takes over a lock whose process is gone. */
function takeLock(lockPath: string): void {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(lockPath, String(process.pid), { flag: 'wx', mode: 0o600 });
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = Number.parseInt(readFileSync(lockPath, 'utf8'), 10);
    if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && processAlive(holder)) break;
    if (holder === process.pid) break;
    rmSync(lockPath, { force: true }); // stale: its process has exited
  }
  throw new CustosError('dev_hsm_locked', 'the development HSM file is open in another process (or earlier in this one)', 409);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function load(record: KeystoreRecord): Key {
  const secret = new Uint8Array(Buffer.from(record.secret, 'base64'));
  const expected = { 'aes-256': 32, secp256k1: 32, ed25519: 32 }[record.kind];
  if (expected === undefined || secret.length !== expected) {
    throw new CustosError('dev_hsm_file_invalid', `the development HSM file holds a malformed key "${record.label}"`, 500);
  }
  if (record.kind === 'secp256k1') return { record, secret, publicKey: secp256k1.getPublicKey(secret, false) };
  if (record.kind === 'ed25519') return { record, secret, publicKey: ed25519.getPublicKey(secret) };
  return { record, secret };
}

function info(record: KeystoreRecord): HsmKeyInfo {
  return {
    label: record.label,
    id: record.id,
    kind: record.kind,
    extractable: record.extractable,
    sensitive: true,
    neverExtractable: !record.extractable,
    wrapWithTrusted: record.backupable,
  };
}
