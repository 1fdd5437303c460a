/**
 * The approver registry: who may sign approvals, as Ed25519 approval public keys (the server never
 * sees an approver's secret key). Every change is audited in the same transaction. An approver has
 * at most one active key; rotating is `revokeApprover` then `addApprover` with the new key. A
 * public key is registered once only: never for a second approver (one key would count as two
 * approvers), never again after its revocation.
 *
 * The registry says whose signature is whose; the active policy (approvals.approvers) says who is
 * eligible to approve. Both must hold for an approval to count.
 *
 * @example
 *   await addApprover(db, clock, { approverId: 'alice', publicKey: hex, label: 'Alice' }, 'operator');
 *   await revokeApprover(db, clock, 'alice', 'operator');
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { hexToBytes } from '@noble/hashes/utils.js';
import { appendAudit } from '../audit/chain.js';
import type { Clock } from '../core/clock.js';
import { CustosError } from '../core/errors.js';
import { activeApproverKey, findApproverKey, insertApproverKey, revokeApproverKey, type ApproverKey } from '../store/approvers.js';
import type { Db } from '../store/db.js';

export const APPROVER_ID = /^[A-Za-z0-9_.:-]{1,128}$/;

/** Checks that `hex` is a usable Ed25519 public key (64 lowercase hex characters, a point on the curve, not of small order). */
export function parseApprovalPublicKey(hex: string): string {
  if (typeof hex !== 'string' || !/^[0-9a-f]{64}$/.test(hex)) {
    throw new CustosError('approver_key_invalid', 'an approval public key is 64 lowercase hex characters (32-byte Ed25519)', 400);
  }
  try {
    const p = ed25519.Point.fromBytes(hexToBytes(hex));
    if (p.isSmallOrder()) throw new Error('small order');
  } catch {
    throw new CustosError('approver_key_invalid', 'the approval public key is not a valid Ed25519 point', 400);
  }
  return hex;
}

export async function addApprover(
  db: Db,
  clock: Clock,
  input: { approverId: string; publicKey: string; label?: string },
  actor: string,
): Promise<ApproverKey> {
  if (!APPROVER_ID.test(input.approverId)) throw new CustosError('approver_id_invalid', 'an approver id is 1 to 128 of A–Z a–z 0–9 _ . : -', 400);
  const publicKey = parseApprovalPublicKey(input.publicKey);
  const label = input.label ?? '';
  if (label.length > 200) throw new CustosError('approver_label_too_long', 'the label is longer than 200 characters', 400);
  try {
    return await db.tx(async (q) => {
      const now = clock.now();
      const used = await findApproverKey(q, publicKey);
      if (used) {
        throw new CustosError(
          'approver_key_in_use',
          used.approverId === input.approverId && used.revokedAt === null
            ? `this key is already the active key of ${used.approverId}`
            : `this key was registered before (for ${used.approverId}${used.revokedAt === null ? '' : ', revoked'}): a key is registered once only`,
          409,
        );
      }
      if (await activeApproverKey(q, input.approverId)) {
        throw new CustosError('approver_exists', `${input.approverId} already has an active approval key: revoke it first to rotate`, 409);
      }
      const key: ApproverKey = { approverId: input.approverId, publicKey, label, createdAt: now, revokedAt: null };
      await insertApproverKey(q, key);
      await appendAudit(q, { at: now, actor, action: 'approver.added', subject: `approver:${input.approverId}`, data: { publicKey, label } });
      return key;
    });
  } catch (err) {
    // Two registrations raced: the loser hit a unique index.
    if ((err as { code?: string }).code === '23505') throw new CustosError('approver_exists', `${input.approverId} or this key was registered concurrently`, 409);
    throw err;
  }
}

export async function revokeApprover(db: Db, clock: Clock, approverId: string, actor: string): Promise<ApproverKey> {
  return db.tx(async (q) => {
    const now = clock.now();
    const key = await revokeApproverKey(q, approverId, now);
    if (!key) throw new CustosError('approver_not_registered', `${approverId} has no active approval key`, 404);
    await appendAudit(q, { at: now, actor, action: 'approver.revoked', subject: `approver:${approverId}`, data: { publicKey: key.publicKey } });
    return key;
  });
}
