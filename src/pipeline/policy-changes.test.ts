import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../core/clock.js';
import { createCredential } from '../gateway/credentials.js';
import { signPolicyChange, type PolicyChangeProposal } from '../policy/governance.js';
import { simulate } from '../policy/simulate.js';
import { DAY_MS } from '../policy/windows.js';
import type { Db } from '../store/db.js';
import { seedStarter } from '../store/seed.js';
import { TEST_DBS } from '../store/test-helpers/db.js';
import { activePolicy, ensureStarterPolicy, installInitialPolicy } from './active-policy.js';
import { submitWithdrawal } from './intake.js';
import { applyChange, approveChange, getChange, proposeChange } from './policy-changes.js';
import { loadPastWithdrawals } from './simulate-history.js';
import { starterPolicyDocument } from './starter-policy.js';
import { testAdmins } from './test-helpers/policy.js';

const T0 = Date.UTC(2030, 2, 3, 10, 0, 0);

describe.each(TEST_DBS)('policy changes and simulation on $name', (backend) => {
  let db: Db;
  const clock = manualClock(T0);
  const { admins, secrets } = testAdmins(3);
  beforeAll(async () => {
    db = await backend.open();
  }, 120_000);
  afterAll(async () => {
    await db?.close();
  });

  it('the starter policy is replaced once by init; then only an admin quorum (never the proposer) changes it, and intake sees the new version at once', async () => {
    await ensureStarterPolicy(db, T0);
    await expect(proposeChange(db, starterPolicyDocument({ admins, version: 2 }), 'admin-1', T0)).rejects.toMatchObject({ code: 'policy_starter' });
    await installInitialPolicy(db, starterPolicyDocument({ admins, version: 2 }), 'operator', T0);
    await expect(installInitialPolicy(db, starterPolicyDocument({ admins, version: 3 }), 'operator', T0)).rejects.toMatchObject({ code: 'policy_governed' });

    const strict = starterPolicyDocument({ admins, version: 3 });
    strict.limits = { default: { perAsset: { SOL: { perTransaction: '1' } } } };
    const { id, proposal } = await proposeChange(db, strict, 'admin-1', T0);
    const sign = (who: string, p: PolicyChangeProposal = proposal) => signPolicyChange(p, who, secrets[who]!);
    await expect(approveChange(db, id, sign('admin-1'), T0)).rejects.toMatchObject({ code: 'approver_is_proposer' });
    expect(await approveChange(db, id, sign('admin-2'), T0)).toEqual({ approvals: 1, quorum: 2 });
    await expect(approveChange(db, id, sign('admin-2'), T0)).rejects.toMatchObject({ code: 'approval_duplicate' });
    await expect(approveChange(db, id, { approver: 'admin-3', signature: sign('admin-3', { ...proposal, version: 4 }).signature }, T0)).rejects.toMatchObject({ code: 'approval_signature_invalid' });
    await expect(applyChange(db, id, 'operator', T0)).rejects.toMatchObject({ code: 'quorum_not_reached' });
    expect((await activePolicy(db)).version).toBe(2);

    await seedStarter(db, { customerId: 'acme', now: T0 });
    const cred = (await createCredential(db, { customerId: 'acme', scopes: ['withdraw'] }, clock)).credentialId;
    const sol = (k: string, amount: string) =>
      submitWithdrawal(db, clock, { customerId: 'acme', credentialId: cred, idempotencyKey: k, request: { chain: 'solana', asset: 'SOL', to: '83astBRguLMdt2h5U1Tpdq5tjFoJ6noeGwaY3mDLVcri', amount } });
    expect((await sol('before', '2')).withdrawal.status).toBe('approved');

    expect(await approveChange(db, id, sign('admin-3'), T0)).toEqual({ approvals: 2, quorum: 2 });
    expect(await applyChange(db, id, 'operator', T0)).toMatchObject({ version: 3 });
    expect((await getChange(db, id)).status).toBe('applied');
    await expect(applyChange(db, id, 'operator', T0)).rejects.toMatchObject({ code: 'policy_proposal_closed' });
    clock.advance(60_000);
    const after = (await sol('after', '2')).withdrawal;
    expect(after.status).toBe('rejected');
    expect(after.decisions.find((d) => d.stage === 'rules')).toMatchObject({ policyVersion: 3, reasons: [{ code: 'asset_per_transaction_limit' }] });
    const actions = await db.query<{ action: string }>("SELECT action FROM audit_entries WHERE action LIKE 'policy.%' ORDER BY id");
    expect(actions.map((a) => a.action)).toEqual(['policy.installed', 'policy.installed', 'policy.proposed', 'policy.approved', 'policy.approved', 'policy.changed']);
  });

  it('simulate replays the stored withdrawals against a draft and names those that would change', async () => {
    const past = await loadPastWithdrawals(db, T0 - DAY_MS, T0 + DAY_MS);
    expect(past.map((p) => p.recorded)).toEqual(['approve', 'block']);
    const draft = (await activePolicy(db)).policy; // the strict version 3
    const r = simulate(draft, past, { replayCounters: true });
    expect(r.before).toMatchObject({ approve: 1, block: 1 });
    expect(r.after).toMatchObject({ approve: 0, block: 2 });
    expect(r.changed).toHaveLength(1);
    expect(r.changed[0]).toMatchObject({ before: 'approve', after: 'block' });
  });
});
