/**
 * The HTTP gateway end to end (Fastify inject, and a real listener for the client SDK), on PGlite
 * and on PostgreSQL: the happy path, reads and paging, every refusal as problem+json with a stable
 * code and nothing half-written, signature freshness/replay/revocation/scope, and secrets kept
 * out of responses and log lines.
 */
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CustosApiError, CustosClient } from '../client/index.js';
import { manualClock } from '../core/clock.js';
import type { Db } from '../store/db.js';
import { leaseOutbound, recordSigned } from '../store/outbound.js';
import { seedStarter } from '../store/seed.js';
import { DATABASE_URL, TEST_DBS } from '../store/test-helpers/db.js';
import { buildGateway } from './app.js';
import { createCredential, revokeCredential } from './credentials.js';
import { generateCredentialKey, newNonce, parsePrivateKey, signRequest } from './signature.js';

if (!DATABASE_URL) console.warn('app.test.ts: DATABASE_URL unset, the PostgreSQL variant is skipped');

interface Cred {
  credentialId: string;
  privateKey: string;
}

const ETH_TO = '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed';
const BTC_TO = 'bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq';
const SOL_TO = '83astBRguLMdt2h5U1Tpdq5tjFoJ6noeGwaY3mDLVcri';
const btcBody = (amount = '0.01', extra: Record<string, unknown> = {}) => ({ chain: 'bitcoin', asset: 'BTC', to: BTC_TO, amount, ...extra });

