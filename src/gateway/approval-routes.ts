/**
 * Review queue and approval routes (scope `approve`):
 *   GET  /v1/reviews                          withdrawals in_review / awaiting_approval with their reasons
 *   GET  /v1/withdrawals/:id/approval-request what an eligible approver signs: the digest's fields
 *                                             (amounts in base units), the digest, the policy version
 *   POST /v1/withdrawals/:id/approvals        { decision: 'approve' | 'reject', comment?, hsmToken?, statement, signature }
 *   POST /v1/withdrawals/:id/rejections       { comment?, statement, signature } (the same as decision 'reject')
 * `statement` is the approval statement (src/approvals/statement.ts) and `signature` the
 * approver's Ed25519 signature over it with their registered approval key; the credential must
 * act for the approver the statement names. The routes only move data; src/approvals/decide.ts
 * holds the rules (signature, quorum, separation of duties, one decision per approver, expiry,
 * HSM tokens).
 *
 * @example
 *   await registerApprovalRoutes(app, { db, clock, toBody });
 */
import type { FastifyInstance } from 'fastify';
import { decideApproval, type ApprovalOutcome } from '../approvals/decide.js';
import { withdrawalDigest } from '../approvals/digest.js';
import { reviewQueue } from '../approvals/queue.js';
import { storedRequirement } from '../approvals/requirement.js';
import type { ApprovalStatement } from '../approvals/statement.js';
import type { Clock } from '../core/clock.js';
import { CustosError } from '../core/errors.js';
import type { ApprovalKey } from '../hsm/approval-token.js';
import { activePolicy, ensureStarterPolicy } from '../pipeline/active-policy.js';
import { listApprovals, type ApprovalRecord } from '../store/approvals.js';
import { listApproverKeys } from '../store/approvers.js';
import type { Db } from '../store/db.js';
import { getWithdrawal, type WithdrawalRecord } from '../store/withdrawals.js';
import type { Principal } from './auth.js';
import type { WithdrawalBody } from './schemas.js';

export interface ApprovalRouteDeps {
  db: Db;
  clock: Clock;
  /** The gateway's withdrawal rendering (amounts in asset units). */
  toBody: (w: WithdrawalRecord) => WithdrawalBody;
  /** Pinned HSM approval keys (src/hsm); none: withdrawals that need an HSM approval stay pending. */
  hsmKeys?: ApprovalKey[];
}

const approvalBody = (a: ApprovalRecord) => ({
  approver: a.approverId,
  credentialId: a.credentialId,
  decision: a.decision,
  comment: a.comment,
  policyVersion: a.policyVersion,
  at: new Date(a.at).toISOString(),
  signature: a.signature,
  signatureExpiresAt: a.signatureExpiresAt === null ? null : new Date(a.signatureExpiresAt).toISOString(),
  publicKey: a.publicKey,
});

const StatementSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['withdrawalId', 'withdrawalDigest', 'policyVersion', 'decision', 'approver', 'expiresAt'],
  description: 'the approval statement the approver signed (custos/withdrawal-approval/v1)',
  properties: {
    withdrawalId: { type: 'string', pattern: '^[A-Za-z0-9_.:-]{1,128}$' },
    withdrawalDigest: { type: 'string', pattern: '^[0-9a-f]{64}$' },
    policyVersion: { type: 'integer', minimum: 0 },
    decision: { type: 'string', enum: ['approve', 'reject'] },
    approver: { type: 'string', pattern: '^[A-Za-z0-9_.:-]{1,128}$' },
    expiresAt: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'ms since the epoch' },
  },
} as const;
const SignatureSchema = { type: 'string', pattern: '^[0-9a-f]{128}$', description: "the approver's Ed25519 signature over the statement (hex)" } as const;

interface DecisionBody {
  decision: 'approve' | 'reject';
  comment?: string;
  hsmToken?: string;
  statement?: ApprovalStatement;
  signature?: string;
}

const ApprovalRequestSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['decision'],
  properties: {
    decision: { type: 'string', enum: ['approve', 'reject'] },
    comment: { type: 'string', maxLength: 2000 },
    hsmToken: { type: 'string', minLength: 2, maxLength: 16384, description: 'HSM approval token (wire JSON) for withdrawals that require one' },
    statement: StatementSchema,
    signature: SignatureSchema,
  },
} as const;

const IdParams = { type: 'object', properties: { id: { type: 'string', maxLength: 64 } }, required: ['id'] } as const;

