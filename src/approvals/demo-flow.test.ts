import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildGateway } from '../gateway/app.js';
import { createCredential } from '../gateway/credentials.js';
import { openDb, type Db } from '../store/db.js';
import { migrate } from '../store/migrate.js';
import { seedStarter } from '../store/seed.js';
import { demoReviewAndApprove } from './demo-flow.js';

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

  it('lands in review and is approved by 2 of 3 approvers; the submitter and a repeat are refused', async () => {
    const submitter = await createCredential(db, { customerId: 'demo', scopes: ['withdraw', 'read', 'approve'] });
    const lines = await demoReviewAndApprove(db, { baseUrl: url, submitter });
    const text = lines.join('\n');
    expect(lines[0]).toMatch(/→ in_review$/);
    expect(text).toContain('policy_rule_review');
    expect(text).toMatch(/the submitter itself approves → refused 403 approver_is_submitter/);
    expect(text).toMatch(/approver-1 approves → recorded \(1 of 2\)/);
    expect(text).toMatch(/approver-1 again approves → refused 409 approval_duplicate/);
    expect(text).toMatch(/approver-2 approves → approved \(2 of 2\), status approved/);
    expect(text).toMatch(/approver-3 approves → refused 409 withdrawal_not_pending/);
  });
});
