/**
 * The approver's side of an approval, through the API (used by `custos approve|reject` and the
 * demo): fetch what to sign (GET /v1/withdrawals/:id/approval-request), recompute the withdrawal
 * digest from the fields the server sent (amounts in base units) and refuse a server whose digest
 * disagrees, sign the approval statement with the approver's key, post the decision.
 *
 * The approver signs only what it computed itself: a gateway that lies about the digest gets a
 * `approval_request_inconsistent` error, not a signature.
 *
 * @example
 *   const key = parseApprovalKeyFile(readFileSync('alice.key', 'utf8'));
 *   const r = await signAndSubmitDecision(client, 'wd_…', key, { decision: 'approve', comment: 'checked', now: Date.now() });
 *   r.outcome.result; // 'recorded' | 'approved' | 'rejected'
 */
import type { CustosClient } from '../client/index.js';
import { CustosError } from '../core/errors.js';
import { withdrawalDigest } from './digest.js';
import type { ApproverSigningKey } from './key-file.js';
import { DEFAULT_STATEMENT_VALIDITY_MS, signApprovalStatement, type ApprovalDecision, type ApprovalStatement } from './statement.js';

/** GET /v1/withdrawals/:id/approval-request */
export interface ApprovalRequestBody {
  status: string;
  withdrawalDigest: string;
  digestFields: {
    id: string; customerId: string; chain: string; asset: string; to: string; amount: string | null; fee: string | null; memo: string | null; createdAt: number;
  };
  policyVersion: number;
  quorum: number;
  approved: number;
  hsmRequired: boolean;
  expiresAt: string;
  withdrawal: { amount: string; asset: string; to: string; chain: string; status: string };
}

/** POST /v1/withdrawals/:id/approvals (and /rejections) */
export interface ApprovalOutcomeBody {
  result: 'recorded' | 'approved' | 'rejected' | 'expired';
  quorum: number;
  approved: number;
  hsmRequired: boolean;
  approvals: { approver: string; decision: string; at: string }[];
  withdrawal: { id: string; status: string };
}

export interface SignedDecision {
  request: ApprovalRequestBody;
  statement: ApprovalStatement;
  outcome: ApprovalOutcomeBody;
}

export async function signAndSubmitDecision(
  client: CustosClient,
  withdrawalId: string,
  key: ApproverSigningKey,
  o: { decision: ApprovalDecision; comment?: string; now: number; validityMs?: number; hsmToken?: string },
): Promise<SignedDecision> {
  const id = encodeURIComponent(withdrawalId);
  const request = await client.request<ApprovalRequestBody>('GET', `/v1/withdrawals/${id}/approval-request`);
  const f = request.digestFields;
  const toBig = (v: string | null) => (v === null ? null : BigInt(v));
  const digest = withdrawalDigest({ ...f, amount: toBig(f.amount), fee: toBig(f.fee) });
  if (f.id !== withdrawalId || digest !== request.withdrawalDigest) {
    throw new CustosError('approval_request_inconsistent', 'the server sent a withdrawal digest that does not match the fields it sent: nothing was signed', 502);
  }
  const statement: ApprovalStatement = {
    withdrawalId,
    withdrawalDigest: digest,
    policyVersion: request.policyVersion,
    decision: o.decision,
    approver: key.approver,
    expiresAt: o.now + (o.validityMs ?? DEFAULT_STATEMENT_VALIDITY_MS),
  };
  const signature = signApprovalStatement(statement, key.secretKey);
  const comment = o.comment === undefined ? {} : { comment: o.comment };
  const outcome =
    o.decision === 'approve'
      ? await client.request<ApprovalOutcomeBody>('POST', `/v1/withdrawals/${id}/approvals`, {
        decision: 'approve', ...comment, statement, signature, ...(o.hsmToken ? { hsmToken: o.hsmToken } : {}),
      })
      : await client.request<ApprovalOutcomeBody>('POST', `/v1/withdrawals/${id}/rejections`, { ...comment, statement, signature });
  return { request, statement, outcome };
}
