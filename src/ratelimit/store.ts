/**
 * The one interface every rate-limit store implements. `check` is a single atomic operation over
 * several keys (e.g. the credential and its customer): blacklist test, refill, all-or-nothing
 * consumption, refusal counting and blacklisting happen together, so concurrent checks (also from
 * several gateway instances sharing Redis) can never overspend a bucket.
 *
 * @example
 *   const r = await store.check(['cred:k1', 'cust:c9'], [credLimit, custLimit], 1, clock.now());
 *   if (!r.allowed) reply.code(429).header('retry-after', retryAfterSeconds(r));
 */
import type { BucketSpec } from './bucket.js';
import type { BlacklistEntry, BlacklistPolicy } from './blacklist.js';
import { CustosError } from '../core/errors.js';

/** The limit applied to one key: its buckets and, optionally, a blacklist policy. */
export interface KeyLimit {
  readonly buckets: readonly BucketSpec[];
  /** null: refusals never blacklist this key. */
  readonly blacklist: BlacklistPolicy | null;
}

export type CheckReason = 'ok' | 'limited' | 'blacklisted' | 'store_unavailable';

export interface CheckResult {
  readonly allowed: boolean;
  readonly reason: CheckReason;
  /** Whole tokens left per bucket after this check, flattened in (key, bucket) order. */
  readonly remaining: readonly number[];
  /** 0 when allowed; otherwise ms until a retry can pass (end of the cooling period if blacklisted). */
  readonly retryAfterMs: number;
  /** ms until every bucket of every key is full again. */
  readonly resetMs: number;
  /** The time the store used (Redis `TIME` for the Redis store); events carry it. */
  readonly now: number;
  /** Index into `keys` of the key that refused (blacklisted or first empty bucket), -1 if allowed. */
  readonly deniedKey: number;
  /** Entries this check created (the keys just blacklisted). */
  readonly blacklisted: readonly BlacklistEntry[];
  /** Entries whose cooling period was found over during this check (lazy re-enable). */
  readonly reenabled: readonly BlacklistEntry[];
}

export interface RateLimitStore {
  /** Atomic check; `limits[i]` applies to `keys[i]`. */
  check(keys: readonly string[], limits: readonly KeyLimit[], cost: number, now: number): CheckResult | Promise<CheckResult>;
  /** Ends a cooling period early; returns the entry it ended, or null if the key was not blacklisted. */
  lift(key: string, now: number): Promise<BlacklistEntry | null>;
  /** Removes and returns entries whose cooling period is over (each is returned exactly once). */
  sweep(now: number): Promise<BlacklistEntry[]>;
  /** Active entries (cooling period not over at `now`). */
  blacklisted(now: number): Promise<BlacklistEntry[]>;
  close(): Promise<void>;
}

export const NO_ENTRIES: readonly BlacklistEntry[] = Object.freeze([]);

/** The store could not answer (Redis down, timeout, memory store full). Carries no secrets. */
export class StoreUnavailableError extends CustosError {
  constructor(message: string) {
    super('ratelimit_store_unavailable', message, 503);
    this.name = 'StoreUnavailableError';
  }
}

/** Checks the key list against the limit list and the shared input rules; throws on misuse. */
export function assertKeys(keys: readonly string[], limits: readonly KeyLimit[]): void {
  if (keys.length === 0 || keys.length !== limits.length) {
    throw new CustosError('ratelimit_bad_keys', 'one limit per key, at least one key', 500);
  }
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    if (typeof k !== 'string' || k.length === 0 || k.length > 256) throw new CustosError('ratelimit_bad_keys', 'keys must be 1..256 characters', 500);
    for (let j = 0; j < i; j++) if (keys[j] === k) throw new CustosError('ratelimit_bad_keys', 'a key may appear once per check', 500);
  }
}
