/**
 * Security alerts through an outbox. An alert is a row first (written with the event that
 * caused it, or on its own), so it survives a receiver that is down and a process restart; the
 * dispatcher delivers due rows off the request path, retrying with exponential backoff.
 *
 * Webhooks are signed as Stripe signs its own: header
 *   Custos-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
 * and the body is Slack-compatible: a top-level `text` plus the structured alert under `custos`.
 *
 * @example
 *   await enqueueAlert(db, { kind: 'ratelimit.blacklisted', severity: 'warning', summary: 'credential cred_x blacklisted for 300 s', details: {…} });
 *   const d = new AlertDispatcher({ db, webhooks: [{ url, secret }] }); d.start();
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { systemClock, type Clock } from '../core/clock.js';
import type { Db, Queryable } from '../store/db.js';

export type Severity = 'info' | 'warning' | 'critical';

export interface Alert {
  kind: string;
  severity: Severity;
  summary: string;
  details: Record<string, unknown>;
}

export interface Webhook {
  url: string;
  secret: string;
}

export async function enqueueAlert(q: Queryable, alert: Alert, now: number = Date.now()): Promise<void> {
  const at = new Date(now).toISOString();
  await q.query(
    'INSERT INTO alerts_outbox (created_at, kind, severity, summary, details, next_attempt_at) VALUES ($1, $2, $3, $4, $5, $1)',
    [at, alert.kind, alert.severity, alert.summary, alertDetailsJSON(alert)],
  );
}

/** The outbox's `details` column text of an alert (bigints as decimal strings). */
export function alertDetailsJSON(alert: Alert): string {
  return JSON.stringify(alert.details, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}

/** The webhook body: Slack-compatible `text`, the structured alert under `custos`. */
export function webhookBody(id: string, createdAt: string, alert: Alert): string {
  const icon = alert.severity === 'critical' ? ':rotating_light:' : alert.severity === 'warning' ? ':warning:' : ':information_source:';
  return JSON.stringify({
    text: `${icon} custos ${alert.severity}: ${alert.summary}`,
    custos: { id, createdAt, ...alert },
  });
}

export function signWebhook(secret: string, body: string, unixSeconds: number): string {
  const mac = createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}

/** For receivers: checks the signature and that the timestamp is within `toleranceS` of now. */
export function verifyWebhook(secret: string, header: string, body: string, nowMs: number, toleranceS = 300): boolean {
  const parts = Object.fromEntries(header.split(',').map((kv) => kv.split('=', 2) as [string, string]));
  const t = Number(parts.t);
  const v1 = parts.v1;
  if (!Number.isSafeInteger(t) || !v1 || !/^[0-9a-f]{64}$/.test(v1)) return false;
  if (Math.abs(nowMs / 1000 - t) > toleranceS) return false;
  const expected = createHmac('sha256', secret).update(`${t}.${body}`).digest();
  return timingSafeEqual(expected, Buffer.from(v1, 'hex'));
}

export interface DispatcherOptions {
  db: Db;
  webhooks: Webhook[];
  clock?: Clock;
  /** Where delivered alerts are also written (default: stderr as one JSON line). */
  log?: (line: Record<string, unknown>) => void;
  pollMs?: number;
  /** First retry delay; doubles per attempt up to maxBackoffMs. */
  backoffMs?: number;
  maxBackoffMs?: number;
  timeoutMs?: number;
  fetch?: typeof fetch;
}

interface Row {
  id: string;
  created_at: Date | string;
  kind: string;
  severity: Severity;
  summary: string;
  details: Record<string, unknown> | string;
  attempts: number;
}

export class AlertDispatcher {
  readonly #o: Required<Omit<DispatcherOptions, 'fetch'>> & { fetch: typeof fetch };
  #timer: NodeJS.Timeout | null = null;
  #busy: Promise<number> | null = null;

  constructor(opts: DispatcherOptions) {
    this.#o = {
      clock: systemClock,
      log: (line) => process.stderr.write(`${JSON.stringify(line)}\n`),
      pollMs: 250,
      backoffMs: 1_000,
      maxBackoffMs: 10 * 60_000,
      timeoutMs: 5_000,
      ...opts,
      fetch: opts.fetch ?? fetch,
    };
  }

  start(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => void this.runOnce().catch(() => {}), this.#o.pollMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    await this.#busy?.catch(() => 0);
  }

  /** Delivers every due alert once; returns how many were delivered. */
  async runOnce(): Promise<number> {
    if (this.#busy) return this.#busy;
    this.#busy = this.#deliverDue().finally(() => {
      this.#busy = null;
    });
    return this.#busy;
  }

  async #deliverDue(): Promise<number> {
    const now = this.#o.clock.now();
    const rows = await this.#o.db.query<Row>(
      `SELECT id::text AS id, created_at, kind, severity, summary, details, attempts FROM alerts_outbox
       WHERE delivered_at IS NULL AND next_attempt_at <= $1 ORDER BY id LIMIT 50`,
      [new Date(now).toISOString()],
    );
    let delivered = 0;
    for (const r of rows) {
      const alert: Alert = { kind: r.kind, severity: r.severity, summary: r.summary, details: typeof r.details === 'string' ? JSON.parse(r.details) : r.details };
      const createdAt = new Date(r.created_at).toISOString();
      const body = webhookBody(r.id, createdAt, alert);
      const error = await this.#send(body);
      if (error === null) {
        await this.#o.db.query('UPDATE alerts_outbox SET delivered_at = $2, attempts = attempts + 1, last_error = NULL WHERE id = $1', [r.id, new Date(this.#o.clock.now()).toISOString()]);
        this.#o.log({ level: 'warn', msg: 'security alert', alert: { id: r.id, ...alert } });
        delivered++;
      } else {
        const delay = Math.min(this.#o.backoffMs * 2 ** r.attempts, this.#o.maxBackoffMs);
        await this.#o.db.query('UPDATE alerts_outbox SET attempts = attempts + 1, last_error = $2, next_attempt_at = $3 WHERE id = $1', [
          r.id,
          error.slice(0, 500),
          new Date(this.#o.clock.now() + delay).toISOString(),
        ]);
      }
    }
    return delivered;
  }

  /** Posts to every webhook; null when all accepted (2xx), else the first error. */
  async #send(body: string): Promise<string | null> {
    if (this.#o.webhooks.length === 0) return null; // log-only delivery
    for (const hook of this.#o.webhooks) {
      const signature = signWebhook(hook.secret, body, Math.floor(this.#o.clock.now() / 1000));
      try {
        const res = await this.#o.fetch(hook.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'custos-signature': signature },
          body,
          signal: AbortSignal.timeout(this.#o.timeoutMs),
        });
        await res.arrayBuffer().catch(() => undefined);
        if (res.status < 200 || res.status >= 300) return `webhook answered ${res.status}`;
      } catch (err) {
        return `webhook unreachable: ${(err as Error).message}`;
      }
    }
    return null;
  }
}

/** Alerts not yet delivered (for status pages and tests). */
export async function pendingAlerts(q: Queryable): Promise<number> {
  const [r] = await q.query<{ n: string }>('SELECT count(*)::text AS n FROM alerts_outbox WHERE delivered_at IS NULL');
  return Number(r?.n ?? 0);
}
