/**
 * The approval statement: what an approver signs with their Ed25519 approval key to approve or
 * reject one withdrawal. The signed bytes are a domain line followed by the canonical JSON of
 * withdrawal id, withdrawal digest (digest.ts), policy version, decision, approver id and an
 * expiry chosen by the signer. A signature therefore cannot be replayed onto another withdrawal
 * (id and digest differ), another decision, another policy version, another approver, or
 * submitted after its expiry. The comment is not part of the statement: it is informational.
 *
 * Verification is strict RFC 8032 (no ZIP-215 leniency), so one statement has one valid
 * signature encoding per key.
 *
 * The gateway (decide.ts), the `custos approve` CLI and every signing node (which re-verifies the
 * approvals an authorization carries) use these functions; they are pure.
 *
 * @example
 *   const s: ApprovalStatement = { withdrawalId: w.id, withdrawalDigest: withdrawalDigest(w), policyVersion: 3,
 *     decision: 'approve', approver: 'alice', expiresAt: now + 10 * 60_000 };
 *   const signature = signApprovalStatement(s, secretKey);      // 128 hex characters
 *   approvalStatementVerifies(s, signature, publicKeyHex);      // true
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { CustosError } from '../core/errors.js';
import { canonicalJson } from '../policy/canonical.js';

export const APPROVAL_STATEMENT_DOMAIN = 'custos/withdrawal-approval/v1\n';

export type ApprovalDecision = 'approve' | 'reject';

export interface ApprovalStatement {
  readonly withdrawalId: string;
  /** withdrawalDigest(w): 64 lowercase hex characters. */
  readonly withdrawalDigest: string;
  readonly policyVersion: number;
  readonly decision: ApprovalDecision;
  /** The approver id as registered (`custos approvers add --id`) and listed by the policy. */
  readonly approver: string;
  /** After this instant (ms since the epoch) the signature is no longer accepted. */
  readonly expiresAt: number;
}

/** Longest validity a signer may give a statement; a longer one is refused (approval_signature_expiry_too_far). */
export const MAX_STATEMENT_VALIDITY_MS = 24 * 60 * 60 * 1000;
/** Validity the CLI gives a statement by default. */
export const DEFAULT_STATEMENT_VALIDITY_MS = 10 * 60 * 1000;

const HEX64 = /^[0-9a-f]{64}$/;
const HEX128 = /^[0-9a-f]{128}$/;
const ID = /^[A-Za-z0-9_.:-]{1,128}$/;

const malformed = (why: string) => new CustosError('approval_statement_invalid', `malformed approval statement: ${why}`, 400);

/** Validates untrusted JSON as a statement (shape only). */
export function parseApprovalStatement(json: unknown): ApprovalStatement {
  const o = (typeof json === 'object' && json !== null && !Array.isArray(json) ? json : null) as Record<string, unknown> | null;
  if (!o) throw malformed('not an object');
  const str = (k: string, re: RegExp): string => {
    const v = o[k];
    if (typeof v !== 'string' || !re.test(v)) throw malformed(k);
    return v;
  };
  const int = (k: string): number => {
    const v = o[k];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw malformed(k);
    return v;
  };
  const decision = o.decision;
  if (decision !== 'approve' && decision !== 'reject') throw malformed('decision');
  return {
    withdrawalId: str('withdrawalId', ID),
    withdrawalDigest: str('withdrawalDigest', HEX64),
    policyVersion: int('policyVersion'),
    decision,
    approver: str('approver', ID),
    expiresAt: int('expiresAt'),
  };
}

/** The exact bytes an approver signs. */
export function approvalStatementBytes(s: ApprovalStatement): Uint8Array {
  const body = canonicalJson({
    withdrawalId: s.withdrawalId,
    withdrawalDigest: s.withdrawalDigest,
    policyVersion: s.policyVersion,
    decision: s.decision,
    approver: s.approver,
    expiresAt: s.expiresAt,
  });
  return utf8ToBytes(APPROVAL_STATEMENT_DOMAIN + body);
}

/** Signs a statement with a 32-byte Ed25519 approval secret key; returns the signature as hex. */
export function signApprovalStatement(s: ApprovalStatement, secretKey: Uint8Array): string {
  return bytesToHex(ed25519.sign(approvalStatementBytes(s), secretKey));
}

/** True when `signature` (hex) is a valid strict Ed25519 signature of the statement under `publicKey` (hex). */
export function approvalStatementVerifies(s: ApprovalStatement, signature: string, publicKey: string): boolean {
  if (typeof signature !== 'string' || !HEX128.test(signature) || typeof publicKey !== 'string' || !HEX64.test(publicKey)) return false;
  try {
    return ed25519.verify(hexToBytes(signature), approvalStatementBytes(s), hexToBytes(publicKey), { zip215: false });
  } catch {
    return false;
  }
}
