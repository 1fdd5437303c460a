import { createCipheriv, createDecipheriv, createSecretKey, hkdfSync, randomBytes, type KeyObject } from 'node:crypto';
import { AttestationError } from './errors.js';

const VERSION = 1;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const INFO = new TextEncoder().encode('custos-enclave-seal-v1');

/** Seals and unseals under one key bound to one measurement. */
export interface Sealer {
  seal(plaintext: Uint8Array, aad: Uint8Array): Uint8Array;
  unseal(sealed: Uint8Array, aad: Uint8Array): Uint8Array;
}

/**
 * AES-256-GCM sealing under `HKDF-SHA384(ikm = sealingKey, salt = measurement (PCR0),
 * info = "custos-enclave-seal-v1")`, so code with another measurement cannot unseal what this code
 * sealed even holding the same released key. Blob: `0x01 ‖ nonce (12) ‖ ciphertext ‖ tag (16)`;
 * the version byte and the caller's aad are authenticated. Unseal failures are `enclave_unseal`
 * and say nothing about the key or the plaintext.
 *
 * @example
 *   const s = createSealer(releasedKey, pcr0); const blob = s.seal(share, aad); s.unseal(blob, aad);
 */
export function createSealer(sealingKey: Uint8Array, measurement: Uint8Array, random: (n: number) => Uint8Array = (n) => new Uint8Array(randomBytes(n))): Sealer {
  if (sealingKey.length < 32) throw new TypeError('sealing key must be at least 32 bytes');
  if (measurement.length === 0) throw new TypeError('measurement must not be empty');
  const key: KeyObject = createSecretKey(Buffer.from(hkdfSync('sha384', sealingKey, measurement, INFO, 32)));
  return {
    seal(plaintext, aad) {
      const nonce = random(NONCE_BYTES);
      if (nonce.length !== NONCE_BYTES) throw new TypeError('random source returned the wrong length');
      const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
      cipher.setAAD(header(aad));
      const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
      const out = new Uint8Array(1 + NONCE_BYTES + body.length + TAG_BYTES);
      out[0] = VERSION;
      out.set(nonce, 1);
      out.set(body, 1 + NONCE_BYTES);
      out.set(cipher.getAuthTag(), 1 + NONCE_BYTES + body.length);
      return out;
    },
    unseal(sealed, aad) {
      if (sealed.length < 1 + NONCE_BYTES + TAG_BYTES || sealed[0] !== VERSION) {
        throw new AttestationError('enclave_unseal', 'sealed blob is malformed or of an unknown version');
      }
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(1, 1 + NONCE_BYTES), { authTagLength: TAG_BYTES });
        decipher.setAAD(header(aad));
        decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
        return new Uint8Array(Buffer.concat([decipher.update(sealed.subarray(1 + NONCE_BYTES, sealed.length - TAG_BYTES)), decipher.final()]));
      } catch {
        throw new AttestationError('enclave_unseal', 'sealed blob does not authenticate under this enclave (tampered, other aad, or other measurement)');
      }
    },
  };
}

/** Authenticated data: the format version, then the caller's aad. */
function header(aad: Uint8Array): Uint8Array {
  const h = new Uint8Array(1 + aad.length);
  h[0] = VERSION;
  h.set(aad, 1);
  return h;
}
