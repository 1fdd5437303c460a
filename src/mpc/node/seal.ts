/**
 * Sealing of a node's secrets at rest (key shares, identity keys): AES-256-GCM under a store key.
 * The store key comes from one of two places:
 *
 * - **key release** (what the demo and production use): the node attests from its enclave, the
 *   key-release service checks the attestation against the signed measurement allowlist and
 *   releases the node's sealing key (generated and wrapped in the HSM) encrypted to the enclave;
 *   the store key is HKDF-SHA256 of that released key and the store's salt (`deriveReleasedStoreKey`).
 * - **passphrase** (`CUSTOS_NODE_PASSPHRASE`, scrypt): a DEVELOPMENT FALLBACK for when no
 *   key-release service is configured; the passphrase sits on the host, so nothing is gated on
 *   attestation.
 *
 * Every sealed box is bound (as AEAD associated data) to its node and its label, so boxes cannot
 * be swapped between keys or nodes.
 *
 * @example
 *   const key = deriveReleasedStoreKey(releasedKey, salt);
 *   const box = seal(key, 'node-1', 'key:treasury', bytes, rng);
 *   const again = unseal(key, 'node-1', 'key:treasury', box);
 */
import { createCipheriv, createDecipheriv, hkdfSync, scryptSync } from 'node:crypto';
import { bytesToHex, concatBytes, hexToBytes } from '@noble/hashes/utils.js';
import { CustosError } from '../../core/errors.js';
import type { Rng } from '../protocols/round.js';

/** How a store sealed under a passphrase is described (health, start-up line). */
export const PASSPHRASE_SEALING_LABEL = 'passphrase-derived (scrypt + AES-256-GCM): DEVELOPMENT FALLBACK, no key-release service configured';
/** How a store sealed under a released key is described. */
export const RELEASED_SEALING_LABEL = 'sealing key released by the key-release service after attestation (HSM-wrapped; HKDF + AES-256-GCM)';

const RELEASED_INFO = new TextEncoder().encode('custos/node-store/v1');

/** scrypt cost: N = 2^15, r = 8, p = 1 (about 32 MiB and 0.1 s, once per process start). */
export const SCRYPT = { N: 1 << 15, r: 8, p: 1 } as const;

export interface SealedBox {
  readonly iv: string;
  /** ciphertext with the 16-byte GCM tag appended (hex). */
  readonly ct: string;
}

export function deriveSealingKey(passphrase: string, salt: Uint8Array, cost: { N: number; r: number; p: number } = SCRYPT): Uint8Array {
  if (typeof passphrase !== 'string' || passphrase.length < 8) {
    throw new CustosError('node_bad_passphrase', 'the node passphrase (CUSTOS_NODE_PASSPHRASE) must have at least 8 characters');
  }
  return new Uint8Array(scryptSync(passphrase, salt, 32, { ...cost, maxmem: 128 * cost.N * cost.r * 2 }));
}

/**
 * The store key from a sealing key released after attestation: HKDF-SHA256(ikm = released key,
 * salt = the store's random salt, info = "custos/node-store/v1"), 32 bytes.
 */
export function deriveReleasedStoreKey(releasedKey: Uint8Array, salt: Uint8Array): Uint8Array {
  if (!(releasedKey instanceof Uint8Array) || releasedKey.length < 32) {
    throw new CustosError('node_bad_sealing_key', 'the released sealing key must be at least 32 bytes');
  }
  return new Uint8Array(hkdfSync('sha256', releasedKey, salt, RELEASED_INFO, 32));
}

function aad(node: string, label: string): Uint8Array {
  return new TextEncoder().encode(`custos/node-seal/v1\n${node}\n${label}`);
}

export function seal(key: Uint8Array, node: string, label: string, plaintext: Uint8Array, rng: Rng): SealedBox {
  const iv = rng(12);
  const c = createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(aad(node, label));
  const ct = concatBytes(c.update(plaintext), c.final(), c.getAuthTag());
  return { iv: bytesToHex(iv), ct: bytesToHex(ct) };
}

export function unseal(key: Uint8Array, node: string, label: string, box: SealedBox): Uint8Array {
  try {
    const iv = hexToBytes(box.iv);
    const ct = hexToBytes(box.ct);
    if (iv.length !== 12 || ct.length < 16) throw new Error('shape');
    const d = createDecipheriv('aes-256-gcm', key, iv);
    d.setAAD(aad(node, label));
    d.setAuthTag(ct.subarray(ct.length - 16));
    return concatBytes(d.update(ct.subarray(0, ct.length - 16)), d.final());
  } catch {
    throw new CustosError('node_unseal_failed', `sealed ${label.split(':')[0]} does not open (wrong passphrase or released key, or the store was altered)`, 500);
  }
}
