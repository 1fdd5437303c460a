/**
 * Per-customer risk state: the incremental amount history per (customer, asset) and the
 * destination records per (customer, chain, normalised address), indexed by look-alike key.
 * Rows hold exactly the JSON / fields of the pure cores in src/risk.
 *
 * @example
 *   const h = await getAmountHistory(q, 'acme', 'ETH');          // AmountHistory (empty when none)
 *   await putAmountHistory(q, 'acme', 'ETH', historyRecord(h, amount, now));
 */
import type { Chain } from '../core/chain.js';
import type { DestinationRecord } from '../risk/context.js';
import { emptyHistory, historyFromJSON, historyToJSON, type AmountHistory } from '../risk/history.js';
import type { Queryable } from './db.js';

export async function getAmountHistory(q: Queryable, customerId: string, asset: string, forUpdate = false): Promise<AmountHistory> {
  const [r] = await q.query<{ history: unknown }>(
    `SELECT history FROM amount_histories WHERE customer_id = $1 AND asset = $2${forUpdate ? ' FOR UPDATE' : ''}`,
    [customerId, asset],
  );
  if (!r) return emptyHistory();
  return historyFromJSON(typeof r.history === 'string' ? JSON.parse(r.history) : r.history);
}

export async function putAmountHistory(q: Queryable, customerId: string, asset: string, h: AmountHistory): Promise<void> {
  await q.query(
    `INSERT INTO amount_histories (customer_id, asset, history) VALUES ($1, $2, $3)
     ON CONFLICT (customer_id, asset) DO UPDATE SET history = EXCLUDED.history`,
    [customerId, asset, JSON.stringify(historyToJSON(h))],
  );
}

interface DRow {
  address: string;
  first_used_at: string | null;
  last_used_at: string | null;
  use_count: number;
  whitelisted_at: string | null;
}
const num = (v: string | null): number | null => (v === null ? null : Number(v));
const toRecord = (r: DRow): DestinationRecord => ({
  address: r.address,
  firstUsedAt: num(r.first_used_at),
  lastUsedAt: num(r.last_used_at),
  useCount: Number(r.use_count),
  whitelistedAt: num(r.whitelisted_at),
});
const DCOLS = 'address, first_used_at::text AS first_used_at, last_used_at::text AS last_used_at, use_count, whitelisted_at::text AS whitelisted_at';

/** The record of one normalised destination, or null. */
export async function getDestination(q: Queryable, customerId: string, chain: Chain, address: string): Promise<DestinationRecord | null> {
  const [r] = await q.query<DRow>(`SELECT ${DCOLS} FROM destinations WHERE customer_id = $1 AND chain = $2 AND address = $3`, [customerId, chain, address]);
  return r ? toRecord(r) : null;
}

/** Other destinations of the customer on this chain sharing the look-alike key (capped). */
export async function similarDestinations(q: Queryable, customerId: string, chain: Chain, key: string, address: string, limit = 50): Promise<DestinationRecord[]> {
  const rows = await q.query<DRow>(
    `SELECT ${DCOLS} FROM destinations WHERE customer_id = $1 AND chain = $2 AND lookalike_key = $3 AND address <> $4 ORDER BY address LIMIT $5`,
    [customerId, chain, key, address, limit],
  );
  return rows.map(toRecord);
}

export async function putDestination(q: Queryable, customerId: string, chain: Chain, rec: DestinationRecord, lookAlike: string): Promise<void> {
  await q.query(
    `INSERT INTO destinations (customer_id, chain, address, lookalike_key, first_used_at, last_used_at, use_count, whitelisted_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT (customer_id, chain, address) DO UPDATE SET lookalike_key = EXCLUDED.lookalike_key, first_used_at = EXCLUDED.first_used_at,
       last_used_at = EXCLUDED.last_used_at, use_count = EXCLUDED.use_count, whitelisted_at = EXCLUDED.whitelisted_at`,
    [customerId, chain, rec.address, lookAlike, rec.firstUsedAt, rec.lastUsedAt, rec.useCount, rec.whitelistedAt],
  );
}

/** Latest change of the customer's API credentials (created or revoked), ms, or null. */
export async function credentialsChangedAt(q: Queryable, customerId: string): Promise<number | null> {
  const [r] = await q.query<{ t: Date | string | null }>(
    'SELECT GREATEST(MAX(created_at), MAX(revoked_at)) AS t FROM credentials WHERE customer_id = $1',
    [customerId],
  );
  return r?.t ? new Date(r.t).getTime() : null;
}

/** Latest whitelist change of the customer: address-book entries and destination records. */
export async function whitelistChangedAt(q: Queryable, customerId: string): Promise<number | null> {
  const [a] = await q.query<{ t: Date | string | null }>('SELECT MAX(created_at) AS t FROM address_book WHERE customer_id = $1 AND whitelisted', [customerId]);
  const [d] = await q.query<{ t: string | null }>('SELECT MAX(whitelisted_at)::text AS t FROM destinations WHERE customer_id = $1', [customerId]);
  const ts = [a?.t ? new Date(a.t).getTime() : null, d?.t ? Number(d.t) : null].filter((x): x is number => x !== null);
  return ts.length ? Math.max(...ts) : null;
}
