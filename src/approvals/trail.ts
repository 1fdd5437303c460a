/**
 * Re-verifies every approval and rejection in the audit trail, offline: each `withdrawal.approval`
 * / `withdrawal.rejection` entry carries the approver's signature, the statement's expiry and the
 * key it verified under, and each `approver.added` / `approver.revoked` entry the registry change.
 * Walking the entries in chain order (seq 1, 2, …), an approval is sound when its key was the
 * approver's registered key at that point (added earlier, not yet revoked), the signature verifies
 * over the approval statement rebuilt from the entry (withdrawal id from the subject, digest,
 * policy version, decision, approver, expiry), and it was recorded before that expiry.
 *
 * decide.ts reads the approver's key FOR SHARE, so a revocation commits either before the approval
 * (which is then refused) or after its audit entry: chain order never shows a sound approval after
 * the revocation of its key. Together with the signed checkpoints of the log, this lets an auditor
 * check from an export alone that no approval was made up or moved onto another withdrawal, even by
 * someone who could write to the database.
 *
 * @example
 *   const r = verifyApprovalTrail(readFileSync('export/entries.jsonl', 'utf8').split('\n').filter(Boolean));
 *   r.problems; // [] when every approval verifies
 */
import { approvalStatementVerifies, type ApprovalStatement } from './statement.js';

export interface TrailProblem {
  /** Position in the input (0-based; seq - 1 for a full export). */
  readonly index: number;
  readonly subject: string;
  readonly code: 'trail_unsigned' | 'trail_key_unknown' | 'trail_key_revoked' | 'trail_signature_invalid' | 'trail_recorded_after_expiry' | 'trail_entry_malformed';
  readonly message: string;
}

export interface TrailReport {
  readonly entries: number;
  readonly approvals: number;
  readonly rejections: number;
  readonly keysAdded: number;
  readonly keysRevoked: number;
  readonly problems: TrailProblem[];
}

interface Body {
  time?: unknown;
  action?: unknown;
  subject?: unknown;
  data?: Record<string, unknown>;
}

/** `bodies`: the canonical JSON bodies of the audit entries in chain order (or already parsed). */
export function verifyApprovalTrail(bodies: Iterable<string | Body>): TrailReport {
  // approver → key → state
  const keys = new Map<string, Map<string, 'active' | 'revoked'>>();
  const problems: TrailProblem[] = [];
  let entries = 0;
  let approvals = 0;
  let rejections = 0;
  let keysAdded = 0;
  let keysRevoked = 0;
  let index = -1;
  for (const raw of bodies) {
    index++;
    entries++;
    let e: Body;
    try {
      e = (typeof raw === 'string' ? JSON.parse(raw) : raw) as Body;
    } catch {
      problems.push({ index, subject: '', code: 'trail_entry_malformed', message: 'not JSON' });
      continue;
    }
    const subject = typeof e.subject === 'string' ? e.subject : '';
    const d = e.data ?? {};
    if (e.action === 'approver.added' || e.action === 'approver.revoked') {
      const approver = subject.replace(/^approver:/, '');
      const pk = d.publicKey;
      if (typeof pk !== 'string') {
        problems.push({ index, subject, code: 'trail_entry_malformed', message: 'a registry entry without its public key' });
        continue;
      }
      const mine = keys.get(approver) ?? new Map<string, 'active' | 'revoked'>();
      keys.set(approver, mine);
      if (e.action === 'approver.added') {
        mine.set(pk, 'active');
        keysAdded++;
      } else {
        mine.set(pk, 'revoked');
        keysRevoked++;
      }
      continue;
    }
    if (e.action !== 'withdrawal.approval' && e.action !== 'withdrawal.rejection') continue;
    if (e.action === 'withdrawal.approval') approvals++;
    else rejections++;
    const problem = (code: TrailProblem['code'], message: string) => problems.push({ index, subject, code, message });
    const { approver, decision, policyVersion, withdrawalDigest, signature, signatureExpiresAt, publicKey } = d;
    if (typeof signature !== 'string' || typeof publicKey !== 'string' || typeof signatureExpiresAt !== 'number') {
      problem('trail_unsigned', 'the entry carries no approval signature (written before approval keys, or its fields are redacted)');
      continue;
    }
    if (typeof approver !== 'string' || (decision !== 'approve' && decision !== 'reject') || typeof policyVersion !== 'number' || typeof withdrawalDigest !== 'string') {
      problem('trail_entry_malformed', 'approver, decision, policy version or digest missing');
      continue;
    }
    const state = keys.get(approver)?.get(publicKey);
    if (state === undefined) {
      problem('trail_key_unknown', `the key was not registered for ${approver} before this entry`);
      continue;
    }
    if (state === 'revoked') {
      problem('trail_key_revoked', `the key of ${approver} was revoked before this entry`);
      continue;
    }
    const statement: ApprovalStatement = {
      withdrawalId: subject.replace(/^withdrawal:/, ''), withdrawalDigest, policyVersion, decision, approver, expiresAt: signatureExpiresAt,
    };
    if (!approvalStatementVerifies(statement, signature, publicKey)) {
      problem('trail_signature_invalid', `the signature of ${approver} does not verify for this withdrawal, digest, policy version and decision`);
      continue;
    }
    const at = typeof e.time === 'string' ? Date.parse(e.time) : NaN;
    if (!(at <= signatureExpiresAt)) problem('trail_recorded_after_expiry', `recorded at ${String(e.time)}, after the signature expired`);
  }
  return { entries, approvals, rejections, keysAdded, keysRevoked, problems };
}
