/**
 * The rate limiter in front of the routes: a per-source-address check before anything else
 * (so floods of invalid credentials cost no signature check), failed authentications counted per
 * address, then the credential's and customer's buckets for the route class. Refusals answer
 * 429 (limited) or 403 (blacklisted, cooling period) with Retry-After; every answer carries the
 * draft-IETF RateLimit-Policy / RateLimit headers. Limiter events become audit entries and
 * security alerts in one transaction, off the request path.
 *
 * @example
 *   const limiter = new RateLimiter({ store: new MemoryStore() });
 *   const { app } = await buildGateway({ db, rateLimiter: limiter });
 */
import type { FastifyReply } from 'fastify';
import { appendAudit } from '../audit/chain.js';
import { enqueueAlert, type Alert } from '../alerts/outbox.js';
import type { Clock } from '../core/clock.js';
import { CustosError } from '../core/errors.js';
import type { RateLimitEvent } from '../ratelimit/events.js';
import { rateLimitHeaders } from '../ratelimit/headers.js';
import type { RateLimitDecision, RateLimiter } from '../ratelimit/limiter.js';
import type { Scope } from '../store/credentials.js';
import type { Db } from '../store/db.js';

export function routeClassOf(scope: Scope): string {
  return scope === 'withdraw' ? 'withdraw' : 'read';
}

/** Sets the headers; throws the problem for a refusal. */
export function applyDecision(reply: FastifyReply, d: RateLimitDecision): void {
  const h = rateLimitHeaders(d.buckets, d);
  // A degraded decision (store unreachable) has no real remaining counts to advertise.
  if (d.degraded === null) {
    reply.header('RateLimit-Policy', h['RateLimit-Policy']);
    reply.header('RateLimit', h.RateLimit);
  }
  if (d.allowed) return;
  reply.header('Retry-After', h['Retry-After'] ?? '1');
  if (d.reason === 'blacklisted') {
    throw new CustosError('blacklisted', `too many requests: refused during a cooling period; retry after ${h['Retry-After']} s`, 403);
  }
  if (d.reason === 'store_unavailable') {
    throw new CustosError('ratelimit_unavailable', 'the rate-limit store is unreachable; withdrawals are refused until it recovers', 503);
  }
  throw new CustosError('rate_limited', `rate limit exceeded; retry after ${h['Retry-After']} s`, 429);
}

/** What each limiter event becomes: an alert (severity, sentence) and an audit action. */
export function alertFor(e: RateLimitEvent): { alert: Alert; action: string; subject: string } {
  switch (e.type) {
    case 'blacklisted':
      return {
        action: 'ratelimit.blacklisted',
        subject: `ratelimit:${e.entry.key}`,
        alert: {
          kind: 'ratelimit.blacklisted',
          severity: 'warning',
          summary: `${e.entry.key} blacklisted for ${Math.round((e.entry.until - e.entry.since) / 1000)} s after exceeding its ${e.routeClass ?? ''} limit (offence ${e.entry.offences})`,
          details: { ...e.entry, routeClass: e.routeClass ?? null },
        },
      };
    case 'reenabled':
      return {
        action: 'ratelimit.reenabled',
        subject: `ratelimit:${e.entry.key}`,
        alert: { kind: 'ratelimit.reenabled', severity: 'info', summary: `${e.entry.key} re-enabled after its cooling period (${e.entry.blocked} requests refused)`, details: { ...e.entry } },
      };
    case 'lifted':
      return {
        action: 'ratelimit.lifted',
        subject: `ratelimit:${e.entry.key}`,
        alert: { kind: 'ratelimit.lifted', severity: 'warning', summary: `${e.entry.key} lifted early by ${e.by}`, details: { ...e.entry, by: e.by } },
      };
    case 'store_unavailable':
      return {
        action: 'ratelimit.store_unavailable',
        subject: 'ratelimit:store',
        alert: { kind: 'ratelimit.store_unavailable', severity: 'critical', summary: `rate-limit store unreachable (${e.code}): ${e.routeClass} requests fail ${e.mode}`, details: { ...e } },
      };
    case 'store_recovered':
      return { action: 'ratelimit.store_recovered', subject: 'ratelimit:store', alert: { kind: 'ratelimit.store_recovered', severity: 'info', summary: 'rate-limit store reachable again', details: {} } };
  }
}

/** Connects limiter events to the audit trail and the alert outbox (never blocks the caller). */
export function recordRateLimitEvents(limiter: RateLimiter, db: Db, clock: Clock, onError: (err: Error) => void): () => void {
  return limiter.events.on((e) => {
    const { alert, action, subject } = alertFor(e);
    const actor = e.type === 'lifted' ? e.by : 'ratelimit';
    void db
      .tx(async (q) => {
        await appendAudit(q, { at: e.at || clock.now(), actor, action, subject, data: alert.details });
        await enqueueAlert(q, alert, clock.now());
      })
      .catch(onError);
  });
}
