/**
 * The outbound side of a withdrawal (from `approved` to the chain): which threshold key controls a
 * hot-wallet account, the queues the signing and broadcast workers claim from (`FOR UPDATE SKIP
 * LOCKED`, so two workers never take the same row), and the `withdrawal_transactions` row that
 * carries the signing plan (unsigned transaction, digest, authorization; on Solana the last block
 * height the transaction can land at), the worker's lease, the signed transaction and the broadcast
 * tracking. Status changes stay with `transitionWithdrawal`; callers run both in one transaction
 * with the audit entry.
 *
 * @example
 *   await db.tx(async (q) => {
 *     for (const id of await claimApprovedIds(q, { limit: 10, chains: ['solana'] })) {
 *       await transitionWithdrawal(q, id, 'approved', 'signing', null, now);
 *       await startOutbound(q, id, { owner: 'worker-1', leaseUntil: now + 60_000, now });
 *     }
 *   });
 */
import type { Chain } from '../core/chain.js';
import type { Queryable } from './db.js';

export interface AccountKey {
  readonly accountId: string;
  readonly chain: Chain;
  readonly asset: string;
  readonly address: string;
  /** The threshold key that controls `address`; null while none is bound. */
  readonly keyId: string | null;
}

/** Binds a threshold key to a hot-wallet account and sets the address that key controls. */
export async function bindAccountKey(q: Queryable, accountId: string, k: { keyId: string; address: string }): Promise<boolean> {
  const rows = await q.query('UPDATE accounts SET key_id = $2, address = $3 WHERE id = $1 RETURNING id', [accountId, k.keyId, k.address]);
  return rows.length === 1;
}

export async function accountKey(q: Queryable, accountId: string): Promise<AccountKey | null> {
  const [r] = await q.query<{ id: string; chain: Chain; asset: string; address: string; key_id: string | null }>(
    'SELECT id, chain, asset, address, key_id FROM accounts WHERE id = $1',
    [accountId],
  );
  return r ? { accountId: r.id, chain: r.chain, asset: r.asset, address: r.address, keyId: r.key_id } : null;
}

export async function listAccountKeys(q: Queryable): Promise<AccountKey[]> {
  const rows = await q.query<{ id: string; chain: Chain; asset: string; address: string; key_id: string | null }>(
    'SELECT id, chain, asset, address, key_id FROM accounts ORDER BY chain, asset',
  );
  return rows.map((r) => ({ accountId: r.id, chain: r.chain, asset: r.asset, address: r.address, keyId: r.key_id }));
}

export interface OutboundRecord {
  readonly withdrawalId: string;
  readonly keyId: string | null;
  readonly unsignedTx: Uint8Array | null;
  readonly digest: Uint8Array | null;
  /** The signed authorization as issued (JSON). */
  readonly authorization: unknown;
  readonly leaseOwner: string | null;
  readonly leaseUntil: number | null;
  readonly signAttempts: number;
  readonly lastError: string | null;
  readonly signers: readonly string[] | null;
  readonly rawTx: Uint8Array | null;
  readonly txHash: string | null;
  readonly signedAt: number | null;
  readonly broadcastAt: number | null;
  readonly broadcastAttempts: number;
  readonly confirmations: bigint | null;
  readonly nextCheckAt: number | null;
  /** Solana: the last block height at which the transaction can land (its blockhash's); null elsewhere. */
  readonly lastValidBlockHeight: bigint | null;
}

interface Row {
  withdrawal_id: string;
  key_id: string | null;
  unsigned_tx: Uint8Array | null;
  digest: Uint8Array | null;
  signing_authorization: unknown;
  lease_owner: string | null;
  lease_until: Date | string | null;
  sign_attempts: number;
  last_error: string | null;
  signers: string[] | null;
  raw_tx: Uint8Array | null;
  tx_hash: string | null;
  signed_at: Date | string | null;
  broadcast_at: Date | string | null;
  broadcast_attempts: number;
  confirmations: string | null;
  next_check_at: Date | string | null;
  last_valid_block_height: string | null;
}

const COLS = `withdrawal_id, key_id, unsigned_tx, digest, signing_authorization, lease_owner, lease_until, sign_attempts, last_error,
  signers, raw_tx, tx_hash, signed_at, broadcast_at, broadcast_attempts, confirmations::text AS confirmations, next_check_at,
  last_valid_block_height::text AS last_valid_block_height`;

const ms = (v: Date | string | null): number | null => (v === null ? null : new Date(v).getTime());
const bytes = (v: Uint8Array | null): Uint8Array | null => (v === null ? null : new Uint8Array(v));
const iso = (t: number): string => new Date(t).toISOString();

