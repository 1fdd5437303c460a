/**
 * Withdrawal rows. Status changes go through `transitionWithdrawal`, which checks the state
 * machine and must run in the same transaction as the audit entry that records it.
 *
 * @example
 *   const w = await getWithdrawal(q, id, customerId);
 */
import type { Chain } from '../core/chain.js';
import type { Decision } from '../core/decision.js';
import { CustosError } from '../core/errors.js';
import { assertTransition, type WithdrawalStatus } from '../core/withdrawal.js';
import type { Queryable } from './db.js';

/** A stored withdrawal. Amount/fee are null only when the submitted text could not be parsed (rejected). */
export interface WithdrawalRecord {
  id: string;
  customerId: string;
  credentialId: string;
  accountId: string | null;
  chain: Chain;
  asset: string;
  to: string;
  amount: bigint | null;
  fee: bigint | null;
  nonce: bigint | null;
  memo: string | null;
  status: WithdrawalStatus;
  decisions: Decision[];
  request: Record<string, unknown>;
  idempotencyKey: string;
  requestHash: Uint8Array;
  createdAt: number;
  updatedAt: number;
}

export async function insertWithdrawal(q: Queryable, w: WithdrawalRecord): Promise<void> {
  await q.query(
    `INSERT INTO withdrawals (id, customer_id, credential_id, account_id, chain, asset, to_address, amount, fee, nonce, memo,
       status, decisions, request, idempotency_key, request_hash, created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`,
    [
      w.id,
      w.customerId,
      w.credentialId,
      w.accountId,
      w.chain,
      w.asset,
      w.to,
      w.amount?.toString() ?? null,
      w.fee?.toString() ?? null,
      w.nonce?.toString() ?? null,
      w.memo,
      w.status,
      JSON.stringify(w.decisions),
      JSON.stringify(w.request),
      w.idempotencyKey,
      Buffer.from(w.requestHash),
      new Date(w.createdAt).toISOString(),
      new Date(w.updatedAt).toISOString(),
    ],
  );
}

interface Row {
  id: string;
  customer_id: string;
  credential_id: string;
  account_id: string | null;
  chain: Chain;
  asset: string;
  to_address: string;
  amount: string | null;
  fee: string | null;
  nonce: string | null;
  memo: string | null;
  status: WithdrawalStatus;
  decisions: Decision[] | string;
  request: Record<string, unknown> | string;
  idempotency_key: string;
  request_hash: Uint8Array;
  created_at: Date | string;
  updated_at: Date | string;
}

const COLS = `id, customer_id, credential_id, account_id, chain, asset, to_address, amount::text AS amount, fee::text AS fee,
  nonce::text AS nonce, memo, status, decisions, request, idempotency_key, request_hash, created_at, updated_at`;

const json = <T>(v: T | string): T => (typeof v === 'string' ? (JSON.parse(v) as T) : v);
const big = (v: string | null) => (v === null ? null : BigInt(v));

function toRecord(r: Row): WithdrawalRecord {
  return {
    id: r.id,
    customerId: r.customer_id,
    credentialId: r.credential_id,
    accountId: r.account_id,
    chain: r.chain,
    asset: r.asset,
    to: r.to_address,
    amount: big(r.amount),
    fee: big(r.fee),
    nonce: big(r.nonce),
    memo: r.memo,
    status: r.status,
    decisions: json(r.decisions),
    request: json(r.request),
    idempotencyKey: r.idempotency_key,
    requestHash: new Uint8Array(r.request_hash),
    createdAt: new Date(r.created_at).getTime(),
    updatedAt: new Date(r.updated_at).getTime(),
  };
}

/** A withdrawal by id; with `customerId`, only if it belongs to that customer. */
export async function getWithdrawal(q: Queryable, id: string, customerId?: string): Promise<WithdrawalRecord | null> {
  const [r] = customerId
    ? await q.query<Row>(`SELECT ${COLS} FROM withdrawals WHERE id = $1 AND customer_id = $2`, [id, customerId])
    : await q.query<Row>(`SELECT ${COLS} FROM withdrawals WHERE id = $1`, [id]);
  return r ? toRecord(r) : null;
}

