/**
 * Limits configuration: per credential tier and route class, per customer across all of its
 * credentials, and per source address before authentication (every request) plus a stricter one
 * for failed authentications (so a flood of invalid credentials is cut off by address before it
 * costs the server a signature check per request).
 *
 * Each limit is at most two buckets (burst and sustained). Every key keeps its buckets at fixed
 * slots: route class number `i` in `routeClasses` uses slots `2i` and `2i + 1`, so the order of
 * `routeClasses` must stay stable across deployments (append new classes at the end).
 *
 * @example
 *   const limits = compileRateLimits(rateLimitConfig({ customer: { withdraw: { buckets: [{ name: 'burst', capacity: 5, windowMs: 1000 }], blacklist: {} } } }));
 *   limits.credential('standard', 'withdraw').buckets; // [withdraw.burst 10/s, withdraw.sustained 100/min]
 */
import { CustosError } from '../core/errors.js';
import { MAX_SLOTS, validateBucketSpec, type BucketSpec } from './bucket.js';
import { blacklistPolicy, type BlacklistPolicy } from './blacklist.js';
import type { FailureMode } from './events.js';
import type { KeyLimit } from './store.js';

export interface BucketConfig {
  /** `burst` or `sustained` (or another short name); the compiled name is `<routeClass>.<name>`. */
  readonly name: string;
  readonly capacity: number;
  readonly windowMs: number;
}

export interface LimitConfig {
  /** One or two buckets. */
  readonly buckets: readonly BucketConfig[];
  /** Blacklist policy overrides (validated; `{}` means the defaults), or null for no blacklisting. */
  readonly blacklist: Partial<BlacklistPolicy> | null;
}

export interface RateLimitConfig {
  /** Route classes in slot order, e.g. `['withdraw', 'read']`; at most 4. */
  readonly routeClasses: readonly string[];
  /** Tier given to credentials that name none. */
  readonly defaultTier: string;
  /** tier → route class → limit for one credential. */
  readonly tiers: Readonly<Record<string, Readonly<Record<string, LimitConfig>>>>;
  /** route class → limit for one customer across all of its credentials. */
  readonly customer: Readonly<Record<string, LimitConfig>>;
  /** Per source address, every request, before authentication. */
  readonly preAuth: LimitConfig;
  /** Per source address, each failed authentication. */
  readonly authFailure: LimitConfig;
  /** route class (and `preauth`) → what to do when the shared store is unreachable. */
  readonly failure: Readonly<Record<string, FailureMode>>;
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

const limit = (burst: number, perMinute: number, blacklist: Partial<BlacklistPolicy> | null): LimitConfig => ({
  buckets: [
    { name: 'burst', capacity: burst, windowMs: SECOND },
    { name: 'sustained', capacity: perMinute, windowMs: MINUTE },
  ],
  blacklist,
});

/** Defaults: withdrawals 10/s burst and 100/min sustained per credential; reads far more generous. */
export const DEFAULT_RATE_LIMIT_CONFIG: RateLimitConfig = {
  routeClasses: ['withdraw', 'read'],
  defaultTier: 'standard',
  tiers: {
    standard: {
      withdraw: limit(10, 100, {}),
      read: limit(50, 1_000, { tolerance: 100 }),
    },
    // integrations that batch legitimately (still far below what drains a hot wallet in a minute)
    bulk: {
      withdraw: limit(20, 300, {}),
      read: limit(100, 3_000, { tolerance: 200 }),
    },
  },
  customer: {
    withdraw: limit(20, 200, {}),
    read: limit(200, 5_000, { tolerance: 400 }),
  },
  preAuth: limit(50, 1_000, { tolerance: 100 }),
  authFailure: {
    buckets: [
      { name: 'burst', capacity: 10, windowMs: MINUTE },
      { name: 'sustained', capacity: 30, windowMs: HOUR },
    ],
    blacklist: {},
  },
  failure: { withdraw: 'closed', read: 'local', preauth: 'local' },
};

/** Defaults with overrides (tiers and route-class maps merge one level deep). */
export function rateLimitConfig(overrides: Partial<RateLimitConfig> = {}): RateLimitConfig {
  const d = DEFAULT_RATE_LIMIT_CONFIG;
  const tiers: Record<string, Record<string, LimitConfig>> = {};
  for (const [t, v] of Object.entries(d.tiers)) tiers[t] = { ...v };
  for (const [t, v] of Object.entries(overrides.tiers ?? {})) tiers[t] = { ...(tiers[t] ?? {}), ...v };
  return {
    routeClasses: overrides.routeClasses ?? d.routeClasses,
    defaultTier: overrides.defaultTier ?? d.defaultTier,
    tiers,
    customer: { ...d.customer, ...(overrides.customer ?? {}) },
    preAuth: overrides.preAuth ?? d.preAuth,
    authFailure: overrides.authFailure ?? d.authFailure,
    failure: { ...d.failure, ...(overrides.failure ?? {}) },
  };
}

/** The validated, precompiled limits the limiter hands to the store (the same objects every time). */
export interface CompiledRateLimits {
  readonly routeClasses: readonly string[];
  readonly tiers: readonly string[];
  readonly defaultTier: string;
  credential(tier: string, routeClass: string): KeyLimit;
  customer(routeClass: string): KeyLimit;
  readonly preAuth: KeyLimit;
  readonly authFailure: KeyLimit;
  failureMode(routeClass: string): FailureMode;
}

const invalid = (why: string): never => {
  throw new CustosError('ratelimit_config_invalid', why, 500);
};

function compileLimit(where: string, prefix: string, firstSlot: number, c: LimitConfig | undefined): KeyLimit {
  if (c === undefined) return invalid(`${where}: missing`);
  if (typeof c !== 'object' || c === null) return invalid(`${where}: must be an object`);
  if (c.blacklist !== null && (typeof c.blacklist !== 'object' || Array.isArray(c.blacklist))) invalid(`${where}: blacklist must be an object or null`);
  if (!Array.isArray(c.buckets) || c.buckets.length < 1 || c.buckets.length > 2) invalid(`${where}: one or two buckets`);
  const buckets: BucketSpec[] = c.buckets.map((b, i) => {
    if (typeof b !== 'object' || b === null || typeof b.name !== 'string') return invalid(`${where}: bucket ${i} must be { name, capacity, windowMs }`);
    return Object.freeze(validateBucketSpec({ name: `${prefix}.${b.name}`, capacity: b.capacity, windowMs: b.windowMs, slot: firstSlot + i }));
  });
  if (buckets.length === 2 && buckets[0]!.name === buckets[1]!.name) invalid(`${where}: bucket names must differ`);
  return Object.freeze({ buckets: Object.freeze(buckets), blacklist: c.blacklist === null ? null : blacklistPolicy(c.blacklist) });
}

const MODES: readonly FailureMode[] = ['closed', 'open', 'local'];

/** Validates a configuration and compiles it; throws `ratelimit_config_invalid` with the reason. */
export function compileRateLimits(config: RateLimitConfig): CompiledRateLimits {
  // shapes first: the configuration may come from a file
  const isMap = (v: unknown) => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isMap(config)) invalid('configuration must be an object');
  if (!Array.isArray(config.routeClasses)) invalid('routeClasses must be an array');
  for (const [name, v] of [['tiers', config.tiers], ['customer', config.customer], ['failure', config.failure]] as const) {
    if (!isMap(v)) invalid(`${name} must be an object`);
  }
  for (const [tier, v] of Object.entries(config.tiers)) if (!isMap(v)) invalid(`tiers.${tier} must be an object`);
  const classes = [...config.routeClasses];
  if (classes.length < 1 || classes.length > MAX_SLOTS / 2) invalid(`routeClasses: 1..${MAX_SLOTS / 2} classes`);
  for (const rc of classes) if (!/^[a-z][a-z0-9_]{0,31}$/.test(rc)) invalid(`route class ${JSON.stringify(rc)}: short lowercase identifier`);
  if (new Set(classes).size !== classes.length) invalid('routeClasses: duplicates');
  if (classes.includes('preauth')) invalid('"preauth" is reserved for the source-address limit');
  const slotOf = (rc: string) => 2 * classes.indexOf(rc);

