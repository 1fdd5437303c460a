/**
 * Cooling-period blacklist: policy, its validation, and the pure rules every store applies
 * (the memory store calls these functions; the Redis Lua script mirrors them line for line, and
 * one contract test runs against both).
 *
 * A key (credential, customer or source address) that keeps exceeding its limit is blacklisted:
 * more than `tolerance` refusals within `toleranceWindowMs` start a cooling period of
 * `coolingMs` (5 to 10 minutes). Requests meanwhile are refused with a retry-after and counted.
 * The entry always has an expiry, so nothing is stuck forever; it ends by itself (reported by the
 * store's `sweep(now)` or lazily by the next check), or early by an admin `lift`. A repeat offender
 * (another blacklisting within `offenceWindowMs` of the previous one) gets
 * `coolingMs * factor^(offences - 1)`, capped at `maxCoolingMs`.
 *
 * @example
 *   const policy = blacklistPolicy({ coolingMs: 6 * 60_000 });
 *   coolingPeriodMs(policy, 3); // 24 minutes (6, 12, 24 ...), never above policy.maxCoolingMs
 */
import { CustosError } from '../core/errors.js';

export interface BlacklistPolicy {
  /** Base cooling period, 5 to 10 minutes. */
  readonly coolingMs: number;
  /** Refusals tolerated within `toleranceWindowMs` before blacklisting (0: the first refusal). */
  readonly tolerance: number;
  readonly toleranceWindowMs: number;
  /** Multiplier per repeat offence (1 disables escalation). */
  readonly factor: number;
  /** Cap of an escalated cooling period. */
  readonly maxCoolingMs: number;
  /** A blacklisting within this time after the previous one counts as a repeat offence. */
  readonly offenceWindowMs: number;
}

/** One blacklisted key as stores report it. All times are ms on the store's clock. */
export interface BlacklistEntry {
  readonly key: string;
  /** When the cooling period started. */
  readonly since: number;
  /** When the key is re-enabled by itself. Always set. */
  readonly until: number;
  /** Blacklistings of this key within the offence window, this one included. */
  readonly offences: number;
  /** Requests refused while blacklisted (so far). */
  readonly blocked: number;
}

export const MIN_COOLING_MS = 5 * 60_000;
export const MAX_BASE_COOLING_MS = 10 * 60_000;
export const MAX_ESCALATED_COOLING_MS = 24 * 3_600_000;

export const DEFAULT_BLACKLIST_POLICY: BlacklistPolicy = Object.freeze({
  coolingMs: 5 * 60_000,
  tolerance: 0,
  toleranceWindowMs: 60_000,
  factor: 2,
  maxCoolingMs: 60 * 60_000,
  offenceWindowMs: 24 * 3_600_000,
});

/** Builds a validated policy from defaults and overrides; throws `ratelimit_config_invalid`. */
export function blacklistPolicy(overrides: Partial<BlacklistPolicy> = {}): BlacklistPolicy {
  const p = { ...DEFAULT_BLACKLIST_POLICY, ...overrides };
  const bad = (why: string): never => {
    throw new CustosError('ratelimit_config_invalid', `blacklist policy: ${why}`, 500);
  };
  const int = (v: number) => Number.isSafeInteger(v);
  if (!int(p.coolingMs) || p.coolingMs < MIN_COOLING_MS || p.coolingMs > MAX_BASE_COOLING_MS) bad('coolingMs must be between 5 and 10 minutes');
  if (!int(p.tolerance) || p.tolerance < 0 || p.tolerance > 1_000_000) bad('tolerance must be an integer in 0..1000000');
  if (!int(p.toleranceWindowMs) || p.toleranceWindowMs < 1 || p.toleranceWindowMs > 3_600_000) bad('toleranceWindowMs must be in 1 ms..1 h');
  if (!Number.isFinite(p.factor) || p.factor < 1 || p.factor > 10) bad('factor must be in 1..10');
  if (!int(p.maxCoolingMs) || p.maxCoolingMs < p.coolingMs || p.maxCoolingMs > MAX_ESCALATED_COOLING_MS) bad('maxCoolingMs must be between coolingMs and 24 h');
  if (!int(p.offenceWindowMs) || p.offenceWindowMs < 0 || p.offenceWindowMs > 7 * 86_400_000) bad('offenceWindowMs must be in 0..7 days');
  return Object.freeze(p);
}

/** Cooling period for the `offences`-th blacklisting (1 = first). */
export function coolingPeriodMs(policy: BlacklistPolicy, offences: number): number {
  const n = offences < 1 ? 0 : Math.min(offences - 1, 64);
  const ms = policy.coolingMs * Math.pow(policy.factor, n);
  return Math.floor(Math.min(ms, policy.maxCoolingMs));
}

/** Offence number of a blacklisting at `now`, given the previous count and time of the last one. */
export function nextOffences(policy: BlacklistPolicy, previous: number, lastOffenceAt: number, now: number): number {
  if (previous > 0 && now >= lastOffenceAt && now - lastOffenceAt <= policy.offenceWindowMs) return previous + 1;
  return 1;
}

/**
 * Refusal bookkeeping: returns the new refusal count within the tolerance window. `windowStart`
 * is where the current window began; a window older than `toleranceWindowMs` (or in the future,
 * after a clock jump) starts afresh at `now`. The caller blacklists when the count exceeds
 * `policy.tolerance`.
 */
export function countRefusal(policy: BlacklistPolicy, count: number, windowStart: number, now: number): { count: number; windowStart: number } {
  if (!(count > 0) || now < windowStart || now - windowStart > policy.toleranceWindowMs) return { count: 1, windowStart: now };
  return { count: count + 1, windowStart };
}

/** How long a key stays in the store after its last blacklisting, so escalation can see it. */
export function offenceMemoryMs(policy: BlacklistPolicy): number {
  return Math.max(policy.offenceWindowMs, policy.maxCoolingMs);
}
