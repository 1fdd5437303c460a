/**
 * Review queue and approval routes (scope `approve`):
 *   GET  /v1/reviews                      withdrawals in_review / awaiting_approval with their reasons
 *   POST /v1/withdrawals/:id/approvals    { decision: 'approve' | 'reject', comment?, hsmToken? }
 *   POST /v1/withdrawals/:id/rejections   { comment? } (the same as decision 'reject')
 * The routes only move data; src/approvals/decide.ts holds the rules (quorum, separation of
 * duties, one decision per approver, expiry, HSM tokens).
 *
 * @example
 *   await registerApprovalRoutes(app, { db, clock, toBody });
 */
import type { FastifyInstance } from 'fastify';
import { decideApproval, type ApprovalOutcome } from '../approvals/decide.js';
import { reviewQueue } from '../approvals/queue.js';
import type { Clock } from '../core/clock.js';
import { CustosError } from '../core/errors.js';
import type { ApprovalKey } from '../hsm/approval-token.js';
import { activePolicy, ensureStarterPolicy } from '../pipeline/active-policy.js';
import type { ApprovalRecord } from '../store/approvals.js';
import type { Db } from '../store/db.js';
import type { WithdrawalRecord } from '../store/withdrawals.js';
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
});

const ApprovalRequestSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['decision'],
  properties: {
    decision: { type: 'string', enum: ['approve', 'reject'] },
    comment: { type: 'string', maxLength: 2000 },
    hsmToken: { type: 'string', minLength: 2, maxLength: 16384, description: 'HSM approval token (wire JSON) for withdrawals that require one' },
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
  const decide = async (principal: Principal, id: string, body: { decision: 'approve' | 'reject'; comment?: string; hsmToken?: string }) => {
    const o = await decideApproval(
      db,
      clock,
      { withdrawalId: id, approver: { credentialId: principal.credentialId, customerId: principal.customerId }, decision: body.decision, comment: body.comment, hsmToken: body.hsmToken },
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
      return {
        items: items.map((i) => ({
          withdrawal: toBody(i.withdrawal),
          reasons: i.reasons,
          quorum: i.requirement.quorum,
          eligible: i.requirement.eligible,
          hsmRequired: i.requirement.requiresHsm,
          policyVersion: i.requirement.policyVersion,
          expiresAt: new Date(i.expiresAt).toISOString(),
          approvals: i.approvals.map(approvalBody),
        })),
      };
    },
  );

  app.post<{ Params: { id: string }; Body: { decision: 'approve' | 'reject'; comment?: string; hsmToken?: string } }>(
    '/v1/withdrawals/:id/approvals',
    {
      config: { scope: 'approve' },
      schema: {
        summary: "An approver's decision on a withdrawal in the review queue",
        description:
          'One decision per approver; the submitter cannot decide; one rejection rejects; the quorum approves. 403 approver_is_submitter / approver_not_eligible, 409 approval_duplicate / withdrawal_not_pending / approval_expired.',
        security: [{ custosSignature: [] }],
        params: IdParams,
        body: ApprovalRequestSchema,
      },
    },
    async (req) => decide(req.principal as Principal, req.params.id, req.body),
  );

  app.post<{ Params: { id: string }; Body: { comment?: string } }>(
    '/v1/withdrawals/:id/rejections',
    {
      config: { scope: 'approve' },
      schema: {
        summary: 'Reject a withdrawal in the review queue (one rejection ends it)',
        security: [{ custosSignature: [] }],
        params: IdParams,
        body: { type: 'object', additionalProperties: false, properties: { comment: { type: 'string', maxLength: 2000 } } },
      },
    },
    async (req) => decide(req.principal as Principal, req.params.id, { decision: 'reject', comment: req.body.comment }),
  );
}
