import { describe, expect, it } from 'vitest';
import { bucket } from './bucket.js';
import { rateLimitHeaders, retryAfterSeconds } from './headers.js';

const b = [bucket('withdraw.burst', 10, 1000, 0), bucket('withdraw.sustained', 100, 60_000, 1)];

describe('rate-limit headers', () => {
  it('formats draft-ietf-httpapi-ratelimit-headers lists', () => {
    expect(rateLimitHeaders(b, { allowed: true, remaining: [9, 99], retryAfterMs: 0 })).toEqual({
      'RateLimit-Policy': '"withdraw.burst";q=10;w=1, "withdraw.sustained";q=100;w=60',
      RateLimit: '"withdraw.burst";r=9;t=1, "withdraw.sustained";r=99;t=1',
    });
    const refused = rateLimitHeaders(b, { allowed: false, remaining: [0, 40], retryAfterMs: 100 });
    expect(refused.RateLimit).toBe('"withdraw.burst";r=0;t=1, "withdraw.sustained";r=40;t=36');
    expect(refused['Retry-After']).toBe('1');
  });

  it('Retry-After rounds up to whole seconds, at least 1 for a refusal', () => {
    expect(retryAfterSeconds({ allowed: false, retryAfterMs: 300_000 })).toBe(300);
    expect(retryAfterSeconds({ allowed: false, retryAfterMs: 1 })).toBe(1);
    expect(retryAfterSeconds({ allowed: false, retryAfterMs: 0 })).toBe(1);
    expect(retryAfterSeconds({ allowed: false, retryAfterMs: 1001 })).toBe(2);
    expect(retryAfterSeconds({ allowed: true, retryAfterMs: 0 })).toBe(0);
  });

  it('clamps nonsense remaining values', () => {
    expect(rateLimitHeaders(b, { allowed: true, remaining: [-3, 1e9], retryAfterMs: 0 }).RateLimit).toBe(
      '"withdraw.burst";r=0;t=1, "withdraw.sustained";r=100;t=0',
    );
  });
});
