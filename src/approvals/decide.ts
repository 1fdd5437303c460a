/**
 * Approvals of withdrawals waiting in the review queue (in_review or awaiting_approval). One call
 * is one approver's decision, handled in one transaction with its audit entries:
 *   - the quorum and the eligible approvers come from the stored rules decision (approval.quorum,
 *     approval.eligible); a withdrawal in review needs at least one approval even without a tier;
 *   - separation of duties: no credential of the submitting customer, and never the submitting
 *     credential, may approve or reject it (403 approver_is_submitter); the approver is the
 *     credential id or its customer id, whichever the policy lists (403 approver_not_eligible);
 *   - the approval signature: every decision carries the approver's Ed25519 signature over the
 *     approval statement (statement.ts: withdrawal id and digest, policy version, decision,
 *     approver id, expiry), verified against the approver's active key in the registry
 *     (registry.ts). The credential and the signature must name the same approver: the API
 *     credential (scope approve) authenticates the request, the approval key authorizes the
 *     decision, so neither a stolen credential nor a stolen approval key alone can approve.
 *     Refused (4xx, nothing changes): 400 approval_signature_required, 403 approver_not_registered,
 *     approval_signer_mismatch (the statement names another approver), approval_signature_invalid,
 *     approval_wrong_withdrawal (another withdrawal id or digest), approval_wrong_decision,
 *     approval_wrong_policy_version, approval_signature_expired, 422 approval_signature_expiry_too_far;
 *   - one decision per approver and per credential: a second one, a replayed request or signature
 *     included, is refused with 409 approval_duplicate and changes nothing;
 *   - one rejection ends it: → rejected, the counter reservation is released;
 *   - expiry: after approval.expiresAfterMs from submission, the withdrawal can no longer be
 *     approved; the attempt moves it to rejected (reason approval_expired) and answers 409;
 *   - reaching the quorum moves it to approved (nonce allocated on account-based chains, history
 *     and destination recorded); when the rules asked for an HSM approval (requiresHsm) a token
 *     signed by a pinned HSM approval key for exactly this withdrawal (src/hsm/approval-token.ts)
 *     must come with the approval that completes the quorum, or later with any approver's call.
 *
 * @example
 *   const r = await decideApproval(db, clock, { withdrawalId, approver: principal, decision: 'approve', comment: 'ok', statement, signature });
 *   r.withdrawal.status; r.approvals.length; r.result // 'recorded' | 'approved' | 'rejected' | 'expired'
 */
import { appendAudit } from '../audit/chain.js';
import { isAccountBased } from '../core/chain.js';
import type { Clock } from '../core/clock.js';
import type { Decision } from '../core/decision.js';
import { CustosError } from '../core/errors.js';
import type { Withdrawal } from '../core/withdrawal.js';
import { decodeApprovalToken, verifyApproval, type ApprovalKey } from '../hsm/approval-token.js';
import { releaseCounters, recordAccepted } from '../pipeline/accept.js';
import { activePolicy } from '../pipeline/active-policy.js';
import { allocateNonce } from '../store/accounts.js';
import { insertApproval, listApprovals, type ApprovalRecord } from '../store/approvals.js';
import type { Db, Queryable } from '../store/db.js';
import { getWithdrawal, transitionWithdrawal, type WithdrawalRecord } from '../store/withdrawals.js';
import { withdrawalDigest } from './digest.js';
import { PENDING_STATUSES, storedRequirement } from './requirement.js';
import { activeApproverKey } from '../store/approvers.js';
import { approvalStatementVerifies, MAX_STATEMENT_VALIDITY_MS, type ApprovalStatement } from './statement.js';

export interface Approver {
  credentialId: string;
  customerId: string;
}

export interface ApprovalInput {
  withdrawalId: string;
  approver: Approver;
  decision: 'approve' | 'reject';
  comment?: string;
  /** Wire form of an HSM approval token (encodeApprovalToken), for withdrawals that require one. */
  hsmToken?: string;
  /** The approval statement the approver signed (its fields must be this withdrawal's, this decision's). */
  statement?: ApprovalStatement;
  /** The approver's Ed25519 signature over the statement (hex). */
  signature?: string;
}

