/**
 * The development HSM's key file: the records as JSON, sealed with AES-256-GCM under a key derived
 * from a passphrase by scrypt. Key material is never on disk in plaintext. The header (format,
 * notice, scrypt parameters, salt) is the GCM additional data, so changing it breaks the seal.
 * Files are written atomically (temporary file, fsync, rename) with mode 0600.
 *
 * @example
 *   const key = await deriveKeystoreKey(passphrase, header.kdf);
 *   await writeKeystore(path, header, key, records);
 *   const again = await readKeystore(path, passphrase); // throws dev_hsm_passphrase_wrong if wrong
 */
import { createCipheriv, createDecipheriv, randomBytes, scrypt as scryptCb } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { CustosError } from '../core/errors.js';
import type { HsmKeyKind } from './hsm.js';

export const KEYSTORE_FORMAT = 'custos-development-hsm/1';
export const KEYSTORE_NOTICE =
  'development software keystore, not an HSM: keys are decrypted into process memory; use a PKCS#11 HSM in production';
const MAX_FILE = 4 * 1024 * 1024;

export interface KdfParams {
  name: 'scrypt';
  /** CPU/memory cost, a power of two, at least 2^14. */
  N: number;
  r: number;
  p: number;
  /** base64 */
  salt: string;
}

export interface KeystoreHeader {
  format: typeof KEYSTORE_FORMAT;
  notice: string;
  kdf: KdfParams;
}

export interface KeystoreRecord {
  label: string;
  id: string;
  kind: HsmKeyKind;
  /** base64 secret or private key bytes */
  secret: string;
  extractable: boolean;
  backupable: boolean;
}

export const DEFAULT_SCRYPT = { N: 2 ** 15, r: 8, p: 1 } as const;

export function newKeystoreHeader(cost: { N: number; r: number; p: number } = DEFAULT_SCRYPT): KeystoreHeader {
  const kdf: KdfParams = { name: 'scrypt', N: cost.N, r: cost.r, p: cost.p, salt: randomBytes(16).toString('base64') };
  checkKdf(kdf);
  return { format: KEYSTORE_FORMAT, notice: KEYSTORE_NOTICE, kdf };
}

function checkKdf(kdf: KdfParams): void {
  const ok =
    kdf?.name === 'scrypt' &&
    Number.isInteger(kdf.N) && kdf.N >= 2 ** 14 && kdf.N <= 2 ** 20 && (kdf.N & (kdf.N - 1)) === 0 &&
    Number.isInteger(kdf.r) && kdf.r >= 1 && kdf.r <= 32 &&
    Number.isInteger(kdf.p) && kdf.p >= 1 && kdf.p <= 16 &&
    typeof kdf.salt === 'string' && Buffer.from(kdf.salt, 'base64').length >= 16;
  if (!ok) throw new CustosError('dev_hsm_file_invalid', 'the development HSM file has unusable key-derivation parameters', 500);
}

export function deriveKeystoreKey(passphrase: string, kdf: KdfParams): Promise<Uint8Array> {
  checkKdf(kdf);
  if (typeof passphrase !== 'string' || passphrase.length < 8) {
    return Promise.reject(new CustosError('dev_hsm_passphrase_missing', 'the development HSM needs a passphrase of at least 8 characters', 503));
  }
  return new Promise((resolve, reject) => {
    scryptCb(passphrase, Buffer.from(kdf.salt, 'base64'), 32, { N: kdf.N, r: kdf.r, p: kdf.p, maxmem: 256 * kdf.N * kdf.r + 1024 * 1024 }, (err, key) => {
      if (err) reject(new CustosError('dev_hsm_error', 'key derivation failed', 500));
      else resolve(new Uint8Array(key));
    });
  });
}

function aad(header: KeystoreHeader): Buffer {
  return Buffer.from(JSON.stringify({ format: header.format, notice: header.notice, kdf: header.kdf }));
}

/** Seals the records and replaces the file atomically. */
export async function writeKeystore(path: string, header: KeystoreHeader, key: Uint8Array, records: KeystoreRecord[]): Promise<void> {
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(aad(header));
  const plain = Buffer.from(JSON.stringify({ records }));
  const sealed = Buffer.concat([cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
  plain.fill(0);
  const text = JSON.stringify({ ...header, nonce: nonce.toString('base64'), ciphertext: sealed.toString('base64') }, null, 1);
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const fh = await open(tmp, 'wx', 0o600);
  try {
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
}

export interface OpenedKeystore {
  header: KeystoreHeader;
  key: Uint8Array;
  records: KeystoreRecord[];
}

/** Reads and unseals the file; a wrong passphrase or any altered byte gives `dev_hsm_passphrase_wrong`. */
export async function readKeystore(path: string, passphrase: string): Promise<OpenedKeystore> {
  if (!existsSync(path)) throw new CustosError('dev_hsm_file_missing', 'the development HSM file does not exist', 404);
  const text = readFileSync(path);
  if (text.length > MAX_FILE) throw new CustosError('dev_hsm_file_invalid', 'the development HSM file is too large', 500);
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(text.toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new CustosError('dev_hsm_file_invalid', 'the development HSM file is not JSON', 500);
  }
  if (parsed.format !== KEYSTORE_FORMAT || typeof parsed.notice !== 'string' || typeof parsed.nonce !== 'string' || typeof parsed.ciphertext !== 'string') {
    throw new CustosError('dev_hsm_file_invalid', 'the development HSM file is not in the expected format', 500);
  }
  const header: KeystoreHeader = { format: KEYSTORE_FORMAT, notice: parsed.notice, kdf: parsed.kdf as KdfParams };
  const key = await deriveKeystoreKey(passphrase, header.kdf);
  const nonce = Buffer.from(parsed.nonce, 'base64');
  const sealed = Buffer.from(parsed.ciphertext, 'base64');
  if (nonce.length !== 12 || sealed.length < 16) throw new CustosError('dev_hsm_file_invalid', 'the development HSM file is truncated', 500);
  let plain: Buffer;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, nonce);
    decipher.setAAD(aad(header));
    decipher.setAuthTag(sealed.subarray(sealed.length - 16));
    plain = Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - 16)), decipher.final()]);
  } catch {
    throw new CustosError('dev_hsm_passphrase_wrong', 'the development HSM file did not open: wrong passphrase or altered file', 401);
  }
  try {
    const body = JSON.parse(plain.toString('utf8')) as { records?: unknown };
    if (!Array.isArray(body.records)) throw new Error('records');
    return { header, key, records: body.records as KeystoreRecord[] };
  } catch {
    throw new CustosError('dev_hsm_file_invalid', 'the development HSM file content is malformed', 500);
  } finally {
    plain.fill(0);
  }
}
