/**
 * The approver registry's rows (migration 006, table approver_keys): approvers' Ed25519 approval
 * public keys, at most one active per approver, each key registered once only.
 *
 * @example
 *   await insertApproverKey(q, { approverId: 'alice', publicKey: hex, label: 'Alice (treasury)', createdAt: now });
 *   const key = await activeApproverKey(q, 'alice'); // { publicKey, ... } or null
 */
import type { Queryable } from './db.js';

export interface ApproverKey {
  approverId: string;
  publicKey: string;
  label: string;
  createdAt: number;
  revokedAt: number | null;
}

interface Row {
  approver_id: string;
  public_key: string;
  label: string;
  created_at: Date | string;
  revoked_at: Date | string | null;
}

const toKey = (r: Row): ApproverKey => ({
  approverId: r.approver_id,
  publicKey: r.public_key,
  label: r.label,
  createdAt: new Date(r.created_at).getTime(),
  revokedAt: r.revoked_at === null ? null : new Date(r.revoked_at).getTime(),
});

export async function insertApproverKey(q: Queryable, k: Omit<ApproverKey, 'revokedAt'>): Promise<void> {
  await q.query('INSERT INTO approver_keys (public_key, approver_id, label, created_at) VALUES ($1, $2, $3, $4)', [
    k.publicKey, k.approverId, k.label, new Date(k.createdAt).toISOString(),
  ]);
}

/**
 * The approver's active key, or null. With `forShare` (inside a transaction) the row stays locked
 * until commit: a concurrent revocation waits, so it commits after the caller's audit entry.
 */
export async function activeApproverKey(q: Queryable, approverId: string, opts: { forShare?: boolean } = {}): Promise<ApproverKey | null> {
  const [r] = await q.query<Row>(`SELECT * FROM approver_keys WHERE approver_id = $1 AND revoked_at IS NULL${opts.forShare ? ' FOR SHARE' : ''}`, [approverId]);
  return r ? toKey(r) : null;
}

/** Any registration of this public key, active or revoked. */
export async function findApproverKey(q: Queryable, publicKey: string): Promise<ApproverKey | null> {
  const [r] = await q.query<Row>('SELECT * FROM approver_keys WHERE public_key = $1', [publicKey]);
  return r ? toKey(r) : null;
}

/** Every key ever registered (active first per approver), or only active ones. */
export async function listApproverKeys(q: Queryable, opts: { includeRevoked?: boolean } = {}): Promise<ApproverKey[]> {
  const rows = await q.query<Row>(
    `SELECT * FROM approver_keys ${opts.includeRevoked ? '' : 'WHERE revoked_at IS NULL'} ORDER BY approver_id, revoked_at NULLS FIRST, created_at`,
  );
  return rows.map(toKey);
}

/** Revokes the approver's active key; returns it, or null when there was none. */
export async function revokeApproverKey(q: Queryable, approverId: string, at: number): Promise<ApproverKey | null> {
  const [r] = await q.query<Row>(
    'UPDATE approver_keys SET revoked_at = $2 WHERE approver_id = $1 AND revoked_at IS NULL RETURNING *',
    [approverId, new Date(at).toISOString()],
  );
  return r ? toKey(r) : null;
}