export async function registerApprovalRoutes(app: FastifyInstance, deps: ApprovalRouteDeps): Promise<void> {
  const { db, clock, toBody } = deps;
  const outcomeBody = (o: ApprovalOutcome) => ({
    result: o.result,
    quorum: o.quorum,
    approved: o.approved,
    hsmRequired: o.hsmRequired,
    approvals: o.approvals.map(approvalBody),
    withdrawal: toBody(o.withdrawal),
  });
  const decide = async (principal: Principal, id: string, body: DecisionBody) => {
    const o = await decideApproval(
      db,
      clock,
      {
        withdrawalId: id, approver: { credentialId: principal.credentialId, customerId: principal.customerId }, decision: body.decision, comment: body.comment,
        hsmToken: body.hsmToken, statement: body.statement, signature: body.signature,
      },
      { hsmKeys: deps.hsmKeys },
    );
    if (o.result === 'expired') {
      throw new CustosError('approval_expired', 'approvals for this withdrawal expired; it was rejected', 409, { withdrawal: toBody(o.withdrawal) });
    }
    return outcomeBody(o);
  };

  app.get<{ Querystring: { limit?: string } }>(
    '/v1/reviews',
    {
      config: { scope: 'approve' },
      schema: {
        summary: 'The review queue: withdrawals in review or awaiting approval, oldest first, with reasons and approvals',
        security: [{ custosSignature: [] }],
        querystring: { type: 'object', additionalProperties: false, properties: { limit: { type: 'string', pattern: '^[1-9][0-9]{0,2}$' } } },
      },
    },
    async (req) => {
      // The queue spans customers: only the active policy's approvers may read it.
      const principal = req.principal as Principal;
      await ensureStarterPolicy(db, clock.now());
      const { policy } = await activePolicy(db, db);
      if (!policy.approvals.approvers.some((a) => a === principal.customerId || a === principal.credentialId)) {
        throw new CustosError('approver_not_eligible', 'only the approvers of the active policy may read the review queue', 403);
      }
      const limit = Math.min(Number(req.query.limit ?? '50'), 200);
      const items = await reviewQueue(db, { limit });
      const registered = new Set((await listApproverKeys(db)).map((k) => k.approverId));
      return {
        items: items.map((i) => ({
          withdrawal: toBody(i.withdrawal),
          reasons: i.reasons,
          quorum: i.requirement.quorum,
          eligible: i.requirement.eligible,
          // eligible approvers who cannot sign yet (no registered approval key): a queue that cannot reach its quorum shows here
          eligibleWithoutKey: i.requirement.eligible.filter((a) => !registered.has(a)),
          hsmRequired: i.requirement.requiresHsm,
          policyVersion: i.requirement.policyVersion,
          expiresAt: new Date(i.expiresAt).toISOString(),
          approvals: i.approvals.map(approvalBody),
        })),
      };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/withdrawals/:id/approval-request',
    {
      config: { scope: 'approve' },
      schema: {
        summary: 'What an eligible approver signs for a withdrawal in the review queue: the digest, its fields (base units) and the policy version',
        description: 'Clients recompute the digest from the fields before signing (custos approve does). 403 approver_not_eligible, 404 withdrawal_not_found.',
        security: [{ custosSignature: [] }],
        params: IdParams,
      },
    },
    async (req) => {
      const principal = req.principal as Principal;
      const w = await getWithdrawal(db, req.params.id);
      if (!w) throw new CustosError('withdrawal_not_found', `no withdrawal ${req.params.id}`, 404);
      const r = storedRequirement(w);
      if (!r.eligible.includes(principal.customerId) && !r.eligible.includes(principal.credentialId)) {
        throw new CustosError('approver_not_eligible', 'only an eligible approver of this withdrawal may read what to sign', 403);
      }
      const approvals = await listApprovals(db, w.id);
      return {
        status: w.status,
        withdrawalDigest: withdrawalDigest(w),
        digestFields: {
          id: w.id, customerId: w.customerId, chain: w.chain, asset: w.asset, to: w.to, amount: w.amount === null ? null : w.amount.toString(),
          fee: w.fee === null ? null : w.fee.toString(), memo: w.memo, createdAt: w.createdAt,
        },
        policyVersion: r.policyVersion,
        quorum: r.quorum,
        approved: approvals.filter((a) => a.decision === 'approve').length,
        hsmRequired: r.requiresHsm,
        expiresAt: new Date(w.createdAt + r.expiresAfterMs).toISOString(),
        approvals: approvals.map(approvalBody),
        withdrawal: toBody(w),
      };
    },
  );

  app.post<{ Params: { id: string }; Body: DecisionBody }>(
    '/v1/withdrawals/:id/approvals',
    {
      config: { scope: 'approve' },
      schema: {
        summary: "An approver's decision on a withdrawal in the review queue",
        description:
          "One decision per approver, signed with the approver's registered approval key; the submitter cannot decide; one rejection rejects; the quorum approves. " +
          '400 approval_signature_required; 403 approver_is_submitter / approver_not_eligible / approver_not_registered / approval_signer_mismatch / approval_signature_invalid / ' +
          'approval_wrong_withdrawal / approval_wrong_decision / approval_wrong_policy_version / approval_signature_expired; 422 approval_signature_expiry_too_far; ' +
          '409 approval_duplicate / withdrawal_not_pending / approval_expired.',
        security: [{ custosSignature: [] }],
        params: IdParams,
        body: ApprovalRequestSchema,
      },
    },
    async (req) => decide(req.principal as Principal, req.params.id, req.body),
  );

  app.post<{ Params: { id: string }; Body: Omit<DecisionBody, 'decision' | 'hsmToken'> }>(
    '/v1/withdrawals/:id/rejections',
    {
      config: { scope: 'approve' },
      schema: {
        summary: 'Reject a withdrawal in the review queue (one rejection ends it)',
        security: [{ custosSignature: [] }],
        params: IdParams,
        body: {
          type: 'object',
          additionalProperties: false,
          properties: { comment: { type: 'string', maxLength: 2000 }, statement: StatementSchema, signature: SignatureSchema },
        },
      },
    },
    async (req) => decide(req.principal as Principal, req.params.id, { ...req.body, decision: 'reject' }),
  );
}
