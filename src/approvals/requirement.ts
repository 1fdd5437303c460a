/**
 * The approval requirement a withdrawal waits under, as the rules stage recorded it at intake
 * (quorum, eligible and excluded approvers, HSM, expiry, policy version), and when its approvals
 * expire. Pure: read from the stored decisions.
 *
 * @example
 *   const req = storedRequirement(w); // { quorum: 2, eligible: [...], policyVersion: 3, ... }
 */
import type { Decision } from '../core/decision.js';
import { CustosError } from '../core/errors.js';
import type { WithdrawalRecord } from '../store/withdrawals.js';

export interface StoredApprovalRequirement {
  quorum: number;
  eligible: string[];
  excluded: string[];
  requiresHsm: boolean;
  expiresAfterMs: number;
  policyVersion: number;
}

/** The approval requirement recorded by the rules stage at intake. */
export function storedRequirement(w: Pick<WithdrawalRecord, 'decisions' | 'status'>): StoredApprovalRequirement {
  const d = w.decisions.find((x) => x.stage === 'rules') as (Decision & { policyVersion?: number; approval?: Omit<StoredApprovalRequirement, 'policyVersion'> }) | undefined;
  if (!d?.approval || typeof d.policyVersion !== 'number') {
    throw new CustosError('approval_requirement_missing', 'the withdrawal has no rules decision to approve against', 409);
  }
  const a = d.approval;
  // A withdrawal in manual review needs at least one approval even when no value tier asked for one.
  const quorum = Math.max(a.quorum, w.status === 'in_review' || a.requiresHsm ? 1 : 0);
  return { ...a, quorum, policyVersion: d.policyVersion };
}

export const PENDING_STATUSES = ['in_review', 'awaiting_approval'] as const;

export function expiresAt(w: Pick<WithdrawalRecord, 'createdAt' | 'decisions' | 'status'>): number {
  return w.createdAt + storedRequirement(w).expiresAfterMs;
}