function toRecord(r: Row): OutboundRecord {
  return {
    withdrawalId: r.withdrawal_id,
    keyId: r.key_id,
    unsignedTx: bytes(r.unsigned_tx),
    digest: bytes(r.digest),
    authorization: typeof r.signing_authorization === 'string' ? (JSON.parse(r.signing_authorization) as unknown) : r.signing_authorization,
    leaseOwner: r.lease_owner,
    leaseUntil: ms(r.lease_until),
    signAttempts: Number(r.sign_attempts),
    lastError: r.last_error,
    signers: r.signers,
    rawTx: bytes(r.raw_tx),
    txHash: r.tx_hash,
    signedAt: ms(r.signed_at),
    broadcastAt: ms(r.broadcast_at),
    broadcastAttempts: Number(r.broadcast_attempts),
    confirmations: r.confirmations === null ? null : BigInt(r.confirmations),
    nextCheckAt: ms(r.next_check_at),
    lastValidBlockHeight: r.last_valid_block_height === null ? null : BigInt(r.last_valid_block_height),
  };
}

export async function getOutbound(q: Queryable, withdrawalId: string): Promise<OutboundRecord | null> {
  const [r] = await q.query<Row>(`SELECT ${COLS} FROM withdrawal_transactions WHERE withdrawal_id = $1`, [withdrawalId]);
  return r ? toRecord(r) : null;
}

/** The outbound records of several withdrawals in one statement (a page of a list), by withdrawal id. */
export async function getOutbounds(q: Queryable, withdrawalIds: readonly string[]): Promise<Map<string, OutboundRecord>> {
  if (withdrawalIds.length === 0) return new Map();
  const rows = await q.query<Row>(`SELECT ${COLS} FROM withdrawal_transactions WHERE withdrawal_id = ANY($1::text[])`, [[...withdrawalIds]]);
  return new Map(rows.map((r) => [r.withdrawal_id, toRecord(r)]));
}

/**
 * Locks and returns up to `limit` approved withdrawals on `chains` whose account has a key bound,
 * oldest first, skipping rows another transaction holds.
 */
export async function claimApprovedIds(q: Queryable, o: { limit: number; chains: readonly Chain[]; only?: readonly string[] | undefined }): Promise<string[]> {
  if (o.chains.length === 0 || o.limit <= 0) return [];
  const rows = await q.query<{ id: string }>(
    `SELECT w.id FROM withdrawals w JOIN accounts a ON a.id = w.account_id
     WHERE w.status = 'approved' AND a.key_id IS NOT NULL AND w.chain = ANY($1::text[]) AND ($3::text[] IS NULL OR w.id = ANY($3::text[]))
     ORDER BY w.updated_at, w.id LIMIT $2 FOR UPDATE OF w SKIP LOCKED`,
    [[...o.chains], o.limit, o.only ? [...o.only] : null],
  );
  return rows.map((r) => r.id);
}

/** Locks and returns `signing` withdrawals whose lease ran out (a crashed or deferred worker's). */
export async function claimStaleSigningIds(
  q: Queryable, o: { limit: number; now: number; chains: readonly Chain[]; only?: readonly string[] | undefined },
): Promise<string[]> {
  if (o.chains.length === 0 || o.limit <= 0) return [];
  const rows = await q.query<{ id: string }>(
    `SELECT w.id FROM withdrawals w LEFT JOIN withdrawal_transactions t ON t.withdrawal_id = w.id
     WHERE w.status = 'signing' AND w.chain = ANY($1::text[]) AND (t.lease_until IS NULL OR t.lease_until <= $2)
       AND ($4::text[] IS NULL OR w.id = ANY($4::text[]))
     ORDER BY w.updated_at, w.id LIMIT $3 FOR UPDATE OF w SKIP LOCKED`,
    [[...o.chains], iso(o.now), o.limit, o.only ? [...o.only] : null],
  );
  return rows.map((r) => r.id);
}

/** Creates (or re-leases) the outbound row of a withdrawal the caller just moved to `signing`. */
export async function leaseOutbound(q: Queryable, withdrawalId: string, o: { owner: string; leaseUntil: number; now: number }): Promise<void> {
  await q.query(
    `INSERT INTO withdrawal_transactions (withdrawal_id, lease_owner, lease_until, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)
     ON CONFLICT (withdrawal_id) DO UPDATE SET lease_owner = EXCLUDED.lease_owner, lease_until = EXCLUDED.lease_until, updated_at = EXCLUDED.updated_at`,
    [withdrawalId, o.owner, iso(o.leaseUntil), iso(o.now)],
  );
}

export interface SigningPlan {
  readonly keyId: string;
  readonly unsignedTx: Uint8Array;
  readonly digest: Uint8Array;
  readonly authorization: unknown;
  /** Solana: the last block height at which the transaction can land (not part of its bytes). */
  readonly lastValidBlockHeight?: bigint | undefined;
}

/** Stores the plan once, while `owner` holds the lease; false if the lease moved or a plan exists. */
export async function savePlan(q: Queryable, withdrawalId: string, owner: string, plan: SigningPlan, now: number): Promise<boolean> {
  const rows = await q.query(
    `UPDATE withdrawal_transactions SET key_id = $3, unsigned_tx = $4, digest = $5, signing_authorization = $6::jsonb, updated_at = $7,
       last_valid_block_height = $8::bigint
     WHERE withdrawal_id = $1 AND lease_owner = $2 AND unsigned_tx IS NULL RETURNING withdrawal_id`,
    [
      withdrawalId, owner, plan.keyId, Buffer.from(plan.unsignedTx), Buffer.from(plan.digest), JSON.stringify(plan.authorization), iso(now),
      plan.lastValidBlockHeight === undefined ? null : plan.lastValidBlockHeight.toString(),
    ],
  );
  return rows.length === 1;
}

