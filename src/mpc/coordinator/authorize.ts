/**
 * The signing worker's `Authorize`: loads the withdrawal's stored approvals and has the policy
 * service issue the signing authorization for the unsigned transaction the worker built
 * (`issueSigningAuthorization`, src/approvals/authorization.ts), signed with the policy key.
 *
 * @example
 *   const authorize = policyAuthorizer({ db, policySecretKey });
 *   const worker = new SigningWorker({ db, coordinator, authorize, facts });
 */
import { issueSigningAuthorization } from '../../approvals/authorization.js';
import { listApprovals } from '../../store/approvals.js';
import type { Queryable } from '../../store/db.js';
import type { PinnedApproverKey } from '../node/authorization.js';
import type { Authorize } from './worker.js';

export interface PolicyAuthorizerOptions {
  readonly db: Queryable;
  /** The policy service key (32-byte Ed25519 secret): the key the nodes pin as `policyPublicKey`. */
  readonly policySecretKey: Uint8Array;
  /** Validity of each authorization (default: the approvals module's default). */
  readonly ttlMs?: number;
  /** When given, approval signatures are re-checked before issuing, as the nodes will. */
  readonly approverKeys?: readonly PinnedApproverKey[];
}

export function policyAuthorizer(o: PolicyAuthorizerOptions): Authorize {
  return async (req) => issueSigningAuthorization({
    withdrawal: req.withdrawal,
    approvals: await listApprovals(o.db, req.withdrawal.id),
    keyId: req.keyId,
    unsignedTx: req.unsignedTx,
    digest: req.digest,
    policySecretKey: o.policySecretKey,
    now: req.now,
    ...(o.ttlMs !== undefined ? { ttlMs: o.ttlMs } : {}),
    ...(o.approverKeys ? { approverKeys: o.approverKeys } : {}),
  });
}
