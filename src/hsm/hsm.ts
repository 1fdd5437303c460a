/**
 * The `Hsm` interface: the one way custos uses root keys. Two backends implement it:
 * `Pkcs11Hsm` (a real PKCS#11 token, tested on SoftHSM2) and `DevelopmentHsm` (software keys in an
 * encrypted file, for the embedded demo: development, not an HSM).
 *
 * Keys are named by label. Key kinds:
 * - `aes-256`: a key-encryption key (root KEK) that only wraps and unwraps, RFC 3394/5649.
 * - `secp256k1`: ECDSA over a 32-byte digest hashed by the caller, low-S, with recovery id.
 * - `ed25519`: pure EdDSA (RFC 8032) over the message.
 *
 * Trust decision (sealing keys): every node's sealing key is stored in the database wrapped under
 * the root KEK. `unwrapSecret` returns the plain sealing key to its caller, the key-release service,
 * which encrypts it at once to an attested enclave key. The KEK itself never leaves the HSM; a
 * sealing key does, by design, and only through that service.
 *
 * @example
 *   const hsm: Hsm = await Pkcs11Hsm.open(pkcs11ConfigFromEnv(process.env));
 *   await hsm.generateAesKek('root-kek');
 *   const blob = await hsm.generateWrappedSecret('root-kek', 32); // store blob in the database
 *   const sealingKey = await hsm.unwrapSecret('root-kek', blob);
 *   await hsm.close();
 */
import { CustosError } from '../core/errors.js';

export type HsmKeyKind = 'aes-256' | 'secp256k1' | 'ed25519';

/** RFC 3394 key wrap (`aes-kw`) or RFC 5649 key wrap with padding (`aes-kwp`). */
export type WrapMechanism = 'aes-kw' | 'aes-kwp';

export type HsmBackend = 'pkcs11' | 'development';

/** What the backend reports about a key; for PKCS#11 these are the token's own attribute values. */
export interface HsmKeyInfo {
  label: string;
  /** CKA_ID as lowercase hex. */
  id: string;
  kind: HsmKeyKind;
  /** CKA_EXTRACTABLE of the secret or private key. */
  extractable: boolean;
  /** CKA_SENSITIVE of the secret or private key. */
  sensitive: boolean;
  /** CKA_NEVER_EXTRACTABLE: true when the key was never extractable since it was made. */
  neverExtractable: boolean;
  /** CKA_WRAP_WITH_TRUSTED: only a key the security officer marked trusted may wrap it (backup). */
  wrapWithTrusted: boolean;
}

export interface GenerateKeyOptions {
  /** CKA_ID; random 16 bytes when absent. */
  id?: Uint8Array;
  /**
   * AES KEK only. false (default): CKA_EXTRACTABLE false, the key can never leave the token.
   * true: CKA_EXTRACTABLE true with CKA_WRAP_WITH_TRUSTED and CKA_SENSITIVE, so only a wrapping key
   * that the security officer installed as trusted can export it (backup to a second HSM).
   */
  backupable?: boolean;
}

/** ECDSA secp256k1 signature: 64 bytes r||s with s normalised to the lower half, and its recovery id. */
export interface Secp256k1Signature {
  signature: Uint8Array;
  recovery: number;
}

export interface Hsm {
  readonly backend: HsmBackend;
  /** Human description, shown by `custos hsm status` and in logs (never contains a PIN). */
  readonly description: string;

  generateAesKek(label: string, options?: GenerateKeyOptions): Promise<HsmKeyInfo>;
  generateSecp256k1(label: string, options?: GenerateKeyOptions): Promise<HsmKeyInfo>;
  generateEd25519(label: string, options?: GenerateKeyOptions): Promise<HsmKeyInfo>;
  findKey(label: string): Promise<HsmKeyInfo | undefined>;
  /** By CKA_ID (the first match when several keys share an id). */
  findKeyById(id: Uint8Array): Promise<HsmKeyInfo | undefined>;
  listKeys(): Promise<HsmKeyInfo[]>;
  deleteKey(label: string): Promise<void>;

  /** secp256k1: 65-byte uncompressed (default) or 33-byte compressed point; ed25519: 32 bytes. */
  publicKey(label: string, format?: 'uncompressed' | 'compressed'): Promise<Uint8Array>;
  /** ECDSA over a 32-byte digest the caller computed; low-S; verified before it is returned. */
  signSecp256k1Digest(label: string, digest: Uint8Array): Promise<Secp256k1Signature>;
  /** Pure Ed25519 over the message; verified before it is returned. */
  signEd25519(label: string, message: Uint8Array): Promise<Uint8Array>;

  /** Wraps secret bytes (16..64 bytes) under the KEK. */
  wrapSecret(kekLabel: string, secret: Uint8Array, mechanism?: WrapMechanism): Promise<Uint8Array>;
  /** Generates a random secret inside the HSM and returns it wrapped under the KEK only. */
  generateWrappedSecret(kekLabel: string, length: number, mechanism?: WrapMechanism): Promise<Uint8Array>;
  /** Unwraps a blob made by wrapSecret/generateWrappedSecret and returns the secret bytes. */
  unwrapSecret(kekLabel: string, wrapped: Uint8Array, mechanism?: WrapMechanism): Promise<Uint8Array>;

  close(): Promise<void>;
}

/** Labels are printable ASCII, 1..64 characters, no leading space (they become PKCS#11 CKA_LABEL). */
export function assertKeyLabel(label: string): void {
  if (typeof label !== 'string' || !/^[\x21-\x7e][\x20-\x7e]{0,63}$/.test(label)) {
    throw new CustosError('hsm_invalid_input', 'a key label is 1 to 64 printable ASCII characters', 400);
  }
}

export const SECRET_MIN_BYTES = 16;
export const SECRET_MAX_BYTES = 64;

/** Secrets we wrap are keys: 16..64 bytes. */
export function assertSecretLength(length: number, mechanism: WrapMechanism): void {
  if (!Number.isInteger(length) || length < SECRET_MIN_BYTES || length > SECRET_MAX_BYTES) {
    throw new CustosError('hsm_invalid_input', `a wrapped secret is ${SECRET_MIN_BYTES} to ${SECRET_MAX_BYTES} bytes`, 400);
  }
  if (mechanism === 'aes-kw' && length % 8 !== 0) {
    throw new CustosError('hsm_invalid_input', 'RFC 3394 key wrap needs a multiple of 8 bytes; use aes-kwp', 400);
  }
}

export function assertDigest32(digest: Uint8Array): void {
  if (!(digest instanceof Uint8Array) || digest.length !== 32) {
    throw new CustosError('hsm_invalid_input', 'an ECDSA digest is exactly 32 bytes (hash outside the HSM)', 400);
  }
}

export const MAX_EDDSA_MESSAGE = 64 * 1024;

export function assertEddsaMessage(message: Uint8Array): void {
  if (!(message instanceof Uint8Array) || message.length > MAX_EDDSA_MESSAGE) {
    throw new CustosError('hsm_invalid_input', `an Ed25519 message is at most ${MAX_EDDSA_MESSAGE} bytes`, 400);
  }
}