describe.each(TEST_DBS)('gateway on $name', (backend) => {
  let db: Db;
  let app: FastifyInstance;
  const clock = manualClock(Date.now());
  const logLines: string[] = [];
  const responses: string[] = [];
  let full: Cred; // withdraw + read
  let readOnly: Cred;
  let other: Cred; // another customer
  let revoked: Cred;
  let keyCounter = 0;
  const newKey = () => `k-${Date.now()}-${++keyCounter}`;

  beforeAll(async () => {
    db = await backend.open();
    await seedStarter(db, { customerId: 'acme' });
    await seedStarter(db, { customerId: 'globex' });
    full = await createCredential(db, { customerId: 'acme', scopes: ['withdraw', 'read'] });
    readOnly = await createCredential(db, { customerId: 'acme', scopes: ['read'] });
    other = await createCredential(db, { customerId: 'globex', scopes: ['withdraw', 'read'] });
    revoked = await createCredential(db, { customerId: 'acme', scopes: ['withdraw', 'read'] });
    await revokeCredential(db, revoked.credentialId);
    const stream = new Writable({
      write(chunk: Buffer, _enc, done) {
        logLines.push(chunk.toString('utf8'));
        done();
      },
    });
    clock.set(Date.now());
    ({ app } = await buildGateway({ db, clock, logger: { level: 'debug', stream } }));
    await app.ready();
  }, 120_000);
  afterAll(async () => {
    await app?.close();
    await db?.close();
  });

  interface CallOptions {
    method?: string;
    url?: string;
    /** An object is sent as JSON; a string or Buffer as is. */
    body?: unknown;
    cred?: Cred | null;
    idem?: string | null;
    timestamp?: number;
    nonce?: string;
    contentType?: string;
    /** Change the signed headers or the bytes after signing. */
    after?: (h: Record<string, string>, body: Buffer | undefined) => { headers: Record<string, string>; body: Buffer | undefined };
  }

  async function call(o: CallOptions = {}): Promise<LightMyRequestResponse> {
    const method = o.method ?? 'POST';
    const url = o.url ?? '/v1/withdrawals';
    const cred = o.cred === undefined ? full : o.cred;
    const idem = o.idem === undefined ? (method === 'POST' ? newKey() : undefined) : (o.idem ?? undefined);
    let body: Buffer | undefined =
      o.body === undefined ? undefined : Buffer.isBuffer(o.body) ? o.body : Buffer.from(typeof o.body === 'string' ? o.body : JSON.stringify(o.body));
    let headers: Record<string, string> = cred
      ? signRequest(parsePrivateKey(cred.privateKey), cred.credentialId, {
          method,
          path: url,
          body: body ?? new Uint8Array(0),
          idempotencyKey: idem,
          timestamp: o.timestamp ?? clock.now(),
          ...(o.nonce ? { nonce: o.nonce } : {}),
        })
      : idem
        ? { 'idempotency-key': idem }
        : {};
    if (body !== undefined) headers['content-type'] = o.contentType ?? 'application/json';
    if (o.after) ({ headers, body } = o.after(headers, body));
    clock.advance(1);
    const res = await app.inject({ method: method as 'POST', url, headers, ...(body !== undefined ? { payload: body } : {}) });
    responses.push(JSON.stringify(res.headers), res.body);
    return res;
  }

  const counts = async () => {
    const [r] = await db.query<{ w: string; a: string; p: string }>(
      'SELECT (SELECT count(*) FROM withdrawals)::text AS w, (SELECT count(*) FROM audit_entries)::text AS a, (SELECT count(*) FROM audit_pending)::text AS p',
    );
    return r;
  };

  function expectProblem(res: LightMyRequestResponse, status: number, code: string) {
    expect({ status: res.statusCode, code: (res.json() as { code?: string }).code }).toEqual({ status, code });
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    const p = res.json() as Record<string, unknown>;
    expect(p).toMatchObject({ status, code, type: `https://custos.dev/problems/${code}` });
    expect(typeof p.title).toBe('string');
    expect(typeof p.detail).toBe('string');
    return p;
  }

  /** A refusal that must write no withdrawal and no audit entry. */
  async function expectRefused(o: CallOptions, status: number, code: string) {
    const before = await counts();
    const res = await call(o);
    const p = expectProblem(res, status, code);
    expect(p.withdrawal).toBeUndefined();
    expect(await counts()).toEqual(before);
    return p;
  }

  it('happy path: 201 with id, status and the decision trail; the same key and body answer 200 with the same withdrawal', async () => {
    const idem = newKey();
    const res = await call({ body: { chain: 'ethereum', asset: 'ETH', to: ETH_TO.toLowerCase(), amount: '1.50', memo: 'payout 42' }, idem });
    expect(res.statusCode).toBe(201);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    const w = res.json() as Record<string, unknown>;
    expect(w).toMatchObject({
      status: 'approved',
      customerId: 'acme',
      chain: 'ethereum',
      asset: 'ETH',
      to: ETH_TO, // EIP-55 normalised
      amount: '1.5',
      fee: '0.00063',
      memo: 'payout 42',
      decisions: [{ stage: 'syntax', outcome: 'pass', reasons: [{ code: 'syntax_ok', message: expect.any(String) }] }, { stage: 'risk', outcome: 'pass' }, { stage: 'rules', outcome: 'pass' }],
    });
    expect(w.id).toMatch(/^wd_[0-9a-f-]{36}$/);
    expect(w.nonce).toMatch(/^[0-9]+$/);
    expect(res.headers.location).toBe(`/v1/withdrawals/${String(w.id)}`);

    const again = await call({ body: { memo: 'payout 42', amount: '1.50', to: ETH_TO.toLowerCase(), asset: 'ETH', chain: 'ethereum' }, idem });
    expect(again.statusCode).toBe(200);
    expect(again.json()).toEqual(w);

    const before = await counts();
    const conflict = await call({ body: { chain: 'ethereum', asset: 'ETH', to: ETH_TO, amount: '1.51' }, idem });
    const p = expectProblem(conflict, 409, 'idempotency_key_reused');
    expect(p.withdrawalId).toBe(w.id);
    expect(await counts()).toEqual(before);
  });

  it('GET by id returns the withdrawal; another customer gets 404; an unknown id 404', async () => {
    const created = (await call({ body: btcBody('0.02') })).json() as { id: string };
    const got = await call({ method: 'GET', url: `/v1/withdrawals/${created.id}` });
    expect(got.statusCode).toBe(200);
    expect(got.json()).toMatchObject({ id: created.id, status: 'approved', amount: '0.02', fee: '0.00002', nonce: null, decisions: [{ stage: 'syntax', outcome: 'pass' }, { stage: 'risk', outcome: 'pass' }, { stage: 'rules', outcome: 'pass' }] });
    // Read-only credentials may read.
    expect((await call({ method: 'GET', url: `/v1/withdrawals/${created.id}`, cred: readOnly })).statusCode).toBe(200);
    await expectRefused({ method: 'GET', url: `/v1/withdrawals/${created.id}`, cred: other }, 404, 'withdrawal_not_found');
    await expectRefused({ method: 'GET', url: '/v1/withdrawals/wd_00000000-0000-0000-0000-000000000000' }, 404, 'withdrawal_not_found');
    await expectRefused({ method: 'GET', url: `/v1/withdrawals/${'x'.repeat(65)}` }, 400, 'validation_failed');
  });

  it('GET by id and the list carry the signed transaction once there is one (null before)', async () => {
    const created = (await call({ body: btcBody('0.03') })).json() as { id: string };
    expect((await call({ method: 'GET', url: `/v1/withdrawals/${created.id}` })).json()).toMatchObject({ id: created.id, transaction: null });
    const now = clock.now();
    await leaseOutbound(db, created.id, { owner: 'w1', leaseUntil: now + 60_000, now });
    expect((await call({ method: 'GET', url: `/v1/withdrawals/${created.id}` })).json()).toMatchObject({ transaction: null }); // leased, not signed
    const txHash = 'ab'.repeat(32);
    expect(await recordSigned(db, created.id, 'w1', { rawTx: Uint8Array.of(1, 2, 3), txHash, signers: ['node-1', 'node-3', 'node-4'], now: now + 5 })).toBe(true);
    const got = (await call({ method: 'GET', url: `/v1/withdrawals/${created.id}` })).json() as { transaction: unknown };
    expect(got.transaction).toEqual({ hash: txHash, signers: ['node-1', 'node-3', 'node-4'], signedAt: new Date(now + 5).toISOString(), broadcastAt: null, confirmations: null });
    const listed = (await call({ method: 'GET', url: '/v1/withdrawals?limit=50' })).json() as { items: Record<string, unknown>[] };
    expect(listed.items.find((i) => i.id === created.id)?.transaction).toEqual(got.transaction);
    expect(listed.items.filter((i) => i.id !== created.id).every((i) => i.transaction === null)).toBe(true);
  });

  it('GET list filters by status and pages with nextCursor, newest first, without repeats', async () => {
    const cred = await createCredential(db, { customerId: 'globex', scopes: ['withdraw', 'read'] });
    const before = (await call({ method: 'GET', url: '/v1/withdrawals?limit=200', cred })).json() as { items: { id: string; status: string }[] };
    const mine: string[] = [];
    for (let i = 0; i < 5; i++) mine.push(((await call({ body: { chain: 'solana', asset: 'SOL', to: SOL_TO, amount: `0.${i + 1}` }, cred })).json() as { id: string }).id);
    const bad = await call({ body: { chain: 'solana', asset: 'SOL', to: SOL_TO, amount: '0' }, cred });
    expect(bad.statusCode).toBe(422);
    const rejectedId = (bad.json() as { withdrawal: { id: string } }).withdrawal.id;

    const seen: string[] = [];
    let url = '/v1/withdrawals?status=approved&limit=2';
    for (let pages = 0; pages < 20; pages++) {
      const res = await call({ method: 'GET', url, cred });
      expect(res.statusCode).toBe(200);
      const page = res.json() as { items: { id: string; status: string; createdAt: string }[]; nextCursor: string | null };
      expect(page.items.length).toBeLessThanOrEqual(2);
      for (const w of page.items) expect(w.status).toBe('approved');
      seen.push(...page.items.map((w) => w.id));
      if (!page.nextCursor) break;
      url = `/v1/withdrawals?status=approved&limit=2&cursor=${encodeURIComponent(page.nextCursor)}`;
    }
    const approvedBefore = before.items.filter((w) => w.status === 'approved').map((w) => w.id);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.slice(0, 5)).toEqual([...mine].reverse()); // newest first
    expect(seen.slice(5)).toEqual(approvedBefore);
    expect(seen).not.toContain(rejectedId);

    const rejected = (await call({ method: 'GET', url: '/v1/withdrawals?status=rejected', cred })).json() as { items: { id: string }[] };
    expect(rejected.items.map((w) => w.id)).toContain(rejectedId);
    for (const w of rejected.items) expect(mine).not.toContain(w.id);

    await expectRefused({ method: 'GET', url: '/v1/withdrawals?status=bogus', cred }, 400, 'validation_failed');
    await expectRefused({ method: 'GET', url: '/v1/withdrawals?limit=0', cred }, 400, 'validation_failed');
    await expectRefused({ method: 'GET', url: '/v1/withdrawals?cursor=not-a-cursor', cred }, 400, 'cursor_invalid');
    await expectRefused({ method: 'GET', url: '/v1/withdrawals?extra=1', cred }, 400, 'validation_failed');
  });

  it('malformed JSON, unknown fields, wrong types, non-JSON media and huge bodies: 4xx problem+json, nothing written', async () => {
    await expectRefused({ body: '{"chain": "bitcoin", ' }, 400, 'malformed_json');
    await expectRefused({ body: '{"chain":"bitcoin"}garbage' }, 400, 'malformed_json');
    await expectRefused({ body: '' }, 400, 'malformed_json');
    await expectRefused({ body: btcBody('0.01', { extra: 1 }) }, 400, 'validation_failed');
    await expectRefused({ body: `{"chain":"bitcoin","asset":"BTC","to":"${BTC_TO}","amount":"1","__proto__":{"admin":true}}` }, 400, 'validation_failed');
    expect(({} as Record<string, unknown>).admin).toBeUndefined();
    await expectRefused({ body: '{"chain":"bitcoin","asset":"BTC","to":"x","amount":"1","constructor":{}}' }, 400, 'validation_failed');
    for (const wrong of [
      btcBody('0.01', { amount: 0.01 }),
      btcBody('0.01', { amount: null }),
      btcBody('0.01', { to: 42 }),
      btcBody('0.01', { chain: 'dogecoin' }),
      btcBody('0.01', { asset: 'btc' }),
      btcBody('0.01', { nonce: '1' }),
      btcBody('0.01', { nonce: -1 }),
      btcBody('0.01', { nonce: 1.5 }),
      btcBody('0.01', { memo: 'm'.repeat(257) }),
      btcBody('0.01', { amount: '1'.repeat(101) }),
      { chain: 'bitcoin', asset: 'BTC', amount: '1' },
      [btcBody()],
      'a string',
      null,
    ]) {
      await expectRefused({ body: JSON.stringify(wrong) }, 400, 'validation_failed');
    }
    await expectRefused({ body: JSON.stringify(btcBody()), contentType: 'text/plain' }, 415, 'unsupported_media_type');
    await expectRefused({ body: Buffer.alloc(1024 * 1024, 0x20) }, 413, 'body_too_large');
    await expectRefused({ body: JSON.stringify({ ...btcBody(), memo: 'x'.repeat(1024 * 1024) }) }, 413, 'body_too_large');
    await expectRefused({ method: 'GET', url: '/v2/nothing' }, 404, 'not_found');
  });

  it('a missing or malformed Idempotency-Key is refused', async () => {
    await expectRefused({ body: btcBody(), idem: null }, 400, 'idempotency_key_missing');
    await expectRefused({ body: btcBody(), idem: 'has space' }, 400, 'idempotency_key_invalid');
    await expectRefused({ body: btcBody(), idem: 'k'.repeat(129) }, 400, 'idempotency_key_invalid');
  });

  it('bad input the syntax stage rejects answers 422 with the stored rejected withdrawal', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [btcBody('0.01', { to: 'bc1qаr0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq' }), 'address_non_ascii'], // Cyrillic а
      [{ chain: 'ethereum', asset: 'ETH', to: '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD', amount: '1' }, 'address_checksum'],
      [btcBody('-1'), 'amount_invalid'],
      [btcBody('0'), 'amount_zero'],
      [btcBody('0.000000001'), 'amount_too_precise'],
      [btcBody('1e5'), 'amount_invalid'],
      [btcBody('0.01', { fee: '0.5' }), 'fee_too_high'],
      [btcBody('0.01', { nonce: 0 }), 'nonce_not_applicable'],
      [{ chain: 'bitcoin', asset: 'DOGE', to: BTC_TO, amount: '1' }, 'asset_unknown'],
    ];
    for (const [body, code] of cases) {
      const before = await counts();
      const res = await call({ body });
      const p = expectProblem(res, 422, code) as { withdrawal: { id: string; status: string; decisions: { stage: string; outcome: string; reasons: { code: string }[] }[] } };
      expect(p.withdrawal.status).toBe('rejected');
      expect(p.withdrawal.decisions).toEqual([{ stage: 'syntax', outcome: 'reject', reasons: [expect.objectContaining({ code })] }]);
      // Stored with its two audit entries (received, rejected), readable by id.
      const after = await counts();
      expect(Number(after!.w)).toBe(Number(before!.w) + 1);
      expect(Number(after!.a)).toBe(Number(before!.a) + 2);
      const got = await call({ method: 'GET', url: `/v1/withdrawals/${p.withdrawal.id}` });
      expect(got.json()).toMatchObject({ id: p.withdrawal.id, status: 'rejected' });
    }
  });

  it('signatures: invalid, from another key, tampered body/path/key/timestamp, wrong length, missing headers', async () => {
    const foreign = { credentialId: full.credentialId, privateKey: generateCredentialKey().privateKey };
    await expectRefused({ body: btcBody(), cred: foreign }, 401, 'signature_invalid');
    const set = (name: string, value: string) => (h: Record<string, string>, b: Buffer | undefined) => ({ headers: { ...h, [name]: value }, body: b });
    await expectRefused({ body: btcBody(), after: set('x-custos-signature', randomBytes(64).toString('base64url')) }, 401, 'signature_invalid');
    await expectRefused({ body: btcBody(), after: set('x-custos-signature', randomBytes(32).toString('base64url')) }, 401, 'signature_invalid');
    await expectRefused({ body: btcBody(), after: set('x-custos-signature', '') }, 401, 'auth_missing');
    await expectRefused({ body: btcBody(), after: (h) => ({ headers: h, body: Buffer.from(JSON.stringify(btcBody('9'))) }) }, 401, 'signature_invalid');
    await expectRefused({ body: btcBody(), after: (h, b) => ({ headers: h, body: Buffer.concat([b!, Buffer.from(' ')]) }) }, 401, 'signature_invalid');
    await expectRefused({ body: btcBody(), after: set('idempotency-key', 'swapped-key') }, 401, 'signature_invalid');
    await expectRefused({ body: btcBody(), after: set('x-custos-timestamp', String(clock.now() + 1)) }, 401, 'signature_invalid');
    await expectRefused({ body: btcBody(), after: set('x-custos-nonce', newNonce()) }, 401, 'signature_invalid');
    await expectRefused({ body: btcBody(), after: set('x-custos-credential', readOnly.credentialId) }, 401, 'signature_invalid');
    await expectRefused({ body: btcBody(), after: set('x-custos-credential', 'cred_doesnotexist00') }, 401, 'credential_invalid');
    await expectRefused({ body: btcBody(), after: set('x-custos-credential', "cred_' OR 1=1 --") }, 401, 'credential_invalid');
    await expectRefused({ body: btcBody(), after: set('x-custos-timestamp', '12.5') }, 401, 'timestamp_invalid');
    await expectRefused({ body: btcBody(), after: set('x-custos-nonce', 'short') }, 401, 'nonce_invalid');
    await expectRefused({ body: btcBody(), cred: null }, 401, 'auth_missing');
    // The path (with its query) is signed: a signature for one withdrawal does not read another.
    const created = (await call({ body: btcBody() })).json() as { id: string };
    const signedFor = signRequest(parsePrivateKey(full.privateKey), full.credentialId, { method: 'GET', path: '/v1/withdrawals', body: new Uint8Array(0), timestamp: clock.now() });
    const res = await app.inject({ method: 'GET', url: `/v1/withdrawals/${created.id}`, headers: signedFor });
    expectProblem(res, 401, 'signature_invalid');
    const asPost = await app.inject({ method: 'GET', url: '/v1/withdrawals', headers: signRequest(parsePrivateKey(full.privateKey), full.credentialId, { method: 'POST', path: '/v1/withdrawals', body: new Uint8Array(0), timestamp: clock.now() }) });
    expectProblem(asPost, 401, 'signature_invalid');
  });

  it('freshness: ±31 s is refused as expired, ±29 s accepted', async () => {
    const now = clock.now();
    await expectRefused({ body: btcBody(), timestamp: now - 31_000 }, 401, 'signature_expired');
    await expectRefused({ body: btcBody(), timestamp: now + 31_000 }, 401, 'signature_expired');
    expect((await call({ body: btcBody(), timestamp: now - 29_000 })).statusCode).toBe(201);
    expect((await call({ body: btcBody(), timestamp: now + 29_000 })).statusCode).toBe(201);
  });

  it('replay: the same signed request sent 8 times at once (one nonce batch) is accepted exactly once', async () => {
    const nonce = newNonce();
    const idem = newKey();
    const body = btcBody('0.0031');
    const res = await Promise.all(Array.from({ length: 8 }, () => call({ body, idem, nonce })));
    expect(res.filter((r) => r.statusCode === 201)).toHaveLength(1);
    expect(res.filter((r) => r.statusCode === 401 && (r.json() as { code: string }).code === 'request_replayed')).toHaveLength(7);
  });

  it('replay: a nonce is accepted once, even with a fresh idempotency key or on another route', async () => {
    const nonce = newNonce();
    const idem = newKey();
    const body = btcBody('0.003');
    expect((await call({ body, idem, nonce })).statusCode).toBe(201);
    // The identical request again (same bytes, same signature) is a replay, not an idempotent retry.
    await expectRefused({ body, idem, nonce }, 401, 'request_replayed');
    await expectRefused({ body: btcBody('0.004'), nonce }, 401, 'request_replayed');
    await expectRefused({ method: 'GET', url: '/v1/withdrawals', nonce }, 401, 'request_replayed');
    // A nonce that failed signature verification is not burned.
    const unburned = newNonce();
    await expectRefused({ body: btcBody(), nonce: unburned, cred: { credentialId: full.credentialId, privateKey: generateCredentialKey().privateKey } }, 401, 'signature_invalid');
    expect((await call({ body: btcBody(), nonce: unburned })).statusCode).toBe(201);
  });

  it('revoked credentials are refused (at once when never used here; within the cache window otherwise)', async () => {
    await expectRefused({ body: btcBody(), cred: revoked }, 401, 'credential_invalid');
    await expectRefused({ method: 'GET', url: '/v1/withdrawals', cred: revoked }, 401, 'credential_invalid');
    const soon = await createCredential(db, { customerId: 'acme', scopes: ['withdraw', 'read'] });
    expect((await call({ method: 'GET', url: '/v1/withdrawals', cred: soon })).statusCode).toBe(200);
    await revokeCredential(db, soon.credentialId);
    clock.advance(5_001);
    await expectRefused({ body: btcBody(), cred: soon }, 401, 'credential_invalid');
  });

  it('a credential without the scope gets 403 scope_missing', async () => {
    await expectRefused({ body: btcBody(), cred: readOnly }, 403, 'scope_missing');
    const writeOnly = await createCredential(db, { customerId: 'acme', scopes: ['withdraw'] });
    await expectRefused({ method: 'GET', url: '/v1/withdrawals', cred: writeOnly }, 403, 'scope_missing');
    expect((await call({ body: btcBody(), cred: writeOnly })).statusCode).toBe(201);
  });

  it('/healthz, /readyz, /openapi.json and /docs answer without a signature', async () => {
    expect((await app.inject({ url: '/healthz' })).json()).toEqual({ status: 'ok' });
    expect((await app.inject({ url: '/readyz' })).json()).toEqual({ status: 'ready' });
    const spec = (await app.inject({ url: '/openapi.json' })).json() as { openapi: string; paths: Record<string, Record<string, unknown>> };
    expect(spec.openapi).toMatch(/^3\./);
    expect(Object.keys(spec.paths)).toEqual(expect.arrayContaining(['/v1/withdrawals', '/v1/withdrawals/{id}', '/healthz', '/readyz']));
    expect(Object.keys(spec.paths['/v1/withdrawals'] ?? {})).toEqual(expect.arrayContaining(['post', 'get']));
    let docs = await app.inject({ url: '/docs' });
    if (docs.statusCode >= 300 && docs.statusCode < 400) docs = await app.inject({ url: new URL(String(docs.headers.location), 'http://x/docs/').pathname });
    expect(docs.statusCode).toBe(200);
    expect(docs.headers['content-type']).toMatch(/text\/html/);
    expect(docs.body).toMatch(/<html/i);
  });

  it('the client SDK over a real socket: submit, read, list, and a 422 as CustosApiError', async () => {
    // The SDK signs with the real time; never move the server clock backwards (list order).
    clock.set(Math.max(clock.now() + 1, Date.now()));
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    const client = new CustosClient({ baseUrl: url, credentialId: full.credentialId, privateKey: full.privateKey, retries: 1 });
    const w = await client.submitWithdrawal({ chain: 'bitcoin', asset: 'BTC', to: BTC_TO, amount: '0.0001' }, newKey());
    expect(w.status).toBe('approved');
    expect((await client.getWithdrawal(w.id)).id).toBe(w.id);
    expect((await client.listWithdrawals({ status: 'approved', limit: 1 })).items).toEqual([{ ...w, transaction: null }]);
    const err = await client.submitWithdrawal({ chain: 'bitcoin', asset: 'BTC', to: BTC_TO, amount: '0' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CustosApiError);
    expect(err).toMatchObject({ status: 422, code: 'amount_zero', problem: { withdrawal: { status: 'rejected' } } });
  });

  it('secrets: no private key or signature reaches a response or a log line', () => {
    expect(logLines.length).toBeGreaterThan(10); // the capture works
    const texts = [...responses, ...logLines];
    for (const c of [full, readOnly, other, revoked]) {
      const seed = c.privateKey.slice('csk1_'.length);
      for (const t of texts) {
        expect(t).not.toContain(c.privateKey);
        expect(t).not.toContain(seed);
      }
    }
    for (const line of logLines) expect(line).not.toMatch(/x-custos-signature"\s*:\s*"[A-Za-z0-9_-]{20,}/);
  });
});
