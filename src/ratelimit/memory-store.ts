/**
 * In-memory rate-limit store for one process (the embedded default, and the per-instance fallback
 * when Redis is down). State lives in one growing Float64Array, a fixed-size record per key found
 * through a Map, so a check allocates only its small result. JavaScript runs one check at a time,
 * so each check is atomic.
 *
 * Idle keys (all buckets full again, no cooling period, no offence to remember) are reclaimed by
 * `sweep`; at most `maxKeys` keys are held: when full, and a reclaim pass frees nothing, new keys
 * are refused with `StoreUnavailableError`, so a flood of distinct keys degrades into the failure
 * policy instead of exhausting memory.
 *
 * @example
 *   const store = new MemoryStore();
 *   const r = store.check(['cred:k1'], [{ buckets: [bucket('withdraw.burst', 10, 1000)], blacklist: null }], 1, Date.now());
 */
import { advancedTime, assertCheckInput, MAX_SLOTS, msUntil, refilledTokens, TOKEN_EPSILON } from './bucket.js';
import { coolingPeriodMs, countRefusal, nextOffences, offenceMemoryMs, type BlacklistEntry } from './blacklist.js';
import { assertKeys, NO_ENTRIES, StoreUnavailableError, type CheckResult, type KeyLimit, type RateLimitStore } from './store.js';

// record layout (Float64 slots)
const BU = 0; // blacklisted until (0: not blacklisted)
const BS = 1; // blacklisted since
const OF = 2; // offences within the offence window
const OL = 3; // time of the last offence
const DN = 4; // refusals in the current tolerance window
const DW = 5; // start of the tolerance window
const BC = 6; // requests refused while blacklisted
const EX = 7; // time after which the record carries no information (reclaimable)
const BK = 8; // buckets: tokens at BK + 2*slot, reference time at BK + 2*slot + 1 (NaN: unused)
const STRIDE = BK + 2 * MAX_SLOTS;

export interface MemoryStoreOptions {
  /** Most keys held at once (default 1,000,000, about 190 MB at worst). */
  maxKeys?: number;
  /** Initial capacity in keys (default 1024; grows by doubling). */
  initialKeys?: number;
}

export class MemoryStore implements RateLimitStore {
  #data: Float64Array;
  readonly #index = new Map<string, number>();
  #free: number[] = [];
  #used = 0;
  readonly #maxKeys: number;
  #lastReclaim = -Infinity;

  constructor(opts: MemoryStoreOptions = {}) {
    this.#maxKeys = opts.maxKeys ?? 1_000_000;
    this.#data = new Float64Array(Math.max(1, Math.min(opts.initialKeys ?? 1024, this.#maxKeys)) * STRIDE);
  }

  /** Keys currently held. */
  get size(): number {
    return this.#index.size;
  }

