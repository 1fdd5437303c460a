import { createHash, type webcrypto } from 'node:crypto';
import { Aes256Gcm, CipherSuite, DhkemX25519HkdfSha256, HkdfSha256 } from '@hpke/core';
import { KeyReleaseError } from './key-release-errors.js';

/**
 * The encryption of a released sealing key to the enclave's attested ephemeral key: HPKE (RFC 9180)
 * base mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM, through `@hpke/core` (MIT,
 * hpke-js, checked against the RFC 9180 vectors by its authors and by `key-release-hpke.test.ts`).
 * `info` names the protocol; the AAD is the release transcript (node id and the SHA-256 of the
 * attestation document), so a ciphertext answers exactly one attested request.
 *
 * @example
 *   const { enc, ciphertext } = await sealToAttestedKey(attestedPublicKey, sealingKey, releaseTranscript(nodeId, doc));
 */
export const KEY_RELEASE_SUITE = 'HPKE-base/DHKEM(X25519,HKDF-SHA256)/HKDF-SHA256/AES-256-GCM' as const;
export const X25519_PUBLIC_KEY_BYTES = 32;
const INFO = new TextEncoder().encode('custos key release v1');

const suite = new CipherSuite({ kem: new DhkemX25519HkdfSha256(), kdf: new HkdfSha256(), aead: new Aes256Gcm() });

/** The transcript both sides bind as AAD: domain line, node id, SHA-256 of the attestation document. */
export function releaseTranscript(nodeId: string, document: Uint8Array): Uint8Array {
  const digest = createHash('sha256').update(document).digest('hex');
  return new TextEncoder().encode(`custos-key-release-v1\n${nodeId}\n${digest}`);
}

/** The user data a node's attestation carries for key release: binds the document to its node id. */
export function releaseUserData(nodeId: string): Uint8Array {
  return new TextEncoder().encode(`custos-key-release-v1\nnode=${nodeId}`);
}

/** An ephemeral X25519 key pair for one key release; only the public half leaves the enclave. */
export interface EphemeralKeyPair {
  readonly publicKey: Uint8Array;
  readonly keyPair: webcrypto.CryptoKeyPair;
}

export async function generateEphemeralKeyPair(): Promise<EphemeralKeyPair> {
  const keyPair = await suite.kem.generateKeyPair();
  return { keyPair, publicKey: new Uint8Array(await suite.kem.serializePublicKey(keyPair.publicKey)) };
}

/** Service side: encrypt `secret` to the attested X25519 public key. */
export async function sealToAttestedKey(publicKey: Uint8Array, secret: Uint8Array, aad: Uint8Array): Promise<{ enc: Uint8Array; ciphertext: Uint8Array }> {
  if (publicKey.length !== X25519_PUBLIC_KEY_BYTES) throw new KeyReleaseError('key_release_invalid_request', 'the attested public key must be a 32-byte X25519 key');
  let recipientPublicKey: webcrypto.CryptoKey;
  try {
    recipientPublicKey = await suite.kem.deserializePublicKey(copy(publicKey));
  } catch {
    throw new KeyReleaseError('key_release_invalid_request', 'the attested public key is not a usable X25519 key');
  }
  try {
    const sender = await suite.createSenderContext({ recipientPublicKey, info: copy(INFO) });
    const ciphertext = new Uint8Array(await sender.seal(copy(secret), copy(aad)));
    return { enc: new Uint8Array(sender.enc), ciphertext };
  } catch {
    // A low-order X25519 point gives an all-zero shared secret, which RFC 9180 refuses.
    throw new KeyReleaseError('key_release_invalid_request', 'cannot encrypt to the attested public key');
  }
}

/** Node side: decrypt the released secret with the ephemeral key pair; `key_release_response` if it does not open. */
export async function openReleasedKey(ephemeral: EphemeralKeyPair, enc: Uint8Array, ciphertext: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
  try {
    const recipient = await suite.createRecipientContext({ recipientKey: ephemeral.keyPair, enc: copy(enc), info: copy(INFO) });
    return new Uint8Array(await recipient.open(copy(ciphertext), copy(aad)));
  } catch {
    throw new KeyReleaseError('key_release_response', 'the released key does not decrypt under this request');
  }
}

function copy(bytes: Uint8Array): ArrayBuffer {
  return bytes.slice().buffer;
}
