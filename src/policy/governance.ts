/**
 * Quorum-governed policy changes. A change is a proposal naming the document it replaces (version
 * and hash) and the new one (version + 1 and hash of its canonical JSON). Admins of the *current*
 * policy approve it by signing the proposal digest with their Ed25519 key (strict RFC 8032
 * verification). The change applies only with `governance.quorum` valid signatures from distinct
 * admins, none of them the proposer. Because the digest binds both versions and both hashes, an
 * approval cannot be replayed onto another proposal, another document or a later version.
 *
 * @example
 *   const proposal = proposePolicyChange(currentDoc, nextDoc, 'admin-1', clock.now());
 *   const a2 = signPolicyChange(proposal, 'admin-2', secretKey2);
 *   const a3 = signPolicyChange(proposal, 'admin-3', secretKey3);
 *   const next = applyPolicyChange(currentDoc, nextDoc, proposal, [a2, a3]); // the new Policy
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { CustosError } from '../core/errors.js';
import { canonicalJson, policyHash } from './canonical.js';
import { parsePolicy, type Policy } from './document.js';

export const POLICY_CHANGE_DOMAIN = 'custos/policy-change/v1\n';

export interface PolicyChangeProposal {
  previousVersion: number;
  previousHash: string; // policyHash of the document being replaced
  version: number; // previousVersion + 1
  documentHash: string; // policyHash of the proposed document
  proposer: string; // admin id
  createdAt: number;
}

export interface PolicyApproval {
  approver: string; // admin id
  signature: string; // hex Ed25519 signature over policyChangeDigest(proposal)
}

const HEX64 = /^[0-9a-f]{64}$/;
const HEX128 = /^[0-9a-f]{128}$/;

export function policyChangeDigest(p: PolicyChangeProposal): Uint8Array {
  for (const h of [p.previousHash, p.documentHash]) {
    if (typeof h !== 'string' || !HEX64.test(h)) throw new CustosError('policy_change_invalid', 'proposal hashes must be 64 lowercase hex characters', 422);
  }
  const body = canonicalJson({
    previousVersion: p.previousVersion,
    previousHash: p.previousHash,
    version: p.version,
    documentHash: p.documentHash,
    proposer: p.proposer,
    createdAt: p.createdAt,
  });
  return sha256(utf8ToBytes(POLICY_CHANGE_DOMAIN + body));
}

/** Builds a proposal after checking the new document validates and follows the current version. */
export function proposePolicyChange(currentDocument: unknown, nextDocument: unknown, proposer: string, now: number): PolicyChangeProposal {
  const current = parsePolicy(currentDocument);
  const next = parsePolicy(nextDocument);
  if (next.version !== current.version + 1) {
    throw new CustosError('policy_version_invalid', `the new policy must have version ${current.version + 1}, not ${next.version}`, 422);
  }
  if (!Object.hasOwn(current.governance.admins, proposer)) {
    throw new CustosError('proposer_unknown', 'only an admin of the current policy may propose a change', 403);
  }
  return {
    previousVersion: current.version,
    previousHash: policyHash(currentDocument),
    version: next.version,
    documentHash: policyHash(nextDocument),
    proposer,
    createdAt: now,
  };
}

/** An admin's approval of a proposal (used by the CLI with the admin's key). */
export function signPolicyChange(proposal: PolicyChangeProposal, approver: string, secretKey: Uint8Array): PolicyApproval {
  return { approver, signature: bytesToHex(ed25519.sign(policyChangeDigest(proposal), secretKey)) };
}

/** Checks one approval against the current governance; throws a CustosError with a stable code. */
export function verifyPolicyApproval(proposal: PolicyChangeProposal, approval: PolicyApproval, current: Policy): void {
  const admins = current.governance.admins;
  if (typeof approval.approver !== 'string' || !Object.hasOwn(admins, approval.approver)) {
    throw new CustosError('approver_unknown', 'the approver is not an admin of the current policy', 403);
  }
  if (approval.approver === proposal.proposer) {
    throw new CustosError('approver_is_proposer', 'the proposer of a policy change cannot approve it', 403);
  }
  if (typeof approval.signature !== 'string' || !HEX128.test(approval.signature)) {
    throw new CustosError('approval_signature_invalid', 'the approval signature is not 64 bytes of lowercase hex', 422);
  }
  const key = admins[approval.approver]!;
  let ok = false;
  try {
    ok = ed25519.verify(hexToBytes(approval.signature), policyChangeDigest(proposal), key, { zip215: false });
  } catch {
    ok = false;
  }
  if (!ok) throw new CustosError('approval_signature_invalid', 'the approval signature does not verify for this proposal', 403);
}

/**
 * Verifies a complete change and returns the new policy: the proposal must describe exactly these
 * two documents, and `quorum` distinct admins other than the proposer must have signed it.
 */
export function applyPolicyChange(currentDocument: unknown, nextDocument: unknown, proposal: PolicyChangeProposal, approvals: readonly PolicyApproval[]): Policy {
  const current = parsePolicy(currentDocument);
  const next = parsePolicy(nextDocument);
  if (proposal.previousVersion !== current.version || proposal.previousHash !== policyHash(currentDocument)) {
    throw new CustosError('policy_change_stale', 'the proposal does not replace the current policy', 409);
  }
  if (proposal.version !== current.version + 1 || next.version !== proposal.version || proposal.documentHash !== policyHash(nextDocument)) {
    throw new CustosError('policy_change_mismatch', 'the proposal does not describe this document', 409);
  }
  if (!Object.hasOwn(current.governance.admins, proposal.proposer)) {
    throw new CustosError('proposer_unknown', 'only an admin of the current policy may propose a change', 403);
  }
  const seen = new Set<string>();
  for (const a of approvals) {
    verifyPolicyApproval(proposal, a, current);
    if (seen.has(a.approver)) throw new CustosError('approval_duplicate', 'an admin approved the change twice', 409);
    seen.add(a.approver);
  }
  if (seen.size < current.governance.quorum) {
    throw new CustosError('quorum_not_reached', `the change has ${seen.size} of the ${current.governance.quorum} approvals it needs`, 409);
  }
  return next;
}
