/**
 * The client SDK's safe retries against a real gateway: when an attempt fails AFTER the server
 * processed it (connection dropped, 503 from a proxy), the retry carries the same
 * Idempotency-Key with a fresh nonce and signature, and exactly one withdrawal exists.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../core/clock.js';
import { buildGateway } from '../gateway/app.js';
import { createCredential } from '../gateway/credentials.js';
import type { Db } from '../store/db.js';
import { seedStarter } from '../store/seed.js';
import { TEST_DBS } from '../store/test-helpers/db.js';
import { CustosApiError, CustosClient, type WithdrawalRequestBody } from './index.js';

// One backend is enough here (the store suites cover both): PostgreSQL when configured.
const backend = TEST_DBS[TEST_DBS.length - 1]!;

const body = (amount: string): WithdrawalRequestBody => ({ chain: 'ethereum', asset: 'ETH', to: '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed', amount });

interface Attempt {
  key: string | null;
  nonce: string | null;
  signature: string | null;
  status: number | 'network error';
}

describe(`client SDK retries (${backend.name})`, () => {
  let db: Db;
  let app: FastifyInstance;
  let url: string;
  let cred: { credentialId: string; privateKey: string };

  beforeAll(async () => {
    db = await backend.open();
    await seedStarter(db, { customerId: 'acme' });
    cred = await createCredential(db, { customerId: 'acme', scopes: ['withdraw', 'read'] });
    ({ app } = await buildGateway({ db, clock: systemClock }));
    url = await app.listen({ port: 0, host: '127.0.0.1' });
  }, 120_000);
  afterAll(async () => {
    await app?.close();
    await db?.close();
  });

  /** A fetch that forwards every attempt to the server and then, for the first `failures` ones, loses the answer. */
  function flakyFetch(failures: number, failure: 'drop' | '503-json' | '503-html') {
    const attempts: Attempt[] = [];
    const f: typeof fetch = async (input, init) => {
      const h = new Headers(init?.headers);
      const res = await fetch(input, init); // the server processes the request in full
      const record: Attempt = {
        key: h.get('idempotency-key'),
        nonce: h.get('x-custos-nonce'),
        signature: h.get('x-custos-signature'),
        status: res.status,
      };
      attempts.push(record);
      if (attempts.length > failures) return res;
      await res.arrayBuffer();
      if (failure === 'drop') {
        record.status = 'network error';
        throw new TypeError('fetch failed: socket hang up');
      }
      record.status = 503;
      return failure === '503-json'
        ? new Response(JSON.stringify({ type: 'about:blank', title: 'Service Unavailable', status: 503, detail: 'upstream', code: 'unavailable' }), {
            status: 503,
            headers: { 'content-type': 'application/problem+json' },
          })
        : new Response('<html><body>503 Service Temporarily Unavailable</body></html>', { status: 503, headers: { 'content-type': 'text/html' } });
    };
    return { fetch: f, attempts };
  }

  const rowsForKey = async (key: string) =>
    db.query<{ id: string; nonce: string | null }>("SELECT id, nonce::text AS nonce FROM withdrawals WHERE customer_id = 'acme' AND idempotency_key = $1", [key]);

  it.each(['drop', '503-json', '503-html'] as const)('after a lost answer (%s) the retry reuses the key with a fresh nonce: one withdrawal', async (failure) => {
    const flaky = flakyFetch(2, failure);
    const client = new CustosClient({ baseUrl: url, ...cred, fetch: flaky.fetch, backoffMs: 1, retries: 4 });
    const key = `retry-${failure}-${Date.now()}`;
    const w = await client.submitWithdrawal(body('0.1'), key);
    expect(flaky.attempts).toHaveLength(3);
    expect(flaky.attempts.map((a) => a.key)).toEqual([key, key, key]);
    expect(new Set(flaky.attempts.map((a) => a.nonce)).size).toBe(3);
    expect(new Set(flaky.attempts.map((a) => a.signature)).size).toBe(3);
    // The server saw: created (201, answer lost), replayed (200, answer lost), replayed (200).
    const lost = failure === 'drop' ? 'network error' : 503;
    expect(flaky.attempts.map((a) => a.status)).toEqual([lost, lost, 200]);
    const rows = await rowsForKey(key);
    expect(rows).toHaveLength(1);
    expect(w.id).toBe(rows[0]!.id);
    expect(w.status).not.toBe('rejected');
    expect(w.nonce).toBe(rows[0]!.nonce);
  });

  it('without an explicit key, one generated key is kept across the retries of one call', async () => {
    const flaky = flakyFetch(1, 'drop');
    const client = new CustosClient({ baseUrl: url, ...cred, fetch: flaky.fetch, backoffMs: 1 });
    const w = await client.submitWithdrawal(body('0.2'));
    expect(flaky.attempts).toHaveLength(2);
    const key = flaky.attempts[0]!.key!;
    expect(key).toMatch(/^[0-9a-f-]{36}$/);
    expect(flaky.attempts[1]!.key).toBe(key);
    expect((await rowsForKey(key)).map((r) => r.id)).toEqual([w.id]);
  });

  it('a 4xx answer is final: no retry', async () => {
    const flaky = flakyFetch(0, 'drop');
    const client = new CustosClient({ baseUrl: url, ...cred, fetch: flaky.fetch, backoffMs: 1 });
    const err = await client.submitWithdrawal(body('0'), `final-${Date.now()}`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CustosApiError);
    expect(err).toMatchObject({ status: 422, code: 'amount_zero' });
    expect(flaky.attempts).toHaveLength(1);
  });

  it('gives up after `retries` attempts and throws the last error; still at most one withdrawal', async () => {
    const flaky = flakyFetch(99, '503-json');
    const client = new CustosClient({ baseUrl: url, ...cred, fetch: flaky.fetch, backoffMs: 1, retries: 3 });
    const key = `exhaust-${Date.now()}`;
    const err = await client.submitWithdrawal(body('0.3'), key).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CustosApiError);
    expect(err).toMatchObject({ status: 503 });
    expect(flaky.attempts).toHaveLength(3);
    expect(await rowsForKey(key)).toHaveLength(1);
  });

  it('a refused connection is retried and finally thrown, without a private key in the error', async () => {
    const client = new CustosClient({ baseUrl: 'http://127.0.0.1:1', ...cred, backoffMs: 1, retries: 2 });
    const err = (await client.submitWithdrawal(body('0.4')).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(Error);
    expect(`${err.message} ${String(err.stack)} ${JSON.stringify(err)}`).not.toContain(cred.privateKey.slice(5));
  });

  it('retries: 0 still sends the request once (no retry, but not no request)', async () => {
    for (const retries of [0, -1, 1]) {
      const flaky = flakyFetch(0, 'drop');
      const client = new CustosClient({ baseUrl: url, ...cred, fetch: flaky.fetch, backoffMs: 1, retries });
      const w = await client.submitWithdrawal(body(`0.5${-retries + 1}`), `once-${retries}-${Date.now()}`);
      expect(w.status).not.toBe('rejected');
      expect(flaky.attempts).toHaveLength(1);
    }
  });
});