export async function findByIdempotencyKey(q: Queryable, customerId: string, key: string): Promise<WithdrawalRecord | null> {
  const [r] = await q.query<Row>(`SELECT ${COLS} FROM withdrawals WHERE customer_id = $1 AND idempotency_key = $2`, [customerId, key]);
  return r ? toRecord(r) : null;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** Newest first, keyset-paged by (created_at, id); the cursor is opaque to clients. */
export async function listWithdrawals(
  q: Queryable,
  opts: { customerId: string; status?: WithdrawalStatus | undefined; limit: number; cursor?: string | undefined },
): Promise<Page<WithdrawalRecord>> {
  const params: unknown[] = [opts.customerId];
  let where = 'customer_id = $1';
  if (opts.status) {
    params.push(opts.status);
    where += ` AND status = $${params.length}`;
  }
  if (opts.cursor) {
    const c = decodeCursor(opts.cursor);
    params.push(new Date(c.t).toISOString(), c.id);
    where += ` AND (created_at, id) < ($${params.length - 1}::timestamptz, $${params.length})`;
  }
  params.push(opts.limit + 1);
  const rows = await q.query<Row>(`SELECT ${COLS} FROM withdrawals WHERE ${where} ORDER BY created_at DESC, id DESC LIMIT $${params.length}`, params);
  const items = rows.slice(0, opts.limit).map(toRecord);
  const last = items[items.length - 1];
  return { items, nextCursor: rows.length > opts.limit && last ? encodeCursor(last.createdAt, last.id) : null };
}

function encodeCursor(t: number, id: string): string {
  return Buffer.from(JSON.stringify([t, id])).toString('base64url');
}

function decodeCursor(cursor: string): { t: number; id: string } {
  try {
    const v: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(v) && v.length === 2 && Number.isSafeInteger(v[0]) && typeof v[1] === 'string') return { t: v[0] as number, id: v[1] };
  } catch {
    /* fall through */
  }
  throw new CustosError('cursor_invalid', 'the paging cursor is not one this server issued', 400);
}

/** The states in which a withdrawal no longer holds part of its account's balance. */
const ENDS_HOLD: ReadonlySet<WithdrawalStatus> = new Set<WithdrawalStatus>(['rejected', 'failed', 'confirmed']);

/**
 * Moves a withdrawal to `to` if it is still in `from` (row lock), appending a decision; ending in
 * rejected or failed releases its balance hold, confirmed takes the hold from the balance (never
 * below zero: the operator may have recorded a lower balance meanwhile).
 * Returns the updated record; throws `invalid_transition` or `withdrawal_state_changed`.
 */
export async function transitionWithdrawal(
  q: Queryable,
  id: string,
  from: WithdrawalStatus,
  to: WithdrawalStatus,
  decision: Decision | null,
  at: number,
): Promise<WithdrawalRecord> {
  assertTransition(from, to);
  // Leaving the flight (rejected, failed, confirmed) ends the withdrawal's balance hold in the same
  // statement: released back to the account, or, when confirmed, taken from its balance too.
  const rows = await q.query<Row>(
    `WITH o AS (SELECT held, fee_account_id, held_fee FROM withdrawals WHERE id = $1 AND status = $2),
     w AS (
       UPDATE withdrawals SET status = $3, updated_at = $4,
         decisions = CASE WHEN $5::jsonb IS NULL THEN decisions ELSE decisions || $5::jsonb END,
         held = CASE WHEN $6 THEN 0 ELSE held END, held_fee = CASE WHEN $6 THEN 0 ELSE held_fee END
       WHERE id = $1 AND status = $2 RETURNING ${COLS}
     ), x AS (
       -- what ends, per account: the own hold, and a token's fee hold on the native account
       SELECT id, sum(h) AS h FROM (
         SELECT w.account_id AS id, o.held AS h FROM w, o WHERE o.held > 0
         UNION ALL SELECT o.fee_account_id, o.held_fee FROM w, o WHERE o.held_fee > 0) AS y GROUP BY id
     ), a AS (
       UPDATE accounts SET reserved = GREATEST(reserved - x.h, 0),
           balance = CASE WHEN $3 = 'confirmed' THEN GREATEST(balance - x.h, 0) ELSE balance END
         FROM x WHERE $6 AND accounts.id = x.id
       RETURNING 1
     )
     SELECT * FROM w`,
    [id, from, to, new Date(at).toISOString(), decision ? JSON.stringify([decision]) : null, ENDS_HOLD.has(to)],
  );
  const [r] = rows;
  if (!r) throw new CustosError('withdrawal_state_changed', `withdrawal ${id} is no longer ${from}`, 409);
  return toRecord(r);
}
