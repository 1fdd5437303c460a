/**
 * Review queue and approvals through the signed HTTP API (PGlite): a large transfer to a new
 * address lands in review (201), appears in GET /v1/reviews with its reasons, is approved by 2 of 3
 * approvers (each an approver credential plus a registered approval key signing the decision);
 * the submitter's credential, a replay and an expired withdrawal are refused with stable codes; a
 * read-only credential cannot see the queue.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newApprovalKeyFile, parseApprovalKeyFile, type ApproverSigningKey } from '../src/approvals/key-file.js';
import { addApprover } from '../src/approvals/registry.js';
import { signAndSubmitDecision } from '../src/approvals/sign-and-submit.js';
import { signApprovalStatement } from '../src/approvals/statement.js';
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
  const keys: Record<string, ApproverSigningKey> = {};

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
      keys[id] = parseApprovalKeyFile(newApprovalKeyFile(id, ed25519.utils.randomSecretKey()).text);
      await addApprover(db, clock, { approverId: id, publicKey: keys[id].publicKey }, 'test');
    }
  }, 120_000);
  afterAll(async () => {
    await close?.();
    await db?.close();
  });

  /** An approver's signed decision, as `custos approve|reject ID --key FILE` makes it. */
  const decide = async (who: string, id: string, decision: 'approve' | 'reject' = 'approve', comment?: string) =>
    (await signAndSubmitDecision(clients[who]!, id, keys[who]!, { decision, now: Date.now(), ...(comment ? { comment } : {}) })).outcome;
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
    // unsigned: refused before anything else; signed by the submitter with a key of its own: separation of duties
    expect(await refusal(clients.submitter!.request('POST', path, { decision: 'approve' }))).toEqual({ status: 400, code: 'approval_signature_required' });
    const req = await clients['approver-1']!.request<{ withdrawalDigest: string; policyVersion: number }>('GET', `/v1/withdrawals/${w.id}/approval-request`);
    const own = { withdrawalId: w.id, withdrawalDigest: req.withdrawalDigest, policyVersion: req.policyVersion, decision: 'approve' as const, approver: 'acme', expiresAt: Date.now() + 60_000 };
    expect(await refusal(clients.submitter!.request('POST', path, { decision: 'approve', statement: own, signature: signApprovalStatement(own, ed25519.utils.randomSecretKey()) })))
      .toEqual({ status: 403, code: 'approver_is_submitter' });
    const first = await decide('approver-1', w.id, 'approve', 'known payee');
    expect(first).toMatchObject({ result: 'recorded', approved: 1 });
    expect(await refusal(decide('approver-1', w.id))).toEqual({ status: 409, code: 'approval_duplicate' });
    expect(await refusal(clients['approver-2']!.request('POST', path, { decision: 'maybe' }))).toEqual({ status: 400, code: 'validation_failed' });
    // approver-2's credential carrying approver-1's signature
    expect(await refusal(signAndSubmitDecision(clients['approver-2']!, w.id, keys['approver-1']!, { decision: 'approve', now: Date.now() }))).toEqual({ status: 403, code: 'approval_signer_mismatch' });
    const second = await decide('approver-2', w.id);
    expect(second.result).toBe('approved');
    expect(second.withdrawal.status).toBe('approved');
    expect((await clients.submitter!.getWithdrawal(w.id)).status).toBe('approved');
    expect(await refusal(decide('approver-3', w.id))).toEqual({ status: 409, code: 'withdrawal_not_pending' });
  });

  it('a rejection ends it; an expired withdrawal answers 409 approval_expired and is rejected', async () => {
    const a = await clients.submitter!.submitWithdrawal({ chain: 'bitcoin', asset: 'BTC', to: BTC_TO, amount: '0.5' }, 'big-2'); // USD 30,000, new address
    expect(a.status).toBe('in_review');
    const r = await decide('approver-3', a.id, 'reject', 'unknown payee');
    expect(r).toMatchObject({ result: 'rejected', withdrawal: { status: 'rejected' } });

    const b = await clients.submitter!.submitWithdrawal({ chain: 'bitcoin', asset: 'BTC', to: BTC_TO, amount: '0.4' }, 'big-3');
    expect(b.status).toBe('in_review');
    // submitted 25 h ago (the approvals expire after 24 h)
    const expiredNow = await db.query('UPDATE withdrawals SET created_at = $2 WHERE id = $1 RETURNING id', [b.id, new Date(Date.now() - 25 * 3_600_000).toISOString()]);
    expect(expiredNow).toHaveLength(1);
    expect(await refusal(decide('approver-1', b.id))).toEqual({ status: 409, code: 'approval_expired' });
    expect((await clients.submitter!.getWithdrawal(b.id)).status).toBe('rejected');
  });
});