/** Replaces an expired authorization (same transaction, same digest); false if the lease moved. */
export async function replaceAuthorization(q: Queryable, withdrawalId: string, owner: string, authorization: unknown, now: number): Promise<boolean> {
  const rows = await q.query(
    `UPDATE withdrawal_transactions SET signing_authorization = $3::jsonb, updated_at = $4
     WHERE withdrawal_id = $1 AND lease_owner = $2 AND unsigned_tx IS NOT NULL RETURNING withdrawal_id`,
    [withdrawalId, owner, JSON.stringify(authorization), iso(now)],
  );
  return rows.length === 1;
}

/** A transient failure: counts the attempt, keeps the reason, and lets any worker retry after `retryAt`. */
export async function deferSigning(q: Queryable, withdrawalId: string, owner: string, o: { error: string; retryAt: number; now: number }): Promise<boolean> {
  const rows = await q.query(
    `UPDATE withdrawal_transactions SET lease_until = $3, last_error = $4, sign_attempts = sign_attempts + 1, updated_at = $5
     WHERE withdrawal_id = $1 AND lease_owner = $2 RETURNING withdrawal_id`,
    [withdrawalId, owner, iso(o.retryAt), o.error.slice(0, 1000), iso(o.now)],
  );
  return rows.length === 1;
}

/** Stores the signed transaction (once, while `owner` holds the lease) and ends the lease. */
export async function recordSigned(
  q: Queryable, withdrawalId: string, owner: string, o: { rawTx: Uint8Array; txHash: string; signers: readonly string[]; now: number },
): Promise<boolean> {
  const rows = await q.query(
    `UPDATE withdrawal_transactions SET raw_tx = $3, tx_hash = $4, signers = $5::text[], signed_at = $6, updated_at = $6,
       sign_attempts = sign_attempts + 1, lease_owner = NULL, lease_until = NULL, last_error = NULL
     WHERE withdrawal_id = $1 AND lease_owner = $2 AND raw_tx IS NULL RETURNING withdrawal_id`,
    [withdrawalId, owner, Buffer.from(o.rawTx), o.txHash, [...o.signers], iso(o.now)],
  );
  return rows.length === 1;
}

/** Ends the lease with the reason (the caller moves the withdrawal to `failed`). */
export async function recordSigningFailure(q: Queryable, withdrawalId: string, o: { error: string; now: number }): Promise<void> {
  await q.query(
    `UPDATE withdrawal_transactions SET last_error = $2, lease_owner = NULL, lease_until = NULL, updated_at = $3 WHERE withdrawal_id = $1`,
    [withdrawalId, o.error.slice(0, 1000), iso(o.now)],
  );
}

/**
 * Locks and returns withdrawals in `status` (`signed`: to broadcast; `broadcast`: to check) on
 * `chains` whose next check is due.
 */
export async function claimDueIds(
  q: Queryable, o: { status: 'signed' | 'broadcast'; limit: number; now: number; chains: readonly Chain[] },
): Promise<string[]> {
  if (o.chains.length === 0 || o.limit <= 0) return [];
  const rows = await q.query<{ id: string }>(
    `SELECT w.id FROM withdrawals w JOIN withdrawal_transactions t ON t.withdrawal_id = w.id
     WHERE w.status = $1 AND w.chain = ANY($2::text[]) AND (t.next_check_at IS NULL OR t.next_check_at <= $3)
     ORDER BY w.updated_at, w.id LIMIT $4 FOR UPDATE OF w SKIP LOCKED`,
    [o.status, [...o.chains], iso(o.now), o.limit],
  );
  return rows.map((r) => r.id);
}

/** Records a broadcast attempt or a confirmation check. */
export async function recordCheck(
  q: Queryable, withdrawalId: string,
  o: { now: number; nextCheckAt: number | null; error?: string | null; confirmations?: bigint | null; broadcast?: boolean; attempt?: boolean },
): Promise<void> {
  await q.query(
    `UPDATE withdrawal_transactions SET next_check_at = $2, updated_at = $3,
       last_error = CASE WHEN $4::boolean THEN $5 ELSE last_error END,
       confirmations = COALESCE($6::bigint, confirmations),
       broadcast_at = CASE WHEN $7::boolean AND broadcast_at IS NULL THEN $3 ELSE broadcast_at END,
       broadcast_attempts = broadcast_attempts + CASE WHEN $8::boolean THEN 1 ELSE 0 END
     WHERE withdrawal_id = $1`,
    [
      withdrawalId, o.nextCheckAt === null ? null : iso(o.nextCheckAt), iso(o.now), o.error !== undefined, o.error?.slice(0, 1000) ?? null,
      o.confirmations === undefined || o.confirmations === null ? null : o.confirmations.toString(), o.broadcast === true, o.attempt === true,
    ],
  );
}
