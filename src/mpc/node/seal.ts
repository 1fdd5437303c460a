/**
 * Sealing of a node's secrets at rest (key shares, identity keys): AES-256-GCM under a key derived
 * with scrypt from a passphrase (`CUSTOS_NODE_PASSPHRASE`). This is the DEVELOPMENT DEFAULT until
 * the enclave key release is wired: then the sealing key is released to an attested enclave instead
 * of being derived from a passphrase on the host. Every sealed box is bound (as AEAD associated
 * data) to its node and its label, so boxes cannot be swapped between keys or nodes.
 *
 * @example
 *   const key = deriveSealingKey(passphrase, salt);
 *   const box = seal(key, 'node-1', 'key:treasury', bytes, rng);
 *   const again = unseal(key, 'node-1', 'key:treasury', box);
 */
import { createCipheriv, createDecipheriv, scryptSync } from 'node:crypto';
import { bytesToHex, concatBytes, hexToBytes } from '@noble/hashes/utils.js';
import { CustosError } from '../../core/errors.js';
import type { Rng } from '../protocols/round.js';

export const SEALING_LABEL = 'passphrase-derived (scrypt + AES-256-GCM): DEVELOPMENT DEFAULT until enclave key release is wired';

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
    throw new CustosError('node_unseal_failed', `sealed ${label.split(':')[0]} does not open (wrong passphrase, or the store was altered)`, 500);
  }
}
