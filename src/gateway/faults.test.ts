/**
 * Faults behind the gateway: a database error in the middle of the intake transaction leaves
 * nothing half-written (no withdrawal, no nonce taken, no audit entry) and answers 500
 * problem+json without internals; the same request then succeeds with its Idempotency-Key.
 * A database that does not answer makes /readyz 503.
 */
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../core/clock.js';
import type { Db } from '../store/db.js';
import { seedStarter } from '../store/seed.js';
import { DATABASE_URL, TEST_DBS } from '../store/test-helpers/db.js';
import { buildGateway } from './app.js';
import { createCredential } from './credentials.js';
import { parsePrivateKey, signRequest } from './signature.js';

if (!DATABASE_URL) console.warn('faults.test.ts: DATABASE_URL unset, the PostgreSQL variant is skipped');

describe.each(TEST_DBS)('gateway faults on $name', (backend) => {
  let db: Db;
  let app: FastifyInstance;
  const clock = manualClock(Date.now());
  let cred: { credentialId: string; privateKey: string };
  let dbClosed = false;

  beforeAll(async () => {
    db = await backend.open();
    await seedStarter(db, { customerId: 'acme' });
    cred = await createCredential(db, { customerId: 'acme', scopes: ['withdraw', 'read'] });
    clock.set(Date.now());
    ({ app } = await buildGateway({ db, clock }));
  }, 120_000);
  afterAll(async () => {
    await app?.close();
    if (!dbClosed) await db?.close();
  });

  const post = (idem: string, body: unknown) => {
    const bytes = Buffer.from(JSON.stringify(body));
    clock.advance(1);
    const headers = signRequest(parsePrivateKey(cred.privateKey), cred.credentialId, {
      method: 'POST',
      path: '/v1/withdrawals',
      body: bytes,
      idempotencyKey: idem,
      timestamp: clock.now(),
    });
    return app.inject({ method: 'POST', url: '/v1/withdrawals', headers: { ...headers, 'content-type': 'application/json' }, payload: bytes });
  };

  const state = async () => {
    const [r] = await db.query<{ w: string; a: string; n: string }>(
      `SELECT (SELECT count(*) FROM withdrawals)::text AS w, (SELECT count(*) FROM audit_entries)::text AS a,
              (SELECT next_nonce::text FROM accounts WHERE id = 'hot-eth') AS n`,
    );
    return r;
  };

  it('a failure inside the intake transaction rolls all of it back and answers 500 problem+json; the retry succeeds', async () => {
    const body = { chain: 'ethereum', asset: 'ETH', to: '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed', amount: '0.7' };
    const before = await state();
    // The audit entry is written after the withdrawal and the nonce in the same transaction: make it fail.
    await db.exec(`CREATE FUNCTION custos_test_fail() RETURNS trigger LANGUAGE plpgsql AS $fn$
      BEGIN RAISE EXCEPTION 'injected failure in table %', TG_TABLE_NAME; END $fn$;
      CREATE TRIGGER custos_test_fail BEFORE INSERT ON audit_entries FOR EACH ROW EXECUTE FUNCTION custos_test_fail();`);
    let res;
    try {
      res = await post('fault-1', body);
    } finally {
      await db.exec('DROP TRIGGER custos_test_fail ON audit_entries; DROP FUNCTION custos_test_fail();');
    }
    expect(res.statusCode).toBe(500);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    const p = res.json() as { code: string; detail: string };
    expect(p.code).toBe('internal');
    expect(res.body).not.toMatch(/injected|audit_entries|plpgsql|at .*\.js/);
    expect(await state()).toEqual(before); // no withdrawal, no audit entry, no nonce taken

    const retry = await post('fault-1', body);
    expect(retry.statusCode).toBe(201);
    const w = retry.json() as { nonce: string };
    expect(w.nonce).toBe(before!.n);
    const after = await state();
    expect(Number(after!.w)).toBe(Number(before!.w) + 1);
    expect(after!.n).toBe(String(Number(before!.n) + 1));
  });

  it('a streamed body without Content-Length is cut off at the limit with 413', async () => {
    const before = await state();
    const chunks = Array.from({ length: 40 }, () => Buffer.alloc(4096, 0x20)); // 160 KiB > 64 KiB
    const res = await app.inject({
      method: 'POST',
      url: '/v1/withdrawals',
      headers: { 'content-type': 'application/json', 'idempotency-key': 'stream-1' },
      payload: Readable.from(chunks),
    });
    expect(res.statusCode).toBe(413);
    expect(res.json()).toMatchObject({ code: 'body_too_large' });
    expect(await state()).toEqual(before);
  });

  it('/readyz answers 503 problem+json when the database is gone', async () => {
    expect((await app.inject({ url: '/readyz' })).statusCode).toBe(200);
    await db.close();
    dbClosed = true;
    const res = await app.inject({ url: '/readyz' });
    expect(res.statusCode).toBe(503);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json()).toMatchObject({ code: 'not_ready', status: 503 });
    expect((await app.inject({ url: '/healthz' })).statusCode).toBe(200);
  });
});
