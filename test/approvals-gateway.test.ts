/**
 * Review queue and approvals through the signed HTTP API (PGlite): a large transfer to a new
 * address lands in review (201), appears in GET /v1/reviews with its reasons, is approved by 2 of 3
 * approver credentials; the submitter's credential, a replay and an expired withdrawal are refused
 * with stable codes; a read-only credential cannot see the queue.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CustosClient } from '../src/client/index.js';
import { systemClock } from '../src/core/clock.js';
import { buildGateway } from '../src/gateway/app.js';
import { createCredential } from '../src/gateway/credentials.js';
import { createCustomer } from '../src/store/customers.js';
import { openDb, type Db } from '../src/store/db.js';
import { migrate } from '../src/store/migrate.js';
import { seedStarter } from '../src/store/seed.js';

const ETH_TO = '0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed';
const BTC_TO = 'bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq';

describe('approvals over HTTP', () => {
  let db: Db;
  let url: string;
  let close: () => Promise<void>;
  const clock = systemClock;
  const clients: Record<string, CustosClient> = {};

  beforeAll(async () => {
    db = await openDb({ inMemory: true });
    await migrate(db);
    await seedStarter(db, { customerId: 'acme' });
    const { app } = await buildGateway({ db, clock });
    url = await app.listen({ port: 0, host: '127.0.0.1' });
    close = () => app.close();
    const client = async (customerId: string, scopes: ('withdraw' | 'read' | 'approve')[]) => {
      const c = await createCredential(db, { customerId, scopes }, clock);
      return new CustosClient({ baseUrl: url, credentialId: c.credentialId, privateKey: c.privateKey, retries: 1 });
    };
    clients.submitter = await client('acme', ['withdraw', 'read', 'approve']);
    clients.reader = await client('acme', ['read']);
    for (const id of ['approver-1', 'approver-2', 'approver-3']) {
      await db.tx((q) => createCustomer(q, { id, name: id }));
      clients[id] = await client(id, ['approve']);
    }
  }, 120_000);
  afterAll(async () => {
    await close?.();
    await db?.close();
  });

  const refusal = async (p: Promise<unknown>) => {
    const err = (await p.then(() => null, (e: unknown) => e)) as { status?: number; problem?: { code?: string } } | null;
    return { status: err?.status, code: err?.problem?.code };
  };

  it('in review with reasons; 2 of 3 approve; the submitter and a replay are refused', async () => {
    const w = await clients.submitter!.submitWithdrawal({ chain: 'ethereum', asset: 'ETH', to: ETH_TO, amount: '5' }, 'big-1');
    expect(w.status).toBe('in_review');
    const queue = await clients['approver-1']!.request<{ items: { withdrawal: { id: string }; reasons: { code: string }[]; quorum: number; expiresAt: string }[] }>('GET', '/v1/reviews');
    const item = queue.items.find((i) => i.withdrawal.id === w.id)!;
    expect(item.quorum).toBe(2);
    expect(item.reasons.map((r) => r.code)).toEqual(expect.arrayContaining(['new_destination', 'policy_rule_review', 'approval_required']));
    expect(await refusal(clients.reader!.request('GET', '/v1/reviews'))).toEqual({ status: 403, code: expect.any(String) });
    // a customer's credential with the approve scope is not an approver: it cannot read other customers' queue
    expect(await refusal(clients.submitter!.request('GET', '/v1/reviews'))).toEqual({ status: 403, code: 'approver_not_eligible' });

    const path = `/v1/withdrawals/${w.id}/approvals`;
    expect(await refusal(clients.submitter!.request('POST', path, { decision: 'approve' }))).toEqual({ status: 403, code: 'approver_is_submitter' });
    const first = await clients['approver-1']!.request<{ result: string; approved: number }>('POST', path, { decision: 'approve', comment: 'known payee' });
    expect(first).toMatchObject({ result: 'recorded', approved: 1 });
    expect(await refusal(clients['approver-1']!.request('POST', path, { decision: 'approve' }))).toEqual({ status: 409, code: 'approval_duplicate' });
    expect(await refusal(clients['approver-2']!.request('POST', path, { decision: 'maybe' }))).toEqual({ status: 400, code: 'validation_failed' });
    const second = await clients['approver-2']!.request<{ result: string; withdrawal: { status: string; nonce: string | null } }>('POST', path, { decision: 'approve' });
    expect(second.result).toBe('approved');
    expect(second.withdrawal.status).toBe('approved');
    expect((await clients.submitter!.getWithdrawal(w.id)).status).toBe('approved');
    expect(await refusal(clients['approver-3']!.request('POST', path, { decision: 'approve' }))).toEqual({ status: 409, code: 'withdrawal_not_pending' });
  });

  it('a rejection ends it; an expired withdrawal answers 409 approval_expired and is rejected', async () => {
    const a = await clients.submitter!.submitWithdrawal({ chain: 'bitcoin', asset: 'BTC', to: BTC_TO, amount: '0.5' }, 'big-2'); // USD 30,000, new address
    expect(a.status).toBe('in_review');
    const r = await clients['approver-3']!.request<{ result: string; withdrawal: { status: string } }>('POST', `/v1/withdrawals/${a.id}/rejections`, { comment: 'unknown payee' });
    expect(r).toMatchObject({ result: 'rejected', withdrawal: { status: 'rejected' } });

    const b = await clients.submitter!.submitWithdrawal({ chain: 'bitcoin', asset: 'BTC', to: BTC_TO, amount: '0.4' }, 'big-3');
    expect(b.status).toBe('in_review');
    // submitted 25 h ago (the approvals expire after 24 h)
    const expiredNow = await db.query('UPDATE withdrawals SET created_at = $2 WHERE id = $1 RETURNING id', [b.id, new Date(Date.now() - 25 * 3_600_000).toISOString()]);
    expect(expiredNow).toHaveLength(1);
    expect(await refusal(clients['approver-1']!.request('POST', `/v1/withdrawals/${b.id}/approvals`, { decision: 'approve' }))).toEqual({ status: 409, code: 'approval_expired' });
    expect((await clients.submitter!.getWithdrawal(b.id)).status).toBe('rejected');
  });
});
