/**
 * Token-bucket arithmetic, pure and allocation-free on the hot path.
 *
 * A bucket holds at most `capacity` tokens and refills continuously at `capacity / windowMs`
 * tokens per millisecond (so "100 per minute" is `{ capacity: 100, windowMs: 60_000 }` and, unlike
 * a fixed window, a request refused now passes again as soon as enough fractional tokens have
 * accrued). A check over several buckets is all-or-nothing: it passes only when every bucket holds
 * `cost` tokens, and then takes `cost` from each.
 *
 * Clock jumps: time is whatever the caller injects. A backwards jump never mints tokens: nothing is
 * added until the clock passes the last time seen again; if the jump is larger than the bucket's
 * own refill time (`windowMs`), waiting for the clock to catch up would stall the bucket for longer
 * than it could ever matter, so the bucket re-bases on the new time with its tokens unchanged. A
 * huge forward jump fills the bucket to capacity and no further.
 *
 * @example
 *   const specs = [bucket('withdraw.burst', 10, 1000, 0), bucket('withdraw.sustained', 100, 60_000, 1)];
 *   const states = specs.map((s) => fullState(s, 0));
 *   consumeBuckets(states, specs, 1, 0); // { allowed: true, remaining: [9, 99], retryAfterMs: 0, resetMs: 600 }
 */
import { CustosError } from '../core/errors.js';

export interface BucketSpec {
  /** Short name, e.g. `withdraw.burst`; appears in headers and the admin view. */
  readonly name: string;
  /** Largest burst: tokens in a full bucket. Positive integer. */
  readonly capacity: number;
  /** Time to refill an empty bucket completely, in ms; the refill rate is `capacity / windowMs`. */
  readonly windowMs: number;
  /** Position of this bucket's state inside its key (small integer, stable across restarts). */
  readonly slot: number;
}

export interface BucketState {
  tokens: number;
  updatedAt: number;
}

export interface BucketCheck {
  allowed: boolean;
  /** Whole tokens left in each bucket after this check, in spec order. */
  remaining: number[];
  /** 0 when allowed; otherwise ms until every bucket holds `cost` tokens again. */
  retryAfterMs: number;
  /** ms until every bucket is full again. */
  resetMs: number;
}

/** Tolerance for floating-point drift in the refill product. */
export const TOKEN_EPSILON = 1e-9;
/** Most bucket slots one key may hold. */
export const MAX_SLOTS = 8;

/** Validates a bucket spec; throws `ratelimit_config_invalid`. */
export function validateBucketSpec(spec: BucketSpec): BucketSpec {
  const bad = (why: string): never => {
    throw new CustosError('ratelimit_config_invalid', `bucket ${JSON.stringify(spec.name)}: ${why}`, 500);
  };
  if (typeof spec.name !== 'string' || !/^[a-z][a-z0-9_.-]{0,63}$/.test(spec.name)) bad('name must be a short lowercase identifier');
  if (!Number.isInteger(spec.capacity) || spec.capacity < 1 || spec.capacity > 1_000_000_000) bad('capacity must be an integer in 1..1e9');
  if (!Number.isInteger(spec.windowMs) || spec.windowMs < 1 || spec.windowMs > 86_400_000) bad('windowMs must be an integer in 1..86400000');
  if (!Number.isInteger(spec.slot) || spec.slot < 0 || spec.slot >= MAX_SLOTS) bad(`slot must be an integer in 0..${MAX_SLOTS - 1}`);
  return spec;
}

/** Tokens in the bucket at `now`, given `tokens` at `updatedAt` (see the clock-jump rules above). */
export function refilledTokens(tokens: number, updatedAt: number, capacity: number, windowMs: number, now: number): number {
  const elapsed = now - updatedAt;
  if (!(elapsed > 0)) return tokens; // backwards jump or same instant: nothing accrues
  const t = tokens + (elapsed * capacity) / windowMs;
  return t >= capacity ? capacity : t;
}

/** The bucket's new reference time after a check at `now`. */
export function advancedTime(updatedAt: number, windowMs: number, now: number): number {
  if (now >= updatedAt) return now;
  return updatedAt - now > windowMs ? now : updatedAt;
}

/** Whole ms until `need` tokens are present, from `tokens` now. */
export function msUntil(tokens: number, need: number, capacity: number, windowMs: number): number {
  const missing = need - tokens;
  if (missing <= TOKEN_EPSILON) return 0;
  return Math.ceil((missing * windowMs) / capacity - TOKEN_EPSILON);
}

/** Throws unless `now` and `cost` are usable for every spec. */
export function assertCheckInput(specs: readonly BucketSpec[], cost: number, now: number): void {
  if (!Number.isFinite(now)) throw new CustosError('ratelimit_bad_time', 'check time must be a finite number of ms', 500);
  if (!(cost >= 0) || !Number.isFinite(cost)) throw new CustosError('ratelimit_bad_cost', 'cost must be a finite number >= 0', 500);
  for (const s of specs) {
    if (cost > s.capacity) {
      throw new CustosError('ratelimit_bad_cost', `cost ${cost} exceeds capacity ${s.capacity} of bucket ${s.name}: it could never pass`, 500);
    }
  }
}

/** A full bucket as of `now`. */
export function fullState(spec: BucketSpec, now: number): BucketState {
  return { tokens: spec.capacity, updatedAt: now };
}

/**
 * Atomic check over several buckets: mutates `states` (one per spec) only when allowed, and
 * always advances their reference time.
 */
export function consumeBuckets(states: BucketState[], specs: readonly BucketSpec[], cost: number, now: number): BucketCheck {
  assertCheckInput(specs, cost, now);
  if (states.length !== specs.length) throw new CustosError('ratelimit_bad_state', 'one state per bucket spec is required', 500);
  let allowed = true;
  let retryAfterMs = 0;
  const current: number[] = [];
  for (let i = 0; i < specs.length; i++) {
    const s = specs[i]!;
    const st = states[i]!;
    const t = refilledTokens(st.tokens, st.updatedAt, s.capacity, s.windowMs, now);
    current.push(t);
    st.tokens = t;
    st.updatedAt = advancedTime(st.updatedAt, s.windowMs, now);
    if (t + TOKEN_EPSILON < cost) {
      allowed = false;
      retryAfterMs = Math.max(retryAfterMs, msUntil(t, cost, s.capacity, s.windowMs));
    }
  }
  const remaining: number[] = [];
  let resetMs = 0;
  for (let i = 0; i < specs.length; i++) {
    const s = specs[i]!;
    const st = states[i]!;
    if (allowed) st.tokens = Math.max(0, current[i]! - cost);
    remaining.push(Math.floor(st.tokens + TOKEN_EPSILON));
    resetMs = Math.max(resetMs, msUntil(st.tokens, s.capacity, s.capacity, s.windowMs));
  }
  return { allowed, remaining, retryAfterMs, resetMs };
}

/** Convenience constructor: `capacity` tokens refilled over `windowMs`. */
export function bucket(name: string, capacity: number, windowMs: number, slot = 0): BucketSpec {
  return validateBucketSpec({ name, capacity, windowMs, slot });
}