  const tierLimits = new Map<string, Map<string, KeyLimit>>();
  for (const [tier, byClass] of Object.entries(config.tiers)) {
    if (!/^[a-z][a-z0-9_-]{0,31}$/.test(tier)) invalid(`tier ${JSON.stringify(tier)}: short lowercase identifier`);
    const m = new Map<string, KeyLimit>();
    for (const rc of classes) m.set(rc, compileLimit(`tiers.${tier}.${rc}`, rc, slotOf(rc), byClass[rc]));
    for (const rc of Object.keys(byClass)) if (!classes.includes(rc)) invalid(`tiers.${tier}.${rc}: unknown route class`);
    tierLimits.set(tier, m);
  }
  if (!tierLimits.has(config.defaultTier)) invalid(`defaultTier ${JSON.stringify(config.defaultTier)} is not a tier`);
  const customer = new Map<string, KeyLimit>();
  for (const rc of classes) customer.set(rc, compileLimit(`customer.${rc}`, `customer.${rc}`, slotOf(rc), config.customer[rc]));
  for (const rc of Object.keys(config.customer)) if (!classes.includes(rc)) invalid(`customer.${rc}: unknown route class`);
  const preAuth = compileLimit('preAuth', 'preauth', 0, config.preAuth);
  const authFailure = compileLimit('authFailure', 'auth_failure', 2, config.authFailure);

  const failure = new Map<string, FailureMode>();
  for (const rc of [...classes, 'preauth']) {
    const mode = config.failure[rc];
    if (mode === undefined || !MODES.includes(mode)) invalid(`failure.${rc}: one of ${MODES.join(', ')}`);
    failure.set(rc, mode!);
  }

  const unknown = (what: string): never => {
    throw new CustosError('ratelimit_unknown', `unknown ${what}`, 500);
  };
  return Object.freeze({
    routeClasses: Object.freeze(classes),
    tiers: Object.freeze([...tierLimits.keys()]),
    defaultTier: config.defaultTier,
    credential: (tier: string, rc: string) => tierLimits.get(tier)?.get(rc) ?? unknown(`tier or route class ${JSON.stringify(`${tier}/${rc}`)}`),
    customer: (rc: string) => customer.get(rc) ?? unknown(`route class ${JSON.stringify(rc)}`),
    preAuth,
    authFailure,
    failureMode: (rc: string) => failure.get(rc) ?? 'closed',
  });
}