export interface ApprovalOptions {
  /** Pinned HSM approval keys; without any, a withdrawal that requires an HSM approval cannot reach approved. */
  hsmKeys?: ApprovalKey[];
}

export type ApprovalResult = 'recorded' | 'approved' | 'rejected' | 'expired';

export interface ApprovalOutcome {
  result: ApprovalResult;
  withdrawal: WithdrawalRecord;
  approvals: ApprovalRecord[];
  /** Distinct approvals needed; approvals counted so far. */
  quorum: number;
  approved: number;
  hsmRequired: boolean;
}

export { expiresAt, PENDING_STATUSES, storedRequirement, type StoredApprovalRequirement } from './requirement.js';

function asWithdrawal(w: WithdrawalRecord): Withdrawal {
  if (w.accountId === null || w.amount === null || w.fee === null) throw new CustosError('withdrawal_incomplete', 'the withdrawal lacks an account, amount or fee', 409);
  return { ...w, accountId: w.accountId, amount: w.amount, fee: w.fee };
}

async function lockPending(q: Queryable, id: string): Promise<WithdrawalRecord> {
  const [row] = await q.query<{ status: string }>('SELECT status FROM withdrawals WHERE id = $1 FOR UPDATE', [id]);
  if (!row) throw new CustosError('withdrawal_not_found', `no withdrawal ${id}`, 404);
  const w = (await getWithdrawal(q, id)) as WithdrawalRecord;
  if (!(PENDING_STATUSES as readonly string[]).includes(w.status)) {
    throw new CustosError('withdrawal_not_pending', `withdrawal ${id} is ${w.status}, not waiting for approval`, 409, { status: w.status });
  }
  return w;
}

/** Moves a pending withdrawal to rejected, releases its counter reservation, audits the transition. */
async function rejectPending(q: Queryable, w: WithdrawalRecord, decision: Decision, actor: string, now: number): Promise<WithdrawalRecord> {
  // Counter locks first: the transition releases the balance hold under the account row's lock,
  // and every writer takes counter locks before account rows (as the intake does), never after.
  await releaseCounters(q, asWithdrawal(w), w.decisions);
  const next = await transitionWithdrawal(q, w.id, w.status, 'rejected', decision, now);
  await appendAudit(q, { at: now, actor, action: 'withdrawal.transition', subject: `withdrawal:${w.id}`, data: { from: w.status, to: 'rejected', decision } });
  return next;
}

