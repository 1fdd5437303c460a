/**
 * Incremental upkeep of a customer's DestinationRecord (context.ts): the store calls these in the
 * transaction that approves a withdrawal or changes the whitelist, and saves the result together
 * with its lookAlikeKey. Nothing is recomputed from history.
 *
 * @example
 *   const rec = recordDestinationUse(row ?? null, 'ethereum', withdrawal.to, clock.now());
 *   // upsert rec; index lookAlikeKey('ethereum', rec.address, params.lookAlikePrefix, params.lookAlikeSuffix)
 */
import type { Chain } from '../core/chain.js';
import { CustosError } from '../core/errors.js';
import { normalizeAddress } from './address.js';
import type { DestinationRecord } from './context.js';

function base(rec: DestinationRecord | null, chain: Chain, address: string): DestinationRecord {
  const normalized = normalizeAddress(chain, address);
  if (rec && rec.address !== normalized) throw new CustosError('destination_mismatch', 'the record belongs to another destination', 500);
  return rec ?? { address: normalized, firstUsedAt: null, lastUsedAt: null, useCount: 0, whitelistedAt: null };
}

/** After an approved withdrawal to this destination. */
export function recordDestinationUse(rec: DestinationRecord | null, chain: Chain, address: string, now: number): DestinationRecord {
  const r = base(rec, chain, address);
  return { ...r, firstUsedAt: r.firstUsedAt ?? now, lastUsedAt: now, useCount: r.useCount + 1 };
}

/** When the customer adds it to the whitelist (re-adding restarts the cooling period). */
export function recordWhitelistAdd(rec: DestinationRecord | null, chain: Chain, address: string, now: number): DestinationRecord {
  return { ...base(rec, chain, address), whitelistedAt: now };
}

export function recordWhitelistRemove(rec: DestinationRecord): DestinationRecord {
  return { ...rec, whitelistedAt: null };
}
