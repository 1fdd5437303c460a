/**
 * Rate limiting for the gateway: token buckets per credential, customer and source address,
 * cooling-period blacklist with automatic re-enable, memory and Redis stores, failure policy,
 * standard headers and the benchmark. No HTTP here: the gateway wires `RateLimiter` in.
 *
 * @example
 *   import { RateLimiter, RedisStore, rateLimitHeaders } from './ratelimit/index.js';
 *   const limiter = new RateLimiter({ store: new RedisStore({ url: process.env.REDIS_URL! }) });
 */
export * from './bucket.js';
export * from './blacklist.js';
export * from './config.js';
export * from './events.js';
export * from './failure-policy.js';
export * from './headers.js';
export * from './limiter.js';
export * from './memory-store.js';
export * from './redis-store.js';
export * from './source-address.js';
export * from './store.js';
export { benchRateLimit, type RateLimitBenchOptions, type RateLimitBenchResult } from './bench.js';
