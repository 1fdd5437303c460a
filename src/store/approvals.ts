/**
 * Approvals and rejections recorded against withdrawals waiting in the review queue, and the
 * queue itself. The primary key (withdrawal, approver) and the unique (withdrawal, credential)
 * make a second approval by the same person or credential impossible even under a race. Each
 * decision keeps the approver's signature over the approval statement (src/approvals/statement.ts),
 * the statement's expiry and the approval public key it verified under (migration 006); rows
 * written before that migration have none (null) and cannot go into a signing authorization.
 *
 * @example
 *   await insertApproval(q, { withdrawalId, approverId: 'alice', credentialId, decision: 'approve', comment: '', policyVersion: 3, at: now,
 *     signature, signatureExpiresAt, publicKey });
 */
import type { Queryable } from './db.js';

export interface ApprovalRecord {
  withdrawalId: string;
  approverId: string;
  credentialId: string;
  decision: 'approve' | 'reject';
  comment: string;
  policyVersion: number;
  at: number;
  /** The approver's Ed25519 signature (hex) over the approval statement; null only for rows older than migration 006. */
  signature: string | null;
  /** The expiry signed into the statement (ms since the epoch). */
  signatureExpiresAt: number | null;
  /** The registered approval public key (hex) the signature verified under. */
  publicKey: string | null;
}

export async function insertApproval(q: Queryable, a: ApprovalRecord): Promise<void> {
  await q.query(
    `INSERT INTO withdrawal_approvals (withdrawal_id, approver_id, credential_id, decision, comment, policy_version, at, signature, signature_expires_at, public_key)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
    [
      a.withdrawalId, a.approverId, a.credentialId, a.decision, a.comment, a.policyVersion, new Date(a.at).toISOString(),
      a.signature, a.signatureExpiresAt === null ? null : String(a.signatureExpiresAt), a.publicKey,
    ],
  );
}

export async function listApprovals(q: Queryable, withdrawalId: string): Promise<ApprovalRecord[]> {
  const rows = await q.query<{
    withdrawal_id: string;
    approver_id: string;
    credential_id: string;
    decision: 'approve' | 'reject';
    comment: string;
    policy_version: number;
    at: Date | string;
    signature?: string | null;
    signature_expires_at?: string | number | null;
    public_key?: string | null;
  }>('SELECT * FROM withdrawal_approvals WHERE withdrawal_id = $1 ORDER BY at, approver_id', [withdrawalId]);
  return rows.map((r) => ({
    withdrawalId: r.withdrawal_id,
    approverId: r.approver_id,
    credentialId: r.credential_id,
    decision: r.decision,
    comment: r.comment,
    policyVersion: Number(r.policy_version),
    at: new Date(r.at).getTime(),
    signature: r.signature ?? null,
    signatureExpiresAt: r.signature_expires_at === null || r.signature_expires_at === undefined ? null : Number(r.signature_expires_at),
    publicKey: r.public_key ?? null,
  }));
}

/** Ids of withdrawals in_review or awaiting_approval, oldest first. */
export async function reviewQueueIds(q: Queryable, limit: number): Promise<string[]> {
  const rows = await q.query<{ id: string }>(
    "SELECT id FROM withdrawals WHERE status IN ('in_review', 'awaiting_approval') ORDER BY created_at, id LIMIT $1",
    [limit],
  );
  return rows.map((r) => r.id);
}
