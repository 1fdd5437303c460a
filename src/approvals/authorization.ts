/**
 * Issuing the signing authorization (issue 3): from an approved withdrawal and its stored
 * approvals (each with the approver's signature over the approval statement), build the
 * authorization the signing nodes check (src/mpc/node/authorization.ts) and sign it with the
 * policy service key. Pure: the caller (the signing worker) loads the withdrawal and its approvals
 * (`getWithdrawal`, `listApprovals`), builds the unsigned transaction with the chain module, and
 * passes the policy secret key and the time.
 *
 * What it refuses (CustosError, stable codes): a withdrawal that is not `approved` or `signing`
 * (authorization_withdrawal_not_approved), without amount or fee (withdrawal_incomplete), an
 * approval of another withdrawal or policy version, a rejection among them, an approval without a
 * signature (authorization_approval_unusable), fewer distinct approvers than the quorum its rules
 * decision required (authorization_quorum_not_met). With `approverKeys` it re-verifies every
 * signature first (authorization_approval_invalid), as the nodes will.
 *
 * @example
 *   const signed = issueSigningAuthorization({
 *     withdrawal, approvals: await listApprovals(db, withdrawal.id), keyId: 'sol-hot',
 *     unsignedTx: unsigned.bytes, digest: signingDigest(unsigned), policySecretKey, now: clock.now(),
 *   });
 *   await coordinator.sign({ keyId: 'sol-hot', authorization: signed }, chainDigest);
 */
import { bytesToHex } from '@noble/hashes/utils.js';
import { CustosError } from '../core/errors.js';
import {
  signAuthorization, verifiedApprovers, type Approval, type AuthorizedWithdrawal, type PinnedApproverKey, type SignedAuthorization,
  type SigningAuthorization,
} from '../mpc/node/authorization.js';
import type { ApprovalRecord } from '../store/approvals.js';
import type { WithdrawalRecord } from '../store/withdrawals.js';
import { withdrawalDigest } from './digest.js';
import { storedRequirement } from './requirement.js';
import { signApprovalStatement } from './statement.js';

/** How long an authorization stays valid by default: long enough for a signing session and its retries. */
export const DEFAULT_AUTHORIZATION_TTL_MS = 5 * 60 * 1000;

export interface IssueAuthorizationInput {
  /** The withdrawal, status `approved` (or `signing`, when the worker claimed it first). */
  readonly withdrawal: WithdrawalRecord;
  /** Its stored approvals (listApprovals), signatures included. */
  readonly approvals: readonly ApprovalRecord[];
  /** The threshold key that signs (as named at key generation). */
  readonly keyId: string;
  /** The unsigned transaction, as the chain module built it. */
  readonly unsignedTx: Uint8Array;
  /** The bytes to sign as the chain defines them; each node re-derives them from `unsignedTx`. */
  readonly digest: Uint8Array;
  /** The policy service key (32-byte Ed25519 secret). */
  readonly policySecretKey: Uint8Array;
  readonly now: number;
  /** Validity from `now` (default DEFAULT_AUTHORIZATION_TTL_MS). */
  readonly ttlMs?: number;
  /** When given, every approval signature is re-verified against these keys before signing. */
  readonly approverKeys?: readonly PinnedApproverKey[];
}

/** The withdrawal fields the approvers' digest covers, as the authorization carries them. */
export function authorizedWithdrawal(w: WithdrawalRecord): AuthorizedWithdrawal {
  if (w.amount === null || w.fee === null) throw new CustosError('withdrawal_incomplete', 'the withdrawal lacks an amount or fee', 409);
  return {
    id: w.id, customerId: w.customerId, chain: w.chain, asset: w.asset, to: w.to, amount: w.amount.toString(), fee: w.fee.toString(),
    memo: w.memo, createdAt: w.createdAt,
  };
}

