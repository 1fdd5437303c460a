/**
 * Bulk history for benchmarks: past withdrawal rows generated inside the database
 * (generate_series), so a million rows take seconds instead of a million round trips. The rows
 * are `confirmed` Solana withdrawals of customers `${prefix}${c}` with credential
 * `${credentialPrefix}${c padded to 8}`, spread over the 90 days before `now`.
 *
 * @example
 *   await seedPastWithdrawals(db, { customers: 10_000, perCustomer: 100, now, to: '83ast…' });
 */
import type { Queryable } from './db.js';

export interface PastWithdrawalsSeed {
  customers: number;
  perCustomer: number;
  now: number;
  to: string;
  customerPrefix?: string;
  credentialPrefix?: string;
  /** Customers per statement (progress is reported between statements). */
  chunk?: number;
  onProgress?: (rowsDone: number) => void;
}

export async function seedPastWithdrawals(q: Queryable, o: PastWithdrawalsSeed): Promise<number> {
  const chunk = o.chunk ?? 1000;
  let done = 0;
  for (let start = 0; start < o.customers; start += chunk) {
    const end = Math.min(o.customers, start + chunk) - 1;
    const [r] = await q.query<{ n: string }>(
      `WITH ins AS (
         INSERT INTO withdrawals (id, customer_id, credential_id, account_id, chain, asset, to_address, amount, fee, nonce, memo,
             status, decisions, request, idempotency_key, request_hash, created_at, updated_at)
         SELECT 'wd_past_' || c || '_' || k, $1 || c, $2 || lpad(c::text, 8, '0'), NULL, 'solana', 'SOL', $3,
                (1 + (c * 7 + k * 13) % 50)::bigint * 100000000, 5000, NULL, NULL, 'confirmed', '[]'::jsonb, '{}'::jsonb,
                'past-' || k, sha256(convert_to(c || ':' || k, 'UTF8')),
                to_timestamp(($4::bigint - 86400000::bigint - ((c * 7919 + k * 104729) % (89 * 86400))::bigint * 1000) / 1000.0),
                to_timestamp(($4::bigint - 86400000::bigint) / 1000.0)
           FROM generate_series($5::int, $6::int) AS c, generate_series(1, $7::int) AS k
         ON CONFLICT DO NOTHING RETURNING 1)
       SELECT count(*)::text AS n FROM ins`,
      [o.customerPrefix ?? 'bench-', o.credentialPrefix ?? 'cred_bench', o.to, String(o.now), start, end, o.perCustomer],
    );
    done += Number(r?.n ?? 0);
    o.onProgress?.(done);
  }
  return done;
}
