/**
 * Address poisoning: an attacker sends dust from an address that starts and ends like one the
 * customer uses, hoping the next withdrawal is copied from the history. Two different addresses
 * look alike when their significant parts (without the "0x" / "bc1q" every address shares) agree
 * on the first `prefix` and last `suffix` characters. lookAlikeKey is what the store indexes so
 * that candidates are found in one lookup.
 *
 * @example
 *   looksAlike('ethereum', '0xabcd…1234', '0xabcd…(other)…1234', 4, 4) === true
 *   lookAlikeKey('ethereum', '0xABCD0000…1234', 4, 4) === 'abcd…1234'
 */
import type { Chain } from '../core/chain.js';
import { normalizeAddress, significantPart } from './address.js';

export function lookAlikeKey(chain: Chain, address: string, prefix: number, suffix: number): string {
  const s = significantPart(chain, normalizeAddress(chain, address));
  return `${s.slice(0, prefix)}…${s.slice(Math.max(prefix, s.length - suffix))}`;
}

/** True when a and b are different addresses sharing the first and last characters. */
export function looksAlike(chain: Chain, a: string, b: string, prefix: number, suffix: number): boolean {
  const na = normalizeAddress(chain, a);
  const nb = normalizeAddress(chain, b);
  if (na === nb) return false;
  const sa = significantPart(chain, na);
  const sb = significantPart(chain, nb);
  if (sa.length < prefix + suffix || sb.length < prefix + suffix) return false;
  return sa.slice(0, prefix) === sb.slice(0, prefix) && sa.slice(sa.length - suffix) === sb.slice(sb.length - suffix);
}
