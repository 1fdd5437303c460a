/**
 * Stored, quorum-governed policy changes (the pure rules are src/policy/governance.ts): a proposal
 * is kept with its document until `governance.quorum` admins of the active policy, none the
 * proposer, have signed it; applying it makes it the active version. Each step is audited in its
 * transaction, under the policies lock so two changes never race.
 *
 * @example
 *   const { id } = await proposeChange(db, nextDoc, 'admin-1', now);
 *   await approveChange(db, id, signPolicyChange(proposal, 'admin-2', sk2), now);
 *   await approveChange(db, id, signPolicyChange(proposal, 'admin-3', sk3), now);
 *   await applyChange(db, id, 'operator', now); // the new version is active
 */
import { randomBytes } from 'node:crypto';
import { appendAudit } from '../audit/chain.js';
import { CustosError } from '../core/errors.js';
import { applyPolicyChange, proposePolicyChange, verifyPolicyApproval, type PolicyApproval, type PolicyChangeProposal } from '../policy/governance.js';
import { parsePolicy } from '../policy/document.js';
import type { Db, Queryable } from '../store/db.js';
import {
  getActivePolicyRow,
  getProposal,
  insertPolicyRow,
  insertProposal,
  lockPolicies,
  setProposalApprovals,
  setProposalStatus,
  supersedeOpenProposals,
  type ProposalRow,
} from '../store/policies.js';

async function current(q: Queryable) {
  const row = await getActivePolicyRow(q);
  if (!row) throw new CustosError('policy_missing', 'no policy is installed', 409);
  return row;
}

async function openProposal(q: Queryable, id: string): Promise<ProposalRow> {
  const p = await getProposal(q, id, true);
  if (!p) throw new CustosError('policy_proposal_not_found', `no policy proposal ${id}`, 404);
  if (p.status !== 'open') throw new CustosError('policy_proposal_closed', `policy proposal ${id} is ${p.status}`, 409);
  return p;
}

export async function proposeChange(db: Db, document: unknown, proposer: string, now: number): Promise<{ id: string; proposal: PolicyChangeProposal }> {
  return db.tx(async (q) => {
    await lockPolicies(q);
    const cur = await current(q);
    if (cur.source === 'starter') throw new CustosError('policy_starter', 'the starter policy has no admins: install the first policy with `custos policy init FILE`', 409);
    const proposal = proposePolicyChange(cur.document, document, proposer, now);
    const id = `pp_${randomBytes(9).toString('base64url')}`;
    await insertProposal(q, { id, proposal: { ...proposal }, document, createdAt: now });
    await appendAudit(q, { at: now, actor: `admin:${proposer}`, action: 'policy.proposed', subject: `policy-proposal:${id}`, data: { ...proposal } });
    return { id, proposal };
  });
}

export async function getChange(db: Db, id: string): Promise<ProposalRow> {
  const p = await getProposal(db, id);
  if (!p) throw new CustosError('policy_proposal_not_found', `no policy proposal ${id}`, 404);
  return p;
}

/** Records one admin's signed approval after verifying it against the active policy's admins. */
export async function approveChange(db: Db, id: string, approval: PolicyApproval, now: number): Promise<{ approvals: number; quorum: number }> {
  return db.tx(async (q) => {
    await lockPolicies(q);
    const p = await openProposal(q, id);
    const cur = await current(q);
    const policy = parsePolicy(cur.document);
    verifyPolicyApproval(p.proposal as unknown as PolicyChangeProposal, approval, policy);
    if (p.approvals.some((a) => a.approver === approval.approver)) throw new CustosError('approval_duplicate', 'this admin already approved the change', 409);
    const approvals = [...p.approvals, { approver: approval.approver, signature: approval.signature }];
    await setProposalApprovals(q, id, approvals);
    await appendAudit(q, { at: now, actor: `admin:${approval.approver}`, action: 'policy.approved', subject: `policy-proposal:${id}`, data: { ...approval } });
    return { approvals: approvals.length, quorum: policy.governance.quorum };
  });
}

/** Applies a proposal that has its quorum: the proposed document becomes the active version. */
export async function applyChange(db: Db, id: string, actor: string, now: number): Promise<{ version: number; hash: string }> {
  return db.tx(async (q) => {
    await lockPolicies(q);
    const p = await openProposal(q, id);
    const cur = await current(q);
    const proposal = p.proposal as unknown as PolicyChangeProposal;
    const next = applyPolicyChange(cur.document, p.document, proposal, p.approvals);
    await insertPolicyRow(q, { version: next.version, document: p.document, hash: proposal.documentHash, source: 'governance', activatedAt: now, activatedBy: actor });
    await setProposalStatus(q, id, 'applied');
    await supersedeOpenProposals(q);
    await appendAudit(q, {
      at: now,
      actor,
      action: 'policy.changed',
      subject: `policy:${next.version}`,
      data: { proposal: id, previousVersion: proposal.previousVersion, version: next.version, hash: proposal.documentHash, approvals: p.approvals.map((a) => a.approver) },
    });
    return { version: next.version, hash: proposal.documentHash };
  });
}
