/**
 * The approval routes over HTTP (a real listener, the client SDK): what an approver signs, the
 * signed decision's refusals as problem+json with their stable codes, and the OpenAPI document.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withdrawalDigest } from '../approvals/digest.js';
import { addApprover } from '../approvals/registry.js';
import type { ApprovalRequestBody } from '../approvals/sign-and-submit.js';
import { signApprovalStatement, type ApprovalStatement } from '../approvals/statement.js';
import { CustosApiError, CustosClient } from '../client/index.js';
import { systemClock } from '../core/clock.js';
import { createCustomer } from '../store/customers.js';
import { openDb, type Db } from '../store/db.js';
import { migrate } from '../store/migrate.js';
import { seedStarter } from '../store/seed.js';
import { getWithdrawal } from '../store/withdrawals.js';
import { buildGateway } from './app.js';
import { createCredential } from './credentials.js';

describe('approval routes', () => {
  let db: Db;
  let url: string;
  let close: () => Promise<void>;
  let submitter: CustosClient;
  let approver: CustosClient;
  const secretKey = ed25519.utils.randomSecretKey();
  beforeAll(async () => {
    db = await openDb({ inMemory: true });
    await migrate(db);
    await seedStarter(db, { customerId: 'acme' });
    await db.tx((q) => createCustomer(q, { id: 'approver-1', name: 'approver-1' }));
    await addApprover(db, systemClock, { approverId: 'approver-1', publicKey: bytesToHex(ed25519.getPublicKey(secretKey)) }, 'test');
    const { app } = await buildGateway({ db });
    url = await app.listen({ port: 0, host: '127.0.0.1' });
    close = () => app.close();
    const client = (c: { credentialId: string; privateKey: string }) => new CustosClient({ baseUrl: url, ...c, retries: 1 });
    submitter = client(await createCredential(db, { customerId: 'acme', scopes: ['withdraw', 'read', 'approve'] }));
    approver = client(await createCredential(db, { customerId: 'approver-1', scopes: ['approve'] }));
  }, 60_000);
  afterAll(async () => {
    await close?.();
    await db?.close();
  });
  const refused = (p: Promise<unknown>) => p.then(() => 'accepted', (e: unknown) => (e instanceof CustosApiError ? `${e.status} ${e.code}` : String(e)));

  it('serves what to sign: the digest equals the one computed from the fields (base units); only eligible approvers may read it', async () => {
    const w = await submitter.submitWithdrawal({ chain: 'ethereum', asset: 'ETH', to: '0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359', amount: '5' });
    const r = await approver.request<ApprovalRequestBody>('GET', `/v1/withdrawals/${w.id}/approval-request`);
    const f = r.digestFields;
    expect(f).toMatchObject({ id: w.id, customerId: 'acme', chain: 'ethereum', asset: 'ETH', amount: '5000000000000000000' });
    const stored = (await getWithdrawal(db, w.id))!;
    expect(r.withdrawalDigest).toBe(withdrawalDigest(stored));
    expect(withdrawalDigest({ ...f, amount: BigInt(f.amount!), fee: BigInt(f.fee!) })).toBe(r.withdrawalDigest);
    expect(r).toMatchObject({ status: 'in_review', quorum: 2, approved: 0, hsmRequired: false });
    expect(await refused(submitter.request('GET', `/v1/withdrawals/${w.id}/approval-request`))).toBe('403 approver_not_eligible');
    // the queue says which eligible approvers have no approval key yet (only approver-1 registered one)
    const queue = await approver.request<{ items: { withdrawal: { id: string }; eligibleWithoutKey: string[] }[] }>('GET', '/v1/reviews');
    expect(queue.items.find((i) => i.withdrawal.id === w.id)?.eligibleWithoutKey).toEqual(['approver-2', 'approver-3']);
    expect(await refused(approver.request('GET', '/v1/withdrawals/wd_nothing/approval-request'))).toBe('404 withdrawal_not_found');
  });

  it('a decision without a signature, or with a malformed one, is refused before anything is looked at; a signed one is recorded with its signature', async () => {
    const w = await submitter.submitWithdrawal({ chain: 'ethereum', asset: 'ETH', to: '0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359', amount: '5' });
    const path = `/v1/withdrawals/${w.id}/approvals`;
    expect(await refused(approver.request('POST', path, { decision: 'approve' }))).toBe('400 approval_signature_required');
    expect(await refused(approver.request('POST', `/v1/withdrawals/${w.id}/rejections`, { comment: 'no' }))).toBe('400 approval_signature_required');
    const r = await approver.request<ApprovalRequestBody>('GET', `/v1/withdrawals/${w.id}/approval-request`);
    const statement: ApprovalStatement = { withdrawalId: w.id, withdrawalDigest: r.withdrawalDigest, policyVersion: r.policyVersion, decision: 'approve', approver: 'approver-1', expiresAt: Date.now() + 60_000 };
    const signature = signApprovalStatement(statement, secretKey);
    expect(await refused(approver.request('POST', path, { decision: 'approve', statement, signature: signature.toUpperCase() }))).toMatch(/^400 /);
    expect(await refused(approver.request('POST', path, { decision: 'approve', statement: { ...statement, extra: 1 }, signature }))).toMatch(/^400 /);
    expect(await refused(approver.request('POST', path, { decision: 'approve', statement: { ...statement, decision: 'maybe' }, signature }))).toMatch(/^400 /);
    const ok = await approver.request<{ result: string; approvals: { approver: string; signature: string; publicKey: string }[] }>('POST', path, { decision: 'approve', statement, signature });
    expect(ok.result).toBe('recorded');
    expect(ok.approvals[0]).toMatchObject({ approver: 'approver-1', signature, publicKey: bytesToHex(ed25519.getPublicKey(secretKey)) });
  });

  it('documents the routes and their codes in the OpenAPI document', async () => {
    const doc = (await (await fetch(`${url}/openapi.json`)).json()) as { paths: Record<string, Record<string, { description?: string }>> };
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v1/withdrawals/{id}/approval-request', '/v1/withdrawals/{id}/approvals', '/v1/withdrawals/{id}/rejections']));
    expect(doc.paths['/v1/withdrawals/{id}/approvals']!.post!.description).toContain('approval_wrong_withdrawal');
  });
});
