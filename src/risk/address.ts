/**
 * One spelling per destination, so that sanctions lists, a customer's known destinations and
 * look-alike checks compare like with like. Ethereum hex is case-insensitive (EIP-55 case is only
 * a checksum), bech32 is case-insensitive, base58 (Bitcoin legacy, Solana) is case-sensitive.
 *
 * @example
 *   normalizeAddress('ethereum', '0xAbC…') === '0xabc…'
 *   normalizeAddress('bitcoin', 'BC1QXY…') === 'bc1qxy…'
 */
import type { Chain } from '../core/chain.js';

const BECH32_PREFIX = /^(bc1|tb1|bcrt1)/i;

export function normalizeAddress(chain: Chain, address: string): string {
  switch (chain) {
    case 'ethereum':
      return address.toLowerCase();
    case 'bitcoin':
      return BECH32_PREFIX.test(address) ? address.toLowerCase() : address;
    case 'solana':
      return address;
  }
}

/**
 * The part of an address a person reads: without the fixed prefix every address of that kind
 * shares ("0x", "bc1q", "bc1p"), which an attacker gets for free.
 */
export function significantPart(chain: Chain, normalized: string): string {
  if (chain === 'ethereum' && normalized.startsWith('0x')) return normalized.slice(2);
  if (chain === 'bitcoin') {
    const m = /^(bc1|tb1|bcrt1)[a-z0-9]/.exec(normalized);
    if (m) return normalized.slice(m[0].length);
  }
  return normalized;
}
