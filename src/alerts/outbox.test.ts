import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../core/clock.js';
import type { Db } from '../store/db.js';
import { TEST_DBS } from '../store/test-helpers/db.js';
import { AlertDispatcher, enqueueAlert, pendingAlerts, signWebhook, verifyWebhook } from './outbox.js';

interface Received {
  body: string;
  signature: string;
}

async function receiver(port = 0): Promise<{ server: Server; url: string; got: Received[] }> {
  const got: Received[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      got.push({ body, signature: String(req.headers['custos-signature']) });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  const { port: p } = server.address() as AddressInfo;
  return { server, url: `http://127.0.0.1:${p}/hook`, got };
}

const SECRET = 'whsec_test_secret';
const quiet = () => {};

describe('webhook signatures', () => {
  it('verifies its own signature and refuses tampering, another secret and stale timestamps', () => {
    const body = '{"text":"x"}';
    const now = 1_700_000_000_000;
    const header = signWebhook(SECRET, body, now / 1000);
    expect(verifyWebhook(SECRET, header, body, now)).toBe(true);
    expect(verifyWebhook(SECRET, header, '{"text":"y"}', now)).toBe(false);
    expect(verifyWebhook('other', header, body, now)).toBe(false);
    expect(verifyWebhook(SECRET, header, body, now + 301_000)).toBe(false);
    expect(verifyWebhook(SECRET, 't=1,v1=zz', body, now)).toBe(false);
  });
});

describe.each(TEST_DBS)('alert outbox on $name', (tdb) => {
  let db: Db;
  beforeAll(async () => {
    db = await tdb.open();
  });
  afterAll(async () => {
    await db.close();
  });

  it('delivers a signed, Slack-compatible webhook', async () => {
    const r = await receiver();
    const clock = manualClock(Date.now());
    await enqueueAlert(db, { kind: 'ratelimit.blacklisted', severity: 'warning', summary: 'credential cred_a blacklisted', details: { credentialId: 'cred_a' } }, clock.now());
    const d = new AlertDispatcher({ db, webhooks: [{ url: r.url, secret: SECRET }], clock, log: quiet });
    expect(await d.runOnce()).toBe(1);
    expect(r.got).toHaveLength(1);
    const got = r.got[0]!;
    expect(verifyWebhook(SECRET, got.signature, got.body, clock.now())).toBe(true);
    const parsed = JSON.parse(got.body) as { text: string; custos: { kind: string } };
    expect(parsed.text).toContain('blacklisted');
    expect(parsed.custos.kind).toBe('ratelimit.blacklisted');
    expect(await pendingAlerts(db)).toBe(0);
    r.server.close();
  });

  it('keeps an alert while the receiver is down and delivers it after a restart of the dispatcher', async () => {
    const down = await receiver();
    const port = (down.server.address() as AddressInfo).port;
    await new Promise((res) => down.server.close(res)); // nothing listens on this port now
    const clock = manualClock(Date.now());
    await enqueueAlert(db, { kind: 'ratelimit.reenabled', severity: 'info', summary: 'credential cred_b re-enabled', details: {} }, clock.now());
    const first = new AlertDispatcher({ db, webhooks: [{ url: `http://127.0.0.1:${port}/hook`, secret: SECRET }], clock, log: quiet, backoffMs: 1000 });
    expect(await first.runOnce()).toBe(0);
    expect(await pendingAlerts(db)).toBe(1);
    const [row] = await db.query<{ attempts: number; last_error: string }>('SELECT attempts, last_error FROM alerts_outbox WHERE delivered_at IS NULL');
    expect(row?.attempts).toBe(1);
    expect(row?.last_error).toMatch(/unreachable/);
    // Not retried before its backoff ends.
    expect(await first.runOnce()).toBe(0);
    await first.stop();

    const up = await receiver(port);
    clock.advance(1_001);
    const second = new AlertDispatcher({ db, webhooks: [{ url: up.url, secret: SECRET }], clock, log: quiet });
    expect(await second.runOnce()).toBe(1);
    expect(up.got).toHaveLength(1);
    expect(await pendingAlerts(db)).toBe(0);
    up.server.close();
  });

  it('retries a receiver that answers 500 with growing backoff', async () => {
    let calls = 0;
    const server = createServer((_req, res) => {
      calls++;
      res.writeHead(500).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const clock = manualClock(Date.now());
    await enqueueAlert(db, { kind: 'x', severity: 'critical', summary: 's', details: {} }, clock.now());
    const d = new AlertDispatcher({ db, webhooks: [{ url, secret: SECRET }], clock, log: quiet, backoffMs: 1000 });
    await d.runOnce();
    clock.advance(1_001);
    await d.runOnce();
    clock.advance(1_500); // second backoff is 2 s: not yet due
    await d.runOnce();
    expect(calls).toBe(2);
    clock.advance(600);
    await d.runOnce();
    expect(calls).toBe(3);
    server.close();
  });
});