export async function decideApproval(db: Db, clock: Clock, input: ApprovalInput, options: ApprovalOptions = {}): Promise<ApprovalOutcome> {
  if (input.decision !== 'approve' && input.decision !== 'reject') throw new CustosError('approval_decision_invalid', 'decision must be approve or reject', 400);
  const comment = input.comment ?? '';
  if (comment.length > 2000) throw new CustosError('approval_comment_too_long', 'the comment is longer than 2000 characters', 400);
  const { statement, signature } = input;
  if (!statement || !signature) {
    throw new CustosError('approval_signature_required', "a decision must carry the approver's signed approval statement (custos approve ID --key FILE)", 400);
  }
  try {
    return await db.tx(async (q) => {
      const now = clock.now();
      const w = await lockPending(q, input.withdrawalId);
      const req = storedRequirement(w);
      const actor = `credential:${input.approver.credentialId}`;
      const a = input.approver;
      if (a.customerId === w.customerId || a.credentialId === w.credentialId || req.excluded.includes(a.customerId) || req.excluded.includes(a.credentialId)) {
        throw new CustosError('approver_is_submitter', 'the submitter of a withdrawal (its customer or credential) cannot approve or reject it', 403);
      }
      const approverId = req.eligible.includes(a.credentialId) ? a.credentialId : req.eligible.includes(a.customerId) ? a.customerId : null;
      if (approverId === null) throw new CustosError('approver_not_eligible', `this approver is not among the approvers of policy version ${req.policyVersion}`, 403);
      // The signature: by the approver the credential stands for, under their registered key, for exactly this decision.
      if (statement.approver !== approverId) {
        throw new CustosError('approval_signer_mismatch', `the signed statement names approver ${statement.approver}, but this credential acts for ${approverId}`, 403);
      }
      // FOR SHARE: a concurrent revocation of this key waits for this decision (and its audit entry) to commit.
      const key = await activeApproverKey(q, approverId, { forShare: true });
      if (!key) throw new CustosError('approver_not_registered', `${approverId} has no registered approval key (custos approvers add)`, 403);
      if (!approvalStatementVerifies(statement, signature, key.publicKey)) {
        throw new CustosError('approval_signature_invalid', `the approval signature does not verify under the registered key of ${approverId}`, 403);
      }
      const digest = withdrawalDigest(w);
      if (statement.withdrawalId !== w.id || statement.withdrawalDigest !== digest) {
        throw new CustosError('approval_wrong_withdrawal', 'the signature is for another withdrawal (id or digest differ)', 403);
      }
      if (statement.decision !== input.decision) throw new CustosError('approval_wrong_decision', `the signature is for the decision ${statement.decision}, not ${input.decision}`, 403);
      if (statement.policyVersion !== req.policyVersion) {
        throw new CustosError('approval_wrong_policy_version', `the signature is for policy version ${statement.policyVersion}; this withdrawal is under version ${req.policyVersion}`, 403);
      }
      if (statement.expiresAt <= now) throw new CustosError('approval_signature_expired', `the approval signature expired at ${new Date(statement.expiresAt).toISOString()}`, 403);
      if (statement.expiresAt > now + MAX_STATEMENT_VALIDITY_MS) {
        throw new CustosError('approval_signature_expiry_too_far', `an approval signature may be valid for at most ${MAX_STATEMENT_VALIDITY_MS / 3_600_000} h`, 422);
      }
      const before = await listApprovals(q, w.id);
      if (before.some((x) => x.approverId === approverId || x.credentialId === a.credentialId)) {
        throw new CustosError('approval_duplicate', 'this approver already decided on this withdrawal', 409);
      }
      const result = (r: ApprovalResult, wd: WithdrawalRecord, list: ApprovalRecord[]): ApprovalOutcome => ({
        result: r,
        withdrawal: wd,
        approvals: list,
        quorum: req.quorum,
        approved: list.filter((x) => x.decision === 'approve').length,
        hsmRequired: req.requiresHsm,
      });
      if (now >= w.createdAt + req.expiresAfterMs) {
        const reason = { code: 'approval_expired', message: `Approvals for this withdrawal expired at ${new Date(w.createdAt + req.expiresAfterMs).toISOString()}.` };
        const next = await rejectPending(q, w, { stage: 'approval', outcome: 'reject', reasons: [reason] }, 'approvals', now);
        return result('expired', next, before);
      }
      const record: ApprovalRecord = {
        withdrawalId: w.id,
        approverId,
        credentialId: a.credentialId,
        decision: input.decision,
        comment,
        policyVersion: req.policyVersion,
        at: now,
        signature,
        signatureExpiresAt: statement.expiresAt,
        publicKey: key.publicKey,
      };
      await insertApproval(q, record);
      await appendAudit(q, {
        at: now,
        actor,
        action: input.decision === 'approve' ? 'withdrawal.approval' : 'withdrawal.rejection',
        subject: `withdrawal:${w.id}`,
        data: {
          approver: approverId, decision: input.decision, comment, policyVersion: req.policyVersion, withdrawalDigest: digest,
          signature, signatureExpiresAt: statement.expiresAt, publicKey: key.publicKey,
        },
      });
      const list = [...before, record];
      if (input.decision === 'reject') {
        const reason = { code: 'approval_rejected', message: `Approver ${approverId} rejected the withdrawal${comment ? `: ${comment}` : '.'}` };
        return result('rejected', await rejectPending(q, w, { stage: 'approval', outcome: 'reject', reasons: [reason] }, actor, now), list);
      }
      const approvers = list.filter((x) => x.decision === 'approve').map((x) => x.approverId);
      if (approvers.length < req.quorum) return result('recorded', w, list);
      if (req.requiresHsm) {
        if (!input.hsmToken) return result('recorded', w, list);
        const keys = options.hsmKeys ?? [];
        if (keys.length === 0) throw new CustosError('hsm_not_configured', 'no HSM approval key is pinned: a withdrawal that needs an HSM approval cannot be approved', 503);
        verifyApproval(decodeApprovalToken(input.hsmToken), {
          trustedKeys: keys,
          now,
          expected: { withdrawalId: w.id, withdrawalDigest: digest, asset: w.asset, amount: w.amount ?? undefined, destination: w.to, policyVersion: req.policyVersion },
        });
      }
      const core = asWithdrawal(w);
      const decision: Decision & { approvers: string[]; withdrawalDigest: string; hsmToken?: string } = {
        stage: 'approval',
        outcome: 'pass',
        reasons: [
          { code: 'quorum_reached', message: `${approvers.length} of ${req.quorum} required approvals: ${approvers.join(', ')}.` },
          ...(req.requiresHsm ? [{ code: 'hsm_approval_verified', message: 'An HSM approval token for this withdrawal verified against a pinned key.' }] : []),
        ],
        approvers,
        withdrawalDigest: digest,
        // Kept so the signing authorization carries it to the nodes (src/approvals/authorization.ts).
        ...(req.requiresHsm && input.hsmToken ? { hsmToken: input.hsmToken } : {}),
      };
      let next = await transitionWithdrawal(q, w.id, w.status, 'approved', decision, now);
      // Scope locks (inside recordAccepted) before the account row lock, in the intake's order.
      await recordAccepted(q, core, (await activePolicy(q, db)).policy, now);
      if (core.nonce === null && isAccountBased(w.chain)) {
        const nonce = await allocateNonce(q, core.accountId, null);
        await q.query('UPDATE withdrawals SET nonce = $2 WHERE id = $1', [w.id, nonce.toString()]);
        next = { ...next, nonce };
      }
      await appendAudit(q, {
        at: now,
        actor,
        action: 'withdrawal.transition',
        subject: `withdrawal:${w.id}`,
        data: { from: w.status, to: 'approved', decision, nonce: next.nonce },
      });
      return result('approved', next, list);
    });
  } catch (err) {
    // Two calls by one approver raced: the loser hit the primary key.
    if ((err as { code?: string }).code === '23505') throw new CustosError('approval_duplicate', 'this approver already decided on this withdrawal', 409);
    throw err;
  }
}

/**
 * Rejects every pending withdrawal whose approvals expired by `clock.now()` (reason
 * approval_expired, counter reservation released, audited), oldest first, at most `limit`.
 * Run it periodically; an approval attempt on an expired withdrawal does the same for that one.
 */
export async function expireOverdue(db: Db, clock: Clock, limit = 500): Promise<string[]> {
  const candidates = await db.query<{ id: string }>(
    "SELECT id FROM withdrawals WHERE status IN ('in_review', 'awaiting_approval') ORDER BY created_at, id LIMIT $1",
    [limit],
  );
  const expired: string[] = [];
  for (const { id } of candidates) {
    const done = await db.tx(async (q) => {
      const now = clock.now();
      let w: WithdrawalRecord;
      try {
        w = await lockPending(q, id);
      } catch {
        return false; // decided meanwhile
      }
      const at = w.createdAt + storedRequirement(w).expiresAfterMs;
      if (now < at) return false;
      const reason = { code: 'approval_expired', message: `Approvals for this withdrawal expired at ${new Date(at).toISOString()}.` };
      await rejectPending(q, w, { stage: 'approval', outcome: 'reject', reasons: [reason] }, 'approvals', now);
      return true;
    });
    if (done) expired.push(id);
  }
  return expired;
}
