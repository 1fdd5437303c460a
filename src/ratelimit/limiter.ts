/**
 * The rate limiter the gateway calls: builds the keys of a request (credential, customer, source
 * address), picks the compiled limits for its tier and route class, runs one atomic store check,
 * applies the failure policy when the store is unreachable, and raises events (blacklisted,
 * re-enabled, lifted, store unavailable/recovered) for the alert outbox and the audit trail.
 * It knows nothing about HTTP; `headers.ts` turns a decision into header values.
 *
 * Gateway order: `checkPreAuth(ip)` on every request before verifying anything; on a failed
 * authentication `recordAuthFailure(ip)`; after authentication `check(subject, routeClass)`.
 * Call `startSweeper()` once per process so re-enables are reported even when the key never
 * comes back (with Redis, each re-enable is reported by exactly one instance).
 *
 * @example
 *   const limiter = new RateLimiter({ store: new MemoryStore() });
 *   limiter.events.on((e) => alerts.enqueue(e));
 *   const d = await limiter.check({ credentialId: 'k1', customerId: 'c9' }, 'withdraw');
 *   if (!d.allowed) reply.code(d.reason === 'blacklisted' ? 403 : 429).headers(rateLimitHeaders(d.buckets, d));
 */
import { systemClock, type Clock } from '../core/clock.js';
import type { BucketSpec } from './bucket.js';
import type { BlacklistEntry } from './blacklist.js';
import { compileRateLimits, rateLimitConfig, type CompiledRateLimits, type RateLimitConfig } from './config.js';
import { RateLimitEvents, type FailureMode } from './events.js';
import { FailurePolicy } from './failure-policy.js';
import { MemoryStore } from './memory-store.js';
import { sourceAddressKey } from './source-address.js';
import { StoreUnavailableError, type CheckResult, type KeyLimit, type RateLimitStore } from './store.js';

export interface CredentialSubject {
  readonly credentialId: string;
  /** Limits the customer across all of its credentials when given. */
  readonly customerId?: string;
  /** Credential tier (default: the configuration's default tier). */
  readonly tier?: string;
}

export interface RateLimitDecision extends CheckResult {
  readonly routeClass: string;
  /** The keys checked, in order (e.g. `cred:k1`, `cust:c9`). */
  readonly keys: readonly string[];
  /** Buckets in the order of `remaining`, for the headers. */
  readonly buckets: readonly BucketSpec[];
  /** Set when the store was unreachable and the failure policy decided. */
  readonly degraded: FailureMode | null;
}

export interface RateLimiterOptions {
  store: RateLimitStore;
  config?: RateLimitConfig;
  clock?: Clock;
  /** Per-instance store for `local` failure mode (default: a new MemoryStore). */
  fallback?: RateLimitStore;
  events?: RateLimitEvents;
  /** Minimum time between two `store_unavailable` events of one route class (default 60 s). */
  alertIntervalMs?: number;
}

export const credentialKey = (id: string) => `cred:${id}`;
export const customerKey = (id: string) => `cust:${id}`;

export class RateLimiter {
  readonly limits: CompiledRateLimits;
  readonly events: RateLimitEvents;
  readonly failure: FailurePolicy;
  readonly #store: RateLimitStore;
  readonly #fallback: RateLimitStore;
  readonly #clock: Clock;
  readonly #flat = new Map<string, { limits: KeyLimit[]; buckets: BucketSpec[] }>();

  constructor(opts: RateLimiterOptions) {
    const config = opts.config ?? rateLimitConfig();
    this.limits = compileRateLimits(config);
    this.events = opts.events ?? new RateLimitEvents();
    this.failure = new FailurePolicy(config.failure, opts.alertIntervalMs);
    this.#store = opts.store;
    this.#fallback = opts.fallback ?? new MemoryStore({ maxKeys: 200_000 });
    this.#clock = opts.clock ?? systemClock;
  }

