import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../core/clock.js';
import { createCredential } from '../gateway/credentials.js';
import { hsmTokenOf } from './authorization.js';
import { approvalKeyId, approvalSigningBytes, encodeApprovalToken, type ApprovalPayload } from '../hsm/approval-token.js';
import { ensureStarterPolicy, installInitialPolicy } from '../pipeline/active-policy.js';
import { submitWithdrawal } from '../pipeline/intake.js';
import { starterPolicyDocument } from '../pipeline/starter-policy.js';
import { testAdmins } from '../pipeline/test-helpers/policy.js';
import { DAY_MS, HOUR_MS } from '../policy/windows.js';
import { createCustomer } from '../store/customers.js';
import type { Db } from '../store/db.js';
import { seedStarter } from '../store/seed.js';
import { TEST_DBS } from '../store/test-helpers/db.js';
import type { WithdrawalRecord } from '../store/withdrawals.js';
import { decideApproval, expireOverdue, type Approver } from './decide.js';
import { withdrawalDigest } from './digest.js';
import { reviewQueue } from './queue.js';
import { addApprover, revokeApprover } from './registry.js';
import { approvalStatementVerifies, signApprovalStatement, type ApprovalStatement } from './statement.js';

const ETH_TO = '0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed';
const T0 = Date.UTC(2030, 4, 1, 12, 0, 0);