/** The approvals of a withdrawal as an authorization carries them: approve decisions with their signatures. */
export function authorizationApprovals(w: WithdrawalRecord, approvals: readonly ApprovalRecord[], policyVersion: number): Approval[] {
  const out: Approval[] = [];
  for (const a of approvals) {
    const unusable = (why: string) => new CustosError('authorization_approval_unusable', `the approval of ${a.approverId} ${why}`, 409);
    if (a.withdrawalId !== w.id) throw unusable('is for another withdrawal');
    if (a.decision !== 'approve') throw unusable('is a rejection');
    if (a.policyVersion !== policyVersion) throw unusable(`is for policy version ${a.policyVersion}, not ${policyVersion}`);
    if (a.signature === null || a.signatureExpiresAt === null) throw unusable('carries no approval signature');
    out.push({ approver: a.approverId, at: a.at, expiresAt: a.signatureExpiresAt, signature: a.signature });
  }
  return out;
}

/**
 * Approvals as the named approvers would sign them for an authorized withdrawal (what
 * `custos approve` does, without the server round trip): for benchmarks, demos and tests that
 * build an authorization for a withdrawal that is not in a database.
 */
export function signApprovalsFor(
  w: AuthorizedWithdrawal,
  policyVersion: number,
  approvers: readonly { approver: string; secretKey: Uint8Array }[],
  at: { at: number; expiresAt: number },
): Approval[] {
  const digest = withdrawalDigest({ ...w, amount: BigInt(w.amount), fee: w.fee === null ? null : BigInt(w.fee) });
  return approvers.map(({ approver, secretKey }) => ({
    approver,
    at: at.at,
    expiresAt: at.expiresAt,
    signature: signApprovalStatement({ withdrawalId: w.id, withdrawalDigest: digest, policyVersion, decision: 'approve', approver, expiresAt: at.expiresAt }, secretKey),
  }));
}

export function issueSigningAuthorization(input: IssueAuthorizationInput): SignedAuthorization {
  const w = input.withdrawal;
  if (w.status !== 'approved' && w.status !== 'signing') {
    throw new CustosError('authorization_withdrawal_not_approved', `withdrawal ${w.id} is ${w.status}: only an approved withdrawal gets a signing authorization`, 409);
  }
  const req = storedRequirement(w);
  const withdrawal = authorizedWithdrawal(w);
  const approvals = authorizationApprovals(w, input.approvals, req.policyVersion);
  const distinct = new Set(approvals.map((a) => a.approver));
  if (distinct.size < req.quorum) {
    throw new CustosError('authorization_quorum_not_met', `withdrawal ${w.id} has ${distinct.size} distinct approvals; its policy required ${req.quorum}`, 409);
  }
  const authorization: SigningAuthorization = {
    withdrawalId: w.id,
    keyId: input.keyId,
    chain: w.chain,
    unsignedTx: bytesToHex(input.unsignedTx),
    digest: bytesToHex(input.digest),
    to: w.to,
    amount: withdrawal.amount,
    policyVersion: req.policyVersion,
    withdrawal,
    approvals,
    expiresAt: input.now + (input.ttlMs ?? DEFAULT_AUTHORIZATION_TTL_MS),
    ...hsmTokenOf(w),
  };
  if (input.approverKeys) {
    const valid = verifiedApprovers(authorization, input.approverKeys);
    if (valid.size < req.quorum) {
      throw new CustosError('authorization_quorum_not_met', `withdrawal ${w.id} has ${valid.size} approvals by known approvers; its policy required ${req.quorum}`, 409);
    }
  }
  return signAuthorization(authorization, input.policySecretKey);
}

/**
 * The HSM approval token verified when the approvals completed (stored with the approval stage's
 * decision, decide.ts): carried to the nodes, whose value tiers may require it.
 */
export function hsmTokenOf(w: Pick<WithdrawalRecord, 'decisions'>): { hsmToken?: string } {
  const d = [...w.decisions].reverse().find((x) => x.stage === 'approval' && x.outcome === 'pass') as { hsmToken?: unknown } | undefined;
  return typeof d?.hsmToken === 'string' ? { hsmToken: d.hsmToken } : {};
}