  /** Credential (and customer) limit for one authenticated request of `routeClass`. */
  async check(subject: CredentialSubject, routeClass: string, cost = 1): Promise<RateLimitDecision> {
    const tier = subject.tier ?? this.limits.defaultTier;
    const hasCustomer = subject.customerId !== undefined;
    const plan = this.#plan(`${tier}\u0000${routeClass}\u0000${hasCustomer ? 1 : 0}`, () =>
      hasCustomer ? [this.limits.credential(tier, routeClass), this.limits.customer(routeClass)] : [this.limits.credential(tier, routeClass)],
    );
    const keys = hasCustomer ? [credentialKey(subject.credentialId), customerKey(subject.customerId!)] : [credentialKey(subject.credentialId)];
    return this.#run(routeClass, keys, plan, cost);
  }

  /** Per source address, every request, before authentication. */
  async checkPreAuth(address: string): Promise<RateLimitDecision> {
    const plan = this.#plan('\u0000preauth', () => [this.limits.preAuth]);
    return this.#run('preauth', [sourceAddressKey(address)], plan, 1);
  }

  /** Counts one failed authentication from `address`; enough of them blacklist the address. */
  async recordAuthFailure(address: string): Promise<RateLimitDecision> {
    const plan = this.#plan('\u0000authfail', () => [this.limits.authFailure]);
    return this.#run('preauth', [sourceAddressKey(address)], plan, 1);
  }

  /** Ends a cooling period early (admin action); emits `lifted` with `by`. */
  async lift(key: string, by: string): Promise<BlacklistEntry | null> {
    const now = this.#clock.now();
    const entry = await this.#store.lift(key, now);
    const local = await this.#fallback.lift(key, now);
    const e = entry ?? local;
    if (e) this.events.emit({ type: 'lifted', at: now, entry: e, by });
    return e;
  }

  /** Reports cooling periods that ended (emits `reenabled` for each); safe to call often. */
  async sweep(): Promise<BlacklistEntry[]> {
    const now = this.#clock.now();
    const out = [...(await this.#store.sweep(now)), ...(await this.#fallback.sweep(now))];
    for (const entry of out) this.events.emit({ type: 'reenabled', at: now, entry });
    return out;
  }

  /** Active cooling periods (for `GET /v1/admin/ratelimits` and `custos ratelimit status`). */
  async blacklisted(): Promise<BlacklistEntry[]> {
    return this.#store.blacklisted(this.#clock.now());
  }

  /** Runs `sweep` every `intervalMs` (timer unref'd); returns a stop function. Errors wait for the next tick. */
  startSweeper(intervalMs = 1000): () => void {
    let running = false;
    const t = setInterval(() => {
      if (running) return;
      running = true;
      this.sweep()
        .catch(() => {})
        .finally(() => {
          running = false;
        });
    }, intervalMs);
    t.unref();
    return () => clearInterval(t);
  }

  async close(): Promise<void> {
    await this.#fallback.close();
  }

  #plan(id: string, make: () => KeyLimit[]): { limits: KeyLimit[]; buckets: BucketSpec[] } {
    let p = this.#flat.get(id);
    if (p === undefined) {
      const limits = make();
      p = { limits, buckets: limits.flatMap((l) => l.buckets) };
      this.#flat.set(id, p);
    }
    return p;
  }

  async #run(routeClass: string, keys: string[], plan: { limits: KeyLimit[]; buckets: BucketSpec[] }, cost: number): Promise<RateLimitDecision> {
    const now = this.#clock.now();
    let r: CheckResult;
    let degraded: FailureMode | null = null;
    try {
      r = await this.#store.check(keys, plan.limits, cost, now);
      if (this.failure.onSuccess()) this.events.emit({ type: 'store_recovered', at: now });
    } catch (err) {
      if (!(err instanceof StoreUnavailableError)) throw err;
      const { mode, alert } = this.failure.onFailure(routeClass, now);
      if (alert) this.events.emit({ type: 'store_unavailable', at: now, routeClass, mode, code: err.code });
      degraded = mode;
      r = mode === 'local' ? await this.#localCheck(keys, plan, cost, now) : unavailable(mode === 'open', plan.buckets.length, now);
    }
    for (const entry of r.blacklisted) this.events.emit({ type: 'blacklisted', at: r.now, entry, routeClass });
    for (const entry of r.reenabled) this.events.emit({ type: 'reenabled', at: r.now, entry });
    return { ...r, routeClass, keys, buckets: plan.buckets, degraded };
  }

  async #localCheck(keys: string[], plan: { limits: KeyLimit[] }, cost: number, now: number): Promise<CheckResult> {
    try {
      return await this.#fallback.check(keys, plan.limits, cost, now);
    } catch (err) {
      if (err instanceof StoreUnavailableError) return unavailable(false, plan.limits.reduce((n, l) => n + l.buckets.length, 0), now);
      throw err;
    }
  }
}

function unavailable(allowed: boolean, buckets: number, now: number): CheckResult {
  return {
    allowed, reason: 'store_unavailable', remaining: new Array<number>(buckets).fill(0), retryAfterMs: allowed ? 0 : 1000,
    resetMs: 0, now, deniedKey: allowed ? -1 : 0, blacklisted: [], reenabled: [],
  };
}
