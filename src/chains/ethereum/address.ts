/**
 * Ethereum address parsing: `0x` + 40 hex digits, with the EIP-55 mixed-case checksum.
 *
 * All-lowercase and all-uppercase hex carry no checksum and are accepted; mixed case must be exactly
 * the EIP-55 form (keccak-256 of the lowercase hex text decides the case of each letter), otherwise
 * the answer is `address_checksum`: one mistyped letter in a checksummed address is caught.
 * The accepted address is normalised to its EIP-55 form. The network does not change the format.
 *
 * @example
 *   validateEthereumAddress('0xfb6916095ca1df60bb79ce92ce3ea74c37c5d359');
 *   // { ok: true, normalized: '0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359', kind: 'account' }
 */
import { keccak_256 } from '@noble/hashes/sha3.js';
import { CustosError } from '../../core/errors.js';
import type { AddressCheck } from '../address.js';

const HEX40 = /^[0-9a-fA-F]{40}$/;
const ZERO = '0'.repeat(40);

/**
 * EIP-55 checksummed form of `0x` + 40 hex digits in any case.
 * Throws `CustosError('address_format')` for anything else.
 */
export function toChecksumAddress(address: string): string {
  const body = typeof address === 'string' && address.startsWith('0x') ? address.slice(2) : '';
  if (!HEX40.test(body)) {
    throw new CustosError('address_format', 'An Ethereum address is 0x followed by 40 hexadecimal digits.', 422);
  }
  const lower = body.toLowerCase();
  const hash = keccak_256(new TextEncoder().encode(lower));
  let out = '0x';
  for (let i = 0; i < 40; i++) {
    const c = lower[i] as string;
    // Nibble i of the hash: high nibble of byte i/2 for even i, low nibble for odd i.
    const byte = hash[i >> 1] as number;
    const nibble = i % 2 === 0 ? byte >> 4 : byte & 0x0f;
    out += c >= 'a' && nibble >= 8 ? c.toUpperCase() : c;
  }
  return out;
}

/** Validates an Ethereum address; see the module comment for the rules. */
export function validateEthereumAddress(address: string): AddressCheck {
  if (typeof address !== 'string') {
    return { ok: false, code: 'address_format', message: 'The address must be a string.' };
  }
  if (address.length > 42) {
    return {
      ok: false,
      code: 'address_too_long',
      message: `The address is ${address.length} characters long; an Ethereum address has 42.`,
    };
  }
  if (!address.startsWith('0x')) {
    return { ok: false, code: 'address_format', message: 'An Ethereum address starts with a lowercase "0x".' };
  }
  const body = address.slice(2);
  if (!HEX40.test(body)) {
    return {
      ok: false,
      code: 'address_format',
      message: 'An Ethereum address is 0x followed by exactly 40 hexadecimal digits.',
    };
  }
  const checksummed = toChecksumAddress(address);
  const hasLower = /[a-f]/.test(body);
  const hasUpper = /[A-F]/.test(body);
  if (hasLower && hasUpper && address !== checksummed) {
    return {
      ok: false,
      code: 'address_checksum',
      message: 'The mixed-case address does not match its EIP-55 checksum; it was probably mistyped.',
    };
  }
  if (body.toLowerCase() === ZERO) {
    return {
      ok: false,
      code: 'address_zero',
      message: 'The zero address has no owner; funds sent to it are burned.',
    };
  }
  return { ok: true, normalized: checksummed, kind: 'account' };
}
