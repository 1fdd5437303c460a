import { createCipheriv, createDecipheriv, createSecretKey, hkdfSync, randomBytes, type KeyObject } from 'node:crypto';
import type { DevelopmentAttester } from './development-attester.js';
import type { Enclave } from './enclave.js';
import { AttestationError } from './errors.js';

const VERSION = 1;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const INFO = new TextEncoder().encode('custos-enclave-seal-v1');

export interface DevelopmentEnclaveOptions {
  attester: DevelopmentAttester;
  /**
   * At least 32 secret bytes: the node's sealing key as released to it by the key-release service
   * after attestation. The enclave derives its AES key from it and its measurement (PCR0), so code
   * with another measurement cannot unseal what this code sealed, even holding the same key.
   */
  sealingKey: Uint8Array;
  /** Randomness for GCM nonces (injected for tests; default node:crypto randomBytes). */
  random?: (n: number) => Uint8Array;
}

/**
 * Development enclave runtime: attestation through `DevelopmentAttester`, sealing with AES-256-GCM
 * under `HKDF-SHA384(ikm = sealingKey, salt = PCR0, info = "custos-enclave-seal-v1")`.
 * Sealed blob: `0x01 ‖ nonce (12) ‖ ciphertext ‖ tag (16)`; the version byte and the caller's
 * aad are authenticated. What it does not protect: the host's root user can read this process's
 * memory, including the derived key; only the Nitro runtime closes that.
 *
 * @example
 *   const enclave = new DevelopmentEnclave({ attester, sealingKey: releasedKey });
 *   const blob = await enclave.seal(share, aad); await enclave.unseal(blob, aad);
 */
export class DevelopmentEnclave implements Enclave {
  readonly runtime = 'development' as const;
  private readonly key: KeyObject;
  private readonly random: (n: number) => Uint8Array;

  constructor(private readonly options: DevelopmentEnclaveOptions) {
    if (options.sealingKey.length < 32) throw new TypeError('sealing key must be at least 32 bytes');
    const measurement = options.attester.pcrs.get(0)!;
    this.key = createSecretKey(Buffer.from(hkdfSync('sha384', options.sealingKey, measurement, INFO, 32)));
    this.random = options.random ?? ((n) => new Uint8Array(randomBytes(n)));
  }

  async attest(userData: Uint8Array | undefined, publicKey: Uint8Array | undefined, nonce: Uint8Array | undefined): Promise<Uint8Array> {
    return this.options.attester.attest({
      ...(userData !== undefined ? { userData } : {}),
      ...(publicKey !== undefined ? { publicKey } : {}),
      ...(nonce !== undefined ? { nonce } : {}),
    });
  }

  async seal(plaintext: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
    const nonce = this.random(NONCE_BYTES);
    if (nonce.length !== NONCE_BYTES) throw new TypeError('random source returned the wrong length');
    const cipher = createCipheriv('aes-256-gcm', this.key, nonce, { authTagLength: TAG_BYTES });
    cipher.setAAD(header(aad));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    const out = new Uint8Array(1 + NONCE_BYTES + body.length + TAG_BYTES);
    out[0] = VERSION;
    out.set(nonce, 1);
    out.set(body, 1 + NONCE_BYTES);
    out.set(cipher.getAuthTag(), 1 + NONCE_BYTES + body.length);
    return out;
  }

  async unseal(sealed: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
    if (sealed.length < 1 + NONCE_BYTES + TAG_BYTES || sealed[0] !== VERSION) {
      throw new AttestationError('enclave_unseal', 'sealed blob is malformed or of an unknown version');
    }
    const nonce = sealed.subarray(1, 1 + NONCE_BYTES);
    const body = sealed.subarray(1 + NONCE_BYTES, sealed.length - TAG_BYTES);
    const tag = sealed.subarray(sealed.length - TAG_BYTES);
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, nonce, { authTagLength: TAG_BYTES });
      decipher.setAAD(header(aad));
      decipher.setAuthTag(tag);
      return new Uint8Array(Buffer.concat([decipher.update(body), decipher.final()]));
    } catch {
      throw new AttestationError('enclave_unseal', 'sealed blob does not authenticate under this enclave (tampered, other aad, or other measurement)');
    }
  }
}

/** Authenticated data: the format version, then the caller's aad. */
function header(aad: Uint8Array): Uint8Array {
  const h = new Uint8Array(1 + aad.length);
  h[0] = VERSION;
  h.set(aad, 1);
  return h;
}
