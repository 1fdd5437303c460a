/**
 * What the risk stage needs to know about a withdrawal beyond the withdrawal itself. The store
 * loads it in a handful of indexed reads; every field is maintained incrementally when a withdrawal
 * is approved or an account setting changes, never recomputed from the whole history.
 *
 * @example
 *   const ctx: RiskContext = {
 *     now: clock.now(), destination: null, similarDestinations: [], history: emptyHistory(),
 *     lastHour: { count: 0, amount: 0n }, balance: 10_000n,
 *     security: { credentialsChangedAt: null, whitelistChangedAt: null }, sanctions: bundledSanctionsIndex(),
 *   };
 */
import type { AmountHistory } from './history.js';
import type { SanctionsIndex } from './sanctions.js';

/**
 * One destination a customer has used or whitelisted, per (customer, chain, normalised address).
 * Maintained: on an approved withdrawal, useCount += 1, firstUsedAt ??= now, lastUsedAt = now;
 * on a whitelist addition, whitelistedAt = now (and the customer's whitelistChangedAt = now);
 * on a whitelist removal, whitelistedAt = null. Also indexed by lookAlikeKey(chain, address).
 */
export interface DestinationRecord {
  address: string; // normalizeAddress(chain, …)
  firstUsedAt: number | null; // ms since epoch of the first approved withdrawal to it
  lastUsedAt: number | null;
  useCount: number; // approved withdrawals to it
  whitelistedAt: number | null; // when it entered the customer's whitelist; null when not whitelisted
}

export interface RiskContext {
  /** The decision time (clock.now() of the orchestrator). */
  now: number;
  /** The customer's record of this very destination (normalised match), or null if never seen. */
  destination: DestinationRecord | null;
  /**
   * The customer's known destinations on this chain that share lookAlikeKey with this one
   * (the store's index on that key); the signal re-checks the likeness itself.
   */
  similarDestinations: DestinationRecord[];
  /** The (customer, asset) history summary (history.ts), as stored. */
  history: AmountHistory;
  /**
   * Approved withdrawals of this customer in this asset in the rolling hour before `now`, excluding
   * this one: the sum of the `risk_1h` window counter (windows.ts in src/policy).
   */
  lastHour: { count: number; amount: bigint };
  /** The account's available balance in the asset, base units; null when unknown. */
  balance: bigint | null;
  /** Latest change of the customer's API credentials (added, rotated, scope raised) and of the whitelist. */
  security: { credentialsChangedAt: number | null; whitelistChangedAt: number | null };
  sanctions: SanctionsIndex;
}
