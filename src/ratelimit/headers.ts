/**
 * Standard rate-limit response headers from a check result: `RateLimit-Policy` and `RateLimit` as
 * in draft-ietf-httpapi-ratelimit-headers-10 (Structured Field lists: a quoted policy name with
 * `q` quota and `w` window seconds; a quoted name with `r` remaining and `t` seconds until the
 * bucket is full again), and `Retry-After` seconds (RFC 9110) for refusals. No partition key is
 * sent: it would echo credential identifiers.
 *
 * @example
 *   rateLimitHeaders(limits.buckets, result);
 *   // { 'RateLimit-Policy': '"withdraw.burst";q=10;w=1, "withdraw.sustained";q=100;w=60',
 *   //   'RateLimit': '"withdraw.burst";r=9;t=1, "withdraw.sustained";r=99;t=1' }
 */
import type { BucketSpec } from './bucket.js';

export interface RateLimitHeaders {
  'RateLimit-Policy': string;
  RateLimit: string;
  'Retry-After'?: string;
}

const sfString = (s: string) => `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;

/** `RateLimit-Policy` value for the buckets of one check (same order as `remaining`). */
export function rateLimitPolicyHeader(buckets: readonly BucketSpec[]): string {
  return buckets.map((b) => `${sfString(b.name)};q=${b.capacity};w=${Math.max(1, Math.ceil(b.windowMs / 1000))}`).join(', ');
}

/** `RateLimit` value: remaining whole tokens and seconds until each bucket is full again. */
export function rateLimitHeader(buckets: readonly BucketSpec[], remaining: readonly number[]): string {
  return buckets
    .map((b, i) => {
      const r = Math.max(0, Math.min(b.capacity, Math.floor(remaining[i] ?? 0)));
      const t = Math.ceil(((b.capacity - r) * b.windowMs) / b.capacity / 1000);
      return `${sfString(b.name)};r=${r};t=${t}`;
    })
    .join(', ');
}

/** Whole seconds for `Retry-After` (at least 1 for a refusal, so clients never retry at once). */
export function retryAfterSeconds(result: { allowed: boolean; retryAfterMs: number }): number {
  if (result.allowed) return 0;
  return Math.max(1, Math.ceil(result.retryAfterMs / 1000));
}

/** All three headers; `Retry-After` only on a refusal. */
export function rateLimitHeaders(
  buckets: readonly BucketSpec[],
  result: { allowed: boolean; remaining: readonly number[]; retryAfterMs: number },
): RateLimitHeaders {
  const h: RateLimitHeaders = { 'RateLimit-Policy': rateLimitPolicyHeader(buckets), RateLimit: rateLimitHeader(buckets, result.remaining) };
  if (!result.allowed) h['Retry-After'] = String(retryAfterSeconds(result));
  return h;
}