describe.each(TEST_DBS)('approvals on $name', (backend) => {
  let db: Db;
  const clock = manualClock(T0);
  let submitter: Approver;
  const approvers: Record<string, Approver> = {};
  // Approval keys: approver id → secret key (the registry holds the public keys)
  const keys: Record<string, Uint8Array> = {};
  let serial = 0;
  const hsmSecret = ed25519.utils.randomSecretKey();
  const hsmKeys = [{ algorithm: 'ed25519' as const, publicKey: ed25519.getPublicKey(hsmSecret) }];

  beforeAll(async () => {
    db = await backend.open();
    await ensureStarterPolicy(db, T0);
    // the starter policy with an HSM approval from USD 20,000 (no total cap in the way)
    const doc = starterPolicyDocument({ admins: testAdmins().admins, version: 2 });
    (doc.approvals as Record<string, unknown>).hsmFromReference = '20000';
    await installInitialPolicy(db, doc, 'test', T0);
    await seedStarter(db, { customerId: 'acme', now: T0 });
    submitter = { customerId: 'acme', credentialId: (await createCredential(db, { customerId: 'acme', scopes: ['withdraw', 'approve'] }, clock)).credentialId };
    for (const id of ['approver-1', 'approver-2', 'approver-3', 'outsider']) {
      await db.tx((q) => createCustomer(q, { id, name: id }));
      approvers[id] = { customerId: id, credentialId: (await createCredential(db, { customerId: id, scopes: ['approve'] }, clock)).credentialId };
      keys[id] = ed25519.utils.randomSecretKey();
      await addApprover(db, clock, { approverId: id, publicKey: bytesToHex(ed25519.getPublicKey(keys[id])) }, 'test');
    }
    // the submitting customer registered as an approver too: its signature must still be refused
    keys.acme = ed25519.utils.randomSecretKey();
    await addApprover(db, clock, { approverId: 'acme', publicKey: bytesToHex(ed25519.getPublicKey(keys.acme)) }, 'test');
  }, 120_000);
  afterAll(async () => {
    await db?.close();
  });

  const submit = async (amount: string): Promise<WithdrawalRecord> => {
    const w = (await submitWithdrawal(db, clock, { customerId: 'acme', credentialId: submitter.credentialId, idempotencyKey: `k${++serial}`, request: { chain: 'ethereum', asset: 'ETH', to: ETH_TO, amount } })).withdrawal;
    byId.set(w.id, w);
    return w;
  };
  const byId = new Map<string, WithdrawalRecord>();
  /** The statement `who` signs for a decision on `w` (as `custos approve` builds it). */
  const statementFor = (w: WithdrawalRecord, approver: string, decision: 'approve' | 'reject', over: Partial<ApprovalStatement> = {}): ApprovalStatement => ({
    withdrawalId: w.id, withdrawalDigest: withdrawalDigest(w), policyVersion: 2, decision, approver, expiresAt: clock.now() + 10 * 60_000, ...over,
  });
  const decideSigned = (id: string, who: Approver, decision: 'approve' | 'reject', statement: ApprovalStatement, signature: string, hsmToken?: string) =>
    decideApproval(db, clock, { withdrawalId: id, approver: who, decision, comment: 'checked', hsmToken, statement, signature }, { hsmKeys });
  const decide = (id: string, who: Approver, decision: 'approve' | 'reject' = 'approve', hsmToken?: string) => {
    const statement = statementFor(byId.get(id)!, who.customerId, decision);
    return decideSigned(id, who, decision, statement, signApprovalStatement(statement, keys[who.customerId] ?? ed25519.utils.randomSecretKey()), hsmToken);
  };
  const auditActions = async (id: string) =>
    (await db.query<{ action: string }>('SELECT action FROM audit_entries WHERE subject = $1 ORDER BY id', [`withdrawal:${id}`])).map((r) => r.action);
  const ethReserved = async () => {
    const [r] = await db.query<{ a: string | null }>('SELECT SUM(amount)::text AS a FROM policy_counters WHERE scope = $1 AND bucket_ms = $2', [JSON.stringify(['acme', 'ETH', 'asset']), DAY_MS]);
    return BigInt(r?.a ?? '0');
  };
  const walletHeld = async () => BigInt((await db.query<{ r: string }>("SELECT reserved::text AS r FROM accounts WHERE id = 'hot-eth'"))[0]!.r);

  it('a large transfer to a new address waits in the queue and is approved by 2 of 3 approvers, each step audited', async () => {
    const w = await submit('5'); // USD 15,000 to a new address: review, 2 approvals
    expect(w.status).toBe('in_review');
    const queue = await reviewQueue(db, { limit: 50 });
    const item = queue.find((i) => i.withdrawal.id === w.id)!;
    expect(item.requirement.quorum).toBe(2);
    expect(item.reasons.map((r) => r.code)).toContain('policy_rule_review');
    expect(item.expiresAt).toBe(w.createdAt + 24 * HOUR_MS);

    const first = await decide(w.id, approvers['approver-1']!);
    expect(first).toMatchObject({ result: 'recorded', quorum: 2, approved: 1 });
    expect(first.withdrawal.status).toBe('in_review');
    const second = await decide(w.id, approvers['approver-2']!);
    expect(second.result).toBe('approved');
    expect(second.withdrawal.status).toBe('approved');
    expect(second.withdrawal.nonce).not.toBeNull();
    expect(second.withdrawal.decisions.at(-1)).toMatchObject({ stage: 'approval', outcome: 'pass', approvers: ['approver-1', 'approver-2'], withdrawalDigest: withdrawalDigest(w) });
    expect(await auditActions(w.id)).toEqual(['withdrawal.received', 'withdrawal.transition', 'withdrawal.approval', 'withdrawal.approval', 'withdrawal.transition']);
    // accepted: the destination is known now
    const [d] = await db.query<{ use_count: number }>("SELECT use_count FROM destinations WHERE customer_id = 'acme'");
    expect(Number(d?.use_count)).toBe(1);
    // a third approval after the fact is refused
    await expect(decide(w.id, approvers['approver-3']!)).rejects.toMatchObject({ code: 'withdrawal_not_pending', status: 409 });
  });

  it('separation of duties: the submitting credential and any credential of the submitting customer are refused; so is a non-approver', async () => {
    const w = await submit('4');
    expect(w.status).toBe('awaiting_approval'); // known destination now: no review, but USD 12,000 needs 2 approvals
    await expect(decide(w.id, submitter)).rejects.toMatchObject({ code: 'approver_is_submitter', status: 403 });
    const sibling = (await createCredential(db, { customerId: 'acme', scopes: ['approve'] }, clock)).credentialId;
    await expect(decide(w.id, { customerId: 'acme', credentialId: sibling })).rejects.toMatchObject({ code: 'approver_is_submitter', status: 403 });
    await expect(decide(w.id, approvers.outsider!)).rejects.toMatchObject({ code: 'approver_not_eligible', status: 403 });
    expect(await auditActions(w.id)).toEqual(['withdrawal.received', 'withdrawal.transition']);
    const [n] = await db.query<{ n: string }>('SELECT count(*)::text AS n FROM withdrawal_approvals WHERE withdrawal_id = $1', [w.id]);
    expect(n?.n).toBe('0');
  });

  it('one decision per approver: a replayed approval, or the same person with another credential, answers 409 and changes nothing', async () => {
    const w = await submit('4');
    await decide(w.id, approvers['approver-1']!);
    await expect(decide(w.id, approvers['approver-1']!)).rejects.toMatchObject({ code: 'approval_duplicate', status: 409 });
    const other = { customerId: 'approver-1', credentialId: (await createCredential(db, { customerId: 'approver-1', scopes: ['approve'] }, clock)).credentialId };
    await expect(decide(w.id, other)).rejects.toMatchObject({ code: 'approval_duplicate', status: 409 });
    // two racing calls by one approver: one wins, the other is refused
    const race = await Promise.allSettled([decide(w.id, approvers['approver-3']!), decide(w.id, approvers['approver-3']!)]);
    expect(race.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(race.find((r) => r.status === 'rejected')).toMatchObject({ reason: { code: expect.stringMatching(/^(approval_duplicate|withdrawal_not_pending)$/) } });
    const [n] = await db.query<{ n: string }>('SELECT count(*)::text AS n FROM withdrawal_approvals WHERE withdrawal_id = $1', [w.id]);
    expect(n?.n).toBe('2');
  });

  it('one rejection ends it and releases the counter reservation and the balance hold', async () => {
    const before = await ethReserved();
    const heldBefore = await walletHeld();
    const w = await submit('4');
    expect(await ethReserved()).toBe(before + 4n * 10n ** 18n);
    expect(await walletHeld()).toBe(heldBefore + 4n * 10n ** 18n + (w.fee as bigint)); // amount and fee, in ETH
    const r = await decide(w.id, approvers['approver-2']!, 'reject');
    expect(r.result).toBe('rejected');
    expect(r.withdrawal.status).toBe('rejected');
    expect(r.withdrawal.decisions.at(-1)).toMatchObject({ stage: 'approval', outcome: 'reject', reasons: [{ code: 'approval_rejected' }] });
    expect(await ethReserved()).toBe(before);
    expect(await walletHeld()).toBe(heldBefore);
    expect(await auditActions(w.id)).toEqual(['withdrawal.received', 'withdrawal.transition', 'withdrawal.rejection', 'withdrawal.transition']);
  });

  it('after expiry a withdrawal can no longer be approved: it is rejected with approval_expired', async () => {
    const w = await submit('4');
    await decide(w.id, approvers['approver-1']!);
    clock.advance(24 * HOUR_MS);
    const r = await decide(w.id, approvers['approver-2']!);
    expect(r.result).toBe('expired');
    expect(r.withdrawal.status).toBe('rejected');
    expect(r.withdrawal.decisions.at(-1)).toMatchObject({ reasons: [{ code: 'approval_expired' }] });
    expect(r.approved).toBe(1); // the late approval was not recorded
    await expect(decide(w.id, approvers['approver-3']!)).rejects.toMatchObject({ code: 'withdrawal_not_pending' });
    expect(await auditActions(w.id)).toEqual(['withdrawal.received', 'withdrawal.transition', 'withdrawal.approval', 'withdrawal.transition']);
  });

  it('expireOverdue rejects what expired, releases its reservation, and leaves the rest waiting', async () => {
    await expireOverdue(db, clock); // leftovers of the tests above (the clock moved a day)
    const before = await ethReserved();
    const old = await submit('4');
    clock.advance(23 * HOUR_MS);
    const young = await submit('4');
    expect(await expireOverdue(db, clock)).toEqual([]);
    clock.advance(HOUR_MS);
    expect(await expireOverdue(db, clock)).toEqual([old.id]);
    expect((await reviewQueue(db, { limit: 50 })).map((i) => i.withdrawal.id)).toEqual([young.id]);
    expect(await ethReserved()).toBe(before + 4n * 10n ** 18n);
    expect(await auditActions(old.id)).toEqual(['withdrawal.received', 'withdrawal.transition', 'withdrawal.transition']);
    await decide(young.id, approvers['approver-1']!, 'reject');
  });

  it('high value needs an HSM approval token for exactly this withdrawal; a token for another one is refused and changes nothing', async () => {
    const w = await submit('8'); // USD 24,000 ≥ 20,000: HSM
    expect(w.status).toBe('awaiting_approval');
    const payload = (x: WithdrawalRecord, over: Partial<ApprovalPayload> = {}): ApprovalPayload => ({
      withdrawalId: x.id,
      withdrawalDigest: withdrawalDigest(x),
      asset: x.asset,
      amount: x.amount!,
      destination: x.to,
      policyVersion: 2,
      approvers: ['approver-1', 'approver-2'],
      issuedAt: clock.now(),
      expiresAt: clock.now() + HOUR_MS,
      ...over,
    });
    const token = (p: ApprovalPayload, sk = hsmSecret) =>
      encodeApprovalToken({ v: 1, algorithm: 'ed25519', keyId: approvalKeyId(ed25519.getPublicKey(sk)), payload: p, signature: ed25519.sign(approvalSigningBytes(p), sk) });
    await decide(w.id, approvers['approver-1']!);
    const noToken = await decide(w.id, approvers['approver-2']!);
    expect(noToken).toMatchObject({ result: 'recorded', hsmRequired: true, approved: 2 });
    expect(noToken.withdrawal.status).toBe('awaiting_approval');
    await expect(decide(w.id, approvers['approver-3']!, 'approve', token(payload(w, { amount: w.amount! + 1n })))).rejects.toMatchObject({ code: 'approval_mismatch' });
    await expect(decide(w.id, approvers['approver-3']!, 'approve', token(payload(w), ed25519.utils.randomSecretKey()))).rejects.toMatchObject({ code: 'approval_unknown_key' });
    const [n] = await db.query<{ n: string }>('SELECT count(*)::text AS n FROM withdrawal_approvals WHERE withdrawal_id = $1', [w.id]);
    expect(n?.n).toBe('2');
    const good = token(payload(w));
    const ok = await decide(w.id, approvers['approver-3']!, 'approve', good);
    expect(ok.result).toBe('approved');
    expect(ok.withdrawal.decisions.at(-1)!.reasons.map((r) => r.code)).toEqual(['quorum_reached', 'hsm_approval_verified']);
    // kept with the decision, so the signing authorization carries it to the nodes
    expect(hsmTokenOf(ok.withdrawal)).toEqual({ hsmToken: good });
    expect(hsmTokenOf({ decisions: [] })).toEqual({});
  });

  describe('approval signatures', () => {
    const count = async (id: string) => Number((await db.query<{ n: string }>('SELECT count(*)::text AS n FROM withdrawal_approvals WHERE withdrawal_id = $1', [id]))[0]?.n);
    const a1 = () => approvers['approver-1']!;
    const sign = (s: ApprovalStatement, who = 'approver-1') => signApprovalStatement(s, keys[who]!);

    it('stores the signature, its expiry and the key with the approval and in the audit entry', async () => {
      const w = await submit('4');
      const r = await decide(w.id, a1());
      const [stored] = r.approvals;
      expect(stored).toMatchObject({ approverId: 'approver-1', publicKey: bytesToHex(ed25519.getPublicKey(keys['approver-1']!)), signatureExpiresAt: clock.now() + 10 * 60_000 });
      const s = statementFor(w, 'approver-1', 'approve');
      expect(approvalStatementVerifies(s, stored!.signature!, stored!.publicKey!)).toBe(true);
      const [audit] = await db.query<{ body: string }>("SELECT body FROM audit_entries WHERE subject = $1 AND action = 'withdrawal.approval'", [`withdrawal:${w.id}`]);
      expect(audit!.body).toContain(stored!.signature!);
      await decide(w.id, approvers['approver-2']!, 'reject');
    });

    it('refuses, with stable codes and without any change: no signature, unregistered, wrong signer, forged, another withdrawal / decision / policy version, expired', async () => {
      const w = await submit('4');
      const other = await submit('4');
      const ok = statementFor(w, 'approver-1', 'approve');
      const cases: [string, () => Promise<unknown>][] = [
        ['approval_signature_required', () => decideApproval(db, clock, { withdrawalId: w.id, approver: a1(), decision: 'approve' })],
        ['approval_signer_mismatch', () => decideSigned(w.id, a1(), 'approve', statementFor(w, 'approver-2', 'approve'), sign(statementFor(w, 'approver-2', 'approve'), 'approver-2'))],
        ['approval_signature_invalid', () => decideSigned(w.id, a1(), 'approve', ok, signApprovalStatement(ok, ed25519.utils.randomSecretKey()))],
        ['approval_signature_invalid', () => decideSigned(w.id, a1(), 'approve', { ...ok, expiresAt: ok.expiresAt + 1 }, sign(ok))],
        ['approval_wrong_withdrawal', () => decideSigned(w.id, a1(), 'approve', statementFor(other, 'approver-1', 'approve'), sign(statementFor(other, 'approver-1', 'approve')))],
        ['approval_wrong_withdrawal', () => decideSigned(w.id, a1(), 'approve', { ...ok, withdrawalDigest: withdrawalDigest(other) }, sign({ ...ok, withdrawalDigest: withdrawalDigest(other) }))],
        ['approval_wrong_decision', () => decideSigned(w.id, a1(), 'reject', ok, sign(ok))],
        ['approval_wrong_decision', () => decideSigned(w.id, a1(), 'approve', statementFor(w, 'approver-1', 'reject'), sign(statementFor(w, 'approver-1', 'reject')))],
        ['approval_wrong_policy_version', () => decideSigned(w.id, a1(), 'approve', { ...ok, policyVersion: 1 }, sign({ ...ok, policyVersion: 1 }))],
        ['approval_signature_expired', () => decideSigned(w.id, a1(), 'approve', { ...ok, expiresAt: clock.now() }, sign({ ...ok, expiresAt: clock.now() }))],
        ['approval_signature_expiry_too_far', () => decideSigned(w.id, a1(), 'approve', { ...ok, expiresAt: clock.now() + 25 * HOUR_MS }, sign({ ...ok, expiresAt: clock.now() + 25 * HOUR_MS }))],
        // the submitting customer, although registered as an approver with a valid key: separation of duties
        ['approver_is_submitter', () => decideSigned(w.id, submitter, 'approve', statementFor(w, 'acme', 'approve'), sign(statementFor(w, 'acme', 'approve'), 'acme'))],
      ];
      for (const [expected, f] of cases) await expect(f(), expected).rejects.toMatchObject({ code: expected });
      expect(await count(w.id)).toBe(0);
      expect(await auditActions(w.id)).toEqual(['withdrawal.received', 'withdrawal.transition']);
      expect((await decideSigned(w.id, a1(), 'approve', ok, sign(ok))).result).toBe('recorded');
      // the very same signed statement again (a replay): one decision per approver
      await expect(decideSigned(w.id, a1(), 'approve', ok, sign(ok))).rejects.toMatchObject({ code: 'approval_duplicate', status: 409 });
      // moved onto the other withdrawal by another credential of the same approver: wrong withdrawal
      const sibling = { customerId: 'approver-1', credentialId: (await createCredential(db, { customerId: 'approver-1', scopes: ['approve'] }, clock)).credentialId };
      await expect(decideSigned(other.id, sibling, 'approve', ok, sign(ok))).rejects.toMatchObject({ code: 'approval_wrong_withdrawal' });
      expect(await count(w.id)).toBe(1);
      expect(await count(other.id)).toBe(0);
      await decide(w.id, approvers['approver-2']!, 'reject');
      await decide(other.id, approvers['approver-2']!, 'reject');
    });

    it('a rejection is signed too; a revoked key no longer counts; a rotated key does', async () => {
      const w = await submit('4');
      const rej = statementFor(w, 'approver-3', 'reject');
      await expect(decideSigned(w.id, approvers['approver-3']!, 'reject', rej, sign(rej, 'approver-1'))).rejects.toMatchObject({ code: 'approval_signature_invalid' });
      await revokeApprover(db, clock, 'approver-3', 'test');
      await expect(decideSigned(w.id, approvers['approver-3']!, 'reject', rej, sign(rej, 'approver-3'))).rejects.toMatchObject({ code: 'approver_not_registered', status: 403 });
      keys['approver-3'] = ed25519.utils.randomSecretKey();
      await addApprover(db, clock, { approverId: 'approver-3', publicKey: bytesToHex(ed25519.getPublicKey(keys['approver-3'])) }, 'test');
      const r = await decideSigned(w.id, approvers['approver-3']!, 'reject', rej, sign(rej, 'approver-3'));
      expect(r.result).toBe('rejected');
    });
  });
});
