/**
 * Solana address parsing: base58 (no checksum) of exactly 32 bytes that must be a usable Ed25519
 * public key, so that a withdrawal only goes to an address some private key can control.
 *
 * - The bytes must decompress to a curve point under RFC 8032 rules (`ed25519.Point.fromBytes`
 *   without ZIP-215): program-derived addresses (PDAs) are off the curve by construction and are
 *   refused with `address_not_on_curve`; so are non-canonical encodings (y >= p, or x = 0 with the
 *   sign bit set), which no key generator produces.
 * - Points of small order (the identity, and the all-zero bytes of the System Program id
 *   `11111111111111111111111111111111`, which decode to the order-4 point (sqrt(-1), 0)) are on the
 *   curve but are no key's public key: refused with `address_small_order`.
 * - Base58 has no checksum: a typo that still decodes to an on-curve point cannot be detected here.
 * - The format is the same on mainnet, testnet, devnet and a local validator (`regtest`).
 * - The text must be the canonical base58 of its bytes (re-encoding gives the same string).
 *
 * @example
 *   validateSolanaAddress('5oNDL3swdJJF1g9DzJiZ4ynHXgszjAEpUkxVYejchzrY');
 *   // { ok: true, normalized: '5oNDL3swdJJF1g9DzJiZ4ynHXgszjAEpUkxVYejchzrY', kind: 'ed25519_pubkey' }
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { base58 } from '@scure/base';
import { CustosError } from '../../core/errors.js';
import type { AddressCheck } from '../address.js';

const BASE58_ALPHABET = /^[1-9A-HJ-NP-Za-km-z]+$/;

export type SolanaDecodeResult = { ok: true; bytes: Uint8Array } | { ok: false; code: string; message: string };

/** Decodes and checks a Solana address; never throws. */
export function decodeSolanaAddress(address: string): SolanaDecodeResult {
  if (typeof address !== 'string') return { ok: false, code: 'address_format', message: 'The address must be a string.' };
  if (address.length === 0) return { ok: false, code: 'address_empty', message: 'The address is empty.' };
  if (address.length > 44) {
    return {
      ok: false,
      code: 'address_too_long',
      message: `The address is ${address.length} characters long; a Solana address has at most 44.`,
    };
  }
  if (!BASE58_ALPHABET.test(address)) {
    return {
      ok: false,
      code: 'address_format',
      message: 'A Solana address uses only base58 characters (no 0, O, I or l).',
    };
  }
  const bytes = base58.decode(address);
  if (bytes.length !== 32) {
    return {
      ok: false,
      code: 'address_format',
      message: `A Solana address encodes 32 bytes; this one encodes ${bytes.length}.`,
    };
  }
  if (base58.encode(bytes) !== address) {
    return { ok: false, code: 'address_format', message: 'The address is not in canonical base58 form.' };
  }
  let failure = curveChecks.get(address);
  if (failure === undefined) {
    failure = curveCheck(bytes);
    if (curveChecks.size >= CURVE_CACHE_MAX) curveChecks.clear();
    curveChecks.set(address, failure);
  }
  return failure ?? { ok: true, bytes };
}

/**
 * Point decompression costs a field square root (about 0.1 ms), and withdrawals go to the same
 * destinations again and again: the verdict per canonical address is remembered (bounded).
 */
const curveChecks = new Map<string, { ok: false; code: string; message: string } | null>();
const CURVE_CACHE_MAX = 50_000;

function curveCheck(bytes: Uint8Array): { ok: false; code: string; message: string } | null {
  let point;
  try {
    point = ed25519.Point.fromBytes(bytes, false);
  } catch {
    return {
      ok: false,
      code: 'address_not_on_curve',
      message:
        'The address is not an Ed25519 public key (it is off the curve, e.g. a program-derived address); ' +
        'no wallet can sign for it.',
    };
  }
  if (point.isSmallOrder()) {
    return {
      ok: false,
      code: 'address_small_order',
      message: 'The address is a small-order curve point (such as a program id of all zero bytes); no private key controls it.',
    };
  }
  return null;
}

/** Validates a Solana address; see the module comment for the rules. */
export function validateSolanaAddress(address: string): AddressCheck {
  const r = decodeSolanaAddress(address);
  return r.ok ? { ok: true, normalized: address, kind: 'ed25519_pubkey' } : r;
}

/** The 32 public-key bytes of a valid address; throws `CustosError` with the validation code otherwise. */
export function solanaAddressBytes(address: string): Uint8Array {
  const r = decodeSolanaAddress(address);
  if (!r.ok) throw new CustosError(r.code, r.message, 422);
  return r.bytes;
}
