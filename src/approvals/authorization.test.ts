import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { describe, expect, it } from 'vitest';
import type { Decision } from '../core/decision.js';
import { rawMessageDigest, verifyAuthorization } from '../mpc/node/authorization.js';
import type { ApprovalRecord } from '../store/approvals.js';
import type { WithdrawalRecord } from '../store/withdrawals.js';
import { authorizedWithdrawal, issueSigningAuthorization, signApprovalsFor } from './authorization.js';
import { thrownCode } from '../core/test-helpers/thrown-code.js';

const policySecretKey = ed25519.utils.randomSecretKey();
const policyPublicKey = bytesToHex(ed25519.getPublicKey(policySecretKey));
const signers = ['alice', 'bob', 'carol'].map((approver) => ({ approver, secretKey: ed25519.utils.randomSecretKey() }));
const approverKeys = signers.map((s) => ({ approver: s.approver, publicKey: bytesToHex(ed25519.getPublicKey(s.secretKey)) }));
const T = Date.UTC(2030, 0, 1);
const tx = new Uint8Array(120).fill(7);

function withdrawal(over: Partial<WithdrawalRecord> = {}, quorum = 2): WithdrawalRecord {
  const rules = { stage: 'rules', outcome: 'pass', reasons: [], policyVersion: 4,
    approval: { quorum, eligible: ['alice', 'bob', 'carol'], excluded: ['acme'], requiresHsm: false, expiresAfterMs: 86_400_000 } } as Decision;
  return {
    id: 'wd_1', customerId: 'acme', credentialId: 'cred_acme0000', accountId: 'hot-sol', chain: 'solana', asset: 'SOL', to: 'Dest111', amount: 100_000_000_000n,
    fee: 5_000n, nonce: null, memo: null, status: 'approved', decisions: [rules], request: {}, idempotencyKey: 'k', requestHash: new Uint8Array(32),
    createdAt: T - 60_000, updatedAt: T, ...over,
  };
}

/** Stored approvals as decide.ts writes them, signed by `who` for `w` (or for `signedFor`). */
function stored(w: WithdrawalRecord, who = signers.slice(0, 2), signedFor: WithdrawalRecord = w, policyVersion = 4): ApprovalRecord[] {
  return signApprovalsFor(authorizedWithdrawal(signedFor), policyVersion, who, { at: T - 1_000, expiresAt: T + 600_000 }).map((a, i) => ({
    withdrawalId: w.id, approverId: a.approver, credentialId: `cred_${a.approver}${i}000`, decision: 'approve' as const, comment: '', policyVersion, at: a.at,
    signature: a.signature, signatureExpiresAt: a.expiresAt, publicKey: approverKeys[i]!.publicKey,
  }));
}

const issue = (w: WithdrawalRecord, approvals: ApprovalRecord[], over: { approverKeys?: typeof approverKeys } = {}) =>
  issueSigningAuthorization({ withdrawal: w, approvals, keyId: 'sol-hot', unsignedTx: tx, digest: tx, policySecretKey, now: T, ...over });
const code = (f: () => unknown): string => thrownCode(f, 'issued');

describe('issueSigningAuthorization', () => {
  it('builds the authorization from the withdrawal and its signed approvals; a node with the pinned keys accepts it', () => {
    const w = withdrawal();
    const signed = issue(w, stored(w), { approverKeys });
    const a = signed.authorization;
    expect(a).toMatchObject({
      withdrawalId: 'wd_1', keyId: 'sol-hot', chain: 'solana', to: 'Dest111', amount: '100000000000', policyVersion: 4, expiresAt: T + 5 * 60_000,
      withdrawal: { id: 'wd_1', customerId: 'acme', asset: 'SOL', amount: '100000000000', fee: '5000', memo: null, createdAt: T - 60_000 },
    });
    expect(a.approvals.map((x) => x.approver)).toEqual(['alice', 'bob']);
    const v = verifyAuthorization(JSON.parse(JSON.stringify(signed)), { policyPublicKey, now: T + 1, keyId: 'sol-hot', minApprovals: 2, approverKeys, deriveDigest: rawMessageDigest });
    expect(v.authorization.withdrawalId).toBe('wd_1');
  });

  it('refuses what is not approved, is short of its quorum, or carries unusable approvals', () => {
    const w = withdrawal();
    expect(code(() => issue(withdrawal({ status: 'in_review' }), stored(w)))).toBe('authorization_withdrawal_not_approved');
    expect(code(() => issue(withdrawal({ status: 'rejected' }), stored(w)))).toBe('authorization_withdrawal_not_approved');
    expect(code(() => issue(w, stored(w, signers.slice(0, 1))))).toBe('authorization_quorum_not_met');
    expect(code(() => issue(w, stored(w, [signers[0]!, signers[0]!])))).toBe('authorization_quorum_not_met'); // one approver twice
    expect(code(() => issue(w, [{ ...stored(w)[0]!, signature: null }, stored(w)[1]!]))).toBe('authorization_approval_unusable');
    expect(code(() => issue(w, [{ ...stored(w)[0]!, decision: 'reject' }, stored(w)[1]!]))).toBe('authorization_approval_unusable');
    expect(code(() => issue(w, [{ ...stored(w)[0]!, withdrawalId: 'wd_2' }, stored(w)[1]!]))).toBe('authorization_approval_unusable');
    expect(code(() => issue(w, stored(w, signers.slice(0, 2), w, 3)))).toBe('authorization_approval_unusable'); // another policy version
    expect(code(() => issue(withdrawal({ fee: null }), stored(w)))).toBe('withdrawal_incomplete');
    // a withdrawal approved without a quorum (auto-approved by policy): issued with no approvals
    expect(issue(withdrawal({}, 0), []).authorization.approvals).toEqual([]);
  });

  it('with the approver keys, re-verifies every signature before signing: forged, or for another withdrawal, is refused', () => {
    const w = withdrawal();
    const forged = stored(w).map((a) => ({ ...a, signature: a.signature!.replace(/^./, (c) => (c === '0' ? '1' : '0')) }));
    expect(code(() => issue(w, forged, { approverKeys }))).toBe('authorization_approval_invalid');
    const elsewhere = withdrawal({ to: 'Attacker' });
    expect(code(() => issue(w, stored(w, signers.slice(0, 2), elsewhere), { approverKeys }))).toBe('authorization_approval_invalid');
    // approvers the keys do not know: not counted, so the quorum is not met
    expect(code(() => issue(w, stored(w), { approverKeys: approverKeys.slice(2) }))).toBe('authorization_quorum_not_met');
    // without the keys the issuer does not check them, but every node does
    const unchecked = issue(w, forged);
    expect(code(() => verifyAuthorization(unchecked, { policyPublicKey, now: T + 1, keyId: 'sol-hot', minApprovals: 2, approverKeys, deriveDigest: rawMessageDigest })))
      .toBe('authorization_approval_invalid');
  });
});
