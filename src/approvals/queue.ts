/**
 * The review queue: withdrawals in_review or awaiting_approval, oldest first, each with its
 * reasons (the stored risk and rules decisions), its approval requirement, the approvals so far
 * and when approvals expire.
 *
 * @example
 *   const items = await reviewQueue(db, { limit: 50 });
 */
import type { Reason } from '../core/decision.js';
import { listApprovals, reviewQueueIds, type ApprovalRecord } from '../store/approvals.js';
import type { Queryable } from '../store/db.js';
import { getWithdrawal, type WithdrawalRecord } from '../store/withdrawals.js';
import { storedRequirement, type StoredApprovalRequirement } from './decide.js';

export interface ReviewItem {
  withdrawal: WithdrawalRecord;
  reasons: Reason[];
  requirement: StoredApprovalRequirement;
  approvals: ApprovalRecord[];
  expiresAt: number;
}

export async function reviewQueue(q: Queryable, opts: { limit: number }): Promise<ReviewItem[]> {
  const out: ReviewItem[] = [];
  for (const id of await reviewQueueIds(q, opts.limit)) {
    const w = await getWithdrawal(q, id);
    if (!w) continue;
    const requirement = storedRequirement(w);
    out.push({
      withdrawal: w,
      reasons: w.decisions.filter((d) => d.stage === 'risk' || d.stage === 'rules').flatMap((d) => d.reasons),
      requirement,
      approvals: await listApprovals(q, id),
      expiresAt: w.createdAt + requirement.expiresAfterMs,
    });
  }
  return out;
}
