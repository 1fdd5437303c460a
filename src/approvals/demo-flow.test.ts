import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildGateway } from '../gateway/app.js';
import { createCredential } from '../gateway/credentials.js';
import { openDb, type Db } from '../store/db.js';
import { migrate } from '../store/migrate.js';
import { seedStarter } from '../store/seed.js';
import { listApprovals } from '../store/approvals.js';
import { getWithdrawal } from '../store/withdrawals.js';
import { demoReviewAndApprove } from './demo-flow.js';
import { withdrawalDigest } from './digest.js';
import { approvalStatementVerifies } from './statement.js';

describe('demo review and approval flow', () => {
  let db: Db;
  let url: string;
  let close: () => Promise<void>;
  beforeAll(async () => {
    db = await openDb({ inMemory: true });
    await migrate(db);
    await seedStarter(db, { customerId: 'demo' });
    const { app } = await buildGateway({ db });
    url = await app.listen({ port: 0, host: '127.0.0.1' });
    close = () => app.close();
  }, 60_000);
  afterAll(async () => {
    await close?.();
    await db?.close();
  });

  it('lands in review and is approved by 2 of 3 approvers with signed approvals; the submitter, a repeat and a borrowed key are refused', async () => {
    const submitter = await createCredential(db, { customerId: 'demo', scopes: ['withdraw', 'read'] }); // as custos demo makes it
    const r = await demoReviewAndApprove(db, { baseUrl: url, submitter });
    const text = r.lines.join('\n');
    expect(r.lines[1]).toMatch(/→ in_review$/);
    expect(text).toContain('policy_rule_review');
    expect(text).toMatch(/the submitter itself approves → refused 403 approver_is_submitter/);
    expect(text).toMatch(/approver-1 signs and approves → recorded \(1 of 2\)/);
    expect(text).toMatch(/approver-1 again signs and approves → refused 409 approval_duplicate/);
    expect(text).toMatch(/approver-3 with approver-1's approval key signs and approves → refused 403 approval_signer_mismatch/);
    expect(text).toMatch(/approver-2 signs and approves → approved \(2 of 2\), status approved/);
    expect(text).toMatch(/approver-3 signs and approves → refused 409 withdrawal_not_pending/);
    // the stored approvals carry signatures that verify under the registered keys
    const w = (await getWithdrawal(db, r.withdrawalId))!;
    expect(w.status).toBe('approved');
    const approvals = await listApprovals(db, w.id);
    expect(approvals.map((a) => a.approverId)).toEqual(['approver-1', 'approver-2']);
    for (const a of approvals) {
      const key = r.approverKeys.find((k) => k.approver === a.approverId)!;
      expect(a.publicKey).toBe(key.publicKey);
      const statement = { withdrawalId: w.id, withdrawalDigest: withdrawalDigest(w), policyVersion: a.policyVersion, decision: 'approve' as const, approver: a.approverId, expiresAt: a.signatureExpiresAt! };
      expect(approvalStatementVerifies(statement, a.signature!, key.publicKey)).toBe(true);
    }
    // a second run rotates the demo keys (revoke + add, audited) and works again
    const again = await demoReviewAndApprove(db, { baseUrl: url, submitter });
    expect(again.lines.join('\n')).toMatch(/approver-2 signs and approves → approved \(2 of 2\)/);
    expect(again.approverKeys[0]!.publicKey).not.toBe(r.approverKeys[0]!.publicKey);
    const actions = await db.query<{ action: string }>("SELECT action FROM audit_entries WHERE subject = 'approver:approver-1' ORDER BY id");
    expect(actions.map((x) => x.action)).toEqual(['approver.added', 'approver.revoked', 'approver.added']);
  });
});