  check(keys: readonly string[], limits: readonly KeyLimit[], cost: number, now: number): CheckResult {
    assertKeys(keys, limits);
    let total = 0;
    for (let i = 0; i < limits.length; i++) {
      assertCheckInput(limits[i]!.buckets, cost, now);
      total += limits[i]!.buckets.length;
    }
    const n = keys.length;
    const recs = n === 1 ? SINGLE : new Array<number>(n);
    for (let i = 0; i < n; i++) recs[i] = this.#record(keys[i]!, now);
    const d = this.#data;

    // 1. cooling periods: lazy re-enable of expired ones, refusal of active ones
    let reenabled: BlacklistEntry[] | readonly BlacklistEntry[] = NO_ENTRIES;
    for (let i = 0; i < n; i++) {
      const b = recs[i]! * STRIDE;
      const bu = d[b + BU]!;
      if (bu > 0 && bu <= now) {
        if (reenabled === NO_ENTRIES) reenabled = [];
        (reenabled as BlacklistEntry[]).push(this.#entry(keys[i]!, b));
        d[b + BU] = 0;
        d[b + BC] = 0;
      }
    }
    for (let i = 0; i < n; i++) {
      const b = recs[i]! * STRIDE;
      const bu = d[b + BU]!;
      if (bu > now) {
        d[b + BC]!++;
        return {
          allowed: false, reason: 'blacklisted', remaining: new Array<number>(total).fill(0),
          retryAfterMs: Math.ceil(bu - now), resetMs: Math.ceil(bu - now), now, deniedKey: i,
          blacklisted: NO_ENTRIES, reenabled,
        };
      }
    }

    // 2. refill every bucket and see whether all of them hold `cost`
    let allowed = true;
    let retryAfterMs = 0;
    let deniedKey = -1;
    for (let i = 0; i < n; i++) {
      const b = recs[i]! * STRIDE;
      const specs = limits[i]!.buckets;
      for (let j = 0; j < specs.length; j++) {
        const s = specs[j]!;
        const o = b + BK + 2 * s.slot;
        let t = d[o]!;
        let u = d[o + 1]!;
        if (u !== u) {
          // first use of this bucket: full
          t = s.capacity;
          u = now;
        }
        t = refilledTokens(t, u, s.capacity, s.windowMs, now);
        d[o] = t;
        d[o + 1] = advancedTime(u, s.windowMs, now);
        if (t + TOKEN_EPSILON < cost) {
          allowed = false;
          if (deniedKey < 0) deniedKey = i;
          const w = msUntil(t, cost, s.capacity, s.windowMs);
          if (w > retryAfterMs) retryAfterMs = w;
        }
      }
    }

    // 3. consume from all, or count the refusal against each key that lacked tokens
    const remaining = new Array<number>(total);
    let resetMs = 0;
    let blacklisted: BlacklistEntry[] | readonly BlacklistEntry[] = NO_ENTRIES;
    let r = 0;
    for (let i = 0; i < n; i++) {
      const b = recs[i]! * STRIDE;
      const lim = limits[i]!;
      const specs = lim.buckets;
      let lacking = false;
      let keyReset = 0;
      for (let j = 0; j < specs.length; j++) {
        const s = specs[j]!;
        const o = b + BK + 2 * s.slot;
        let t = d[o]!;
        if (allowed) {
          t = t - cost > 0 ? t - cost : 0;
          d[o] = t;
        } else if (t + TOKEN_EPSILON < cost) lacking = true;
        remaining[r++] = Math.floor(t + TOKEN_EPSILON);
        const w = msUntil(t, s.capacity, s.capacity, s.windowMs);
        if (w > keyReset) keyReset = w;
      }
      if (keyReset > resetMs) resetMs = keyReset;
      let ex = now + keyReset;
      const p = lim.blacklist;
      if (lacking && p !== null) {
        const c = countRefusal(p, d[b + DN]!, d[b + DW]!, now);
        d[b + DN] = c.count;
        d[b + DW] = c.windowStart;
        if (c.count > p.tolerance) {
          const offences = nextOffences(p, d[b + OF]!, d[b + OL]!, now);
          const until = now + coolingPeriodMs(p, offences);
          d[b + BU] = until;
          d[b + BS] = now;
          d[b + OF] = offences;
          d[b + OL] = now;
          d[b + DN] = 0;
          d[b + BC] = 0;
          if (blacklisted === NO_ENTRIES) blacklisted = [];
          (blacklisted as BlacklistEntry[]).push(this.#entry(keys[i]!, b));
          if (until - now > retryAfterMs) retryAfterMs = until - now;
          ex = Math.max(ex, until, now + offenceMemoryMs(p));
        } else {
          ex = Math.max(ex, c.windowStart + p.toleranceWindowMs);
        }
      }
      if (ex > d[b + EX]!) d[b + EX] = ex;
    }
    return {
      allowed, reason: allowed ? 'ok' : blacklisted.length > 0 ? 'blacklisted' : 'limited', remaining,
      retryAfterMs: allowed ? 0 : retryAfterMs, resetMs, now, deniedKey, blacklisted, reenabled,
    };
  }

  async lift(key: string, _now: number): Promise<BlacklistEntry | null> {
    const rec = this.#index.get(key);
    if (rec === undefined) return null;
    const b = rec * STRIDE;
    if (!(this.#data[b + BU]! > 0)) return null;
    const entry = this.#entry(key, b);
    this.#data[b + BU] = 0;
    this.#data[b + BC] = 0;
    return entry;
  }

  async sweep(now: number): Promise<BlacklistEntry[]> {
    return this.#sweep(now, true);
  }

  async blacklisted(now: number): Promise<BlacklistEntry[]> {
    const out: BlacklistEntry[] = [];
    for (const [key, rec] of this.#index) {
      const b = rec * STRIDE;
      if (this.#data[b + BU]! > now) out.push(this.#entry(key, b));
    }
    return out;
  }

  async close(): Promise<void> {
    this.#index.clear();
    this.#free = [];
    this.#used = 0;
  }

  #sweep(now: number, report: boolean): BlacklistEntry[] {
    const out: BlacklistEntry[] = [];
    const d = this.#data;
    for (const [key, rec] of this.#index) {
      const b = rec * STRIDE;
      const bu = d[b + BU]!;
      if (report && bu > 0 && bu <= now) {
        out.push(this.#entry(key, b));
        d[b + BU] = 0;
        d[b + BC] = 0;
      }
      if (d[b + BU] === 0 && d[b + EX]! <= now) {
        this.#index.delete(key);
        this.#free.push(rec);
      }
    }
    this.#lastReclaim = now;
    return out;
  }

  #entry(key: string, b: number): BlacklistEntry {
    const d = this.#data;
    return { key, since: d[b + BS]!, until: d[b + BU]!, offences: d[b + OF]!, blocked: d[b + BC]! };
  }

  #record(key: string, now: number): number {
    const found = this.#index.get(key);
    if (found !== undefined) return found;
    if (this.#index.size >= this.#maxKeys) {
      // reclaim at most once a second, so a full store under attack does not scan on every request
      // (expired cooling periods are left for `sweep` to report: only silent records go)
      if (now - this.#lastReclaim >= 1000 || now < this.#lastReclaim) this.#sweep(now, false);
      if (this.#index.size >= this.#maxKeys) throw new StoreUnavailableError('memory rate-limit store is full');
    }
    let rec = this.#free.pop();
    if (rec === undefined) {
      rec = this.#used++;
      if ((rec + 1) * STRIDE > this.#data.length) {
        const bigger = new Float64Array(Math.min(this.#data.length * 2, this.#maxKeys * STRIDE));
        bigger.set(this.#data);
        this.#data = bigger;
      }
    }
    const b = rec * STRIDE;
    this.#data.fill(0, b, b + BK);
    this.#data.fill(Number.NaN, b + BK, b + STRIDE);
    this.#index.set(key, rec);
    return rec;
  }
}

const SINGLE: number[] = [0];
