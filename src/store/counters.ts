/**
 * Window counters in SQL (semantics of src/policy/windows.ts and counter-table.ts): transaction-
 * scoped advisory locks per counter scope, range sums, and signed upserts. A withdrawal that is not
 * blocked reserves its amount at intake; a rejection or expiry later releases it (sign -1).
 *
 * @example
 *   await lockCounterScopes(q, counterLockScopes(w));
 *   await addCounters(q, counterWrites(w, now, referenceValue), 1);
 */
import type { CounterWrite } from '../policy/windows.js';
import type { Queryable } from './db.js';

/**
 * Takes an advisory lock on each scope (held to the end of the transaction, or of the session in
 * `Db.session`), in the order of the lock key (the 64-bit hash), so any two transactions take
 * their common locks in the same order and never deadlock on them. Duplicates are taken once.
 */
export async function lockCounterScopes(q: Queryable, scopes: readonly string[]): Promise<void> {
  if (scopes.length === 0) return;
  const keys = [...new Set(scopes)].map((s) => `custos:counter:${s}`);
  // Session- and transaction-scoped advisory locks on one key exclude each other.
  const lock = q.advisoryLocks === 'session' ? 'pg_advisory_lock' : 'pg_advisory_xact_lock';
  await q.query(
    `SELECT count(${lock}(k)) AS n
       FROM (SELECT DISTINCT hashtextextended(s, 0) AS k FROM unnest($1::text[]) AS t(s) ORDER BY 1 OFFSET 0) AS ordered`,
    [keys],
  );
}

/** Adds (sign 1) or removes (sign -1) one withdrawal's writes. */
export async function addCounters(q: Queryable, writes: readonly CounterWrite[], sign: 1 | -1): Promise<void> {
  if (sign === 1 && writes.length > 0) {
    // One statement for all rows (distinct keys: counterWrites never repeats one).
    await q.query(
      `INSERT INTO policy_counters (scope, bucket_ms, bucket_start, count, amount)
         SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::numeric[])
       ON CONFLICT (scope, bucket_ms, bucket_start) DO UPDATE
         SET count = policy_counters.count + EXCLUDED.count, amount = policy_counters.amount + EXCLUDED.amount`,
      [writes.map((w) => w.scope), writes.map((w) => String(w.bucketMs)), writes.map((w) => String(w.bucketStart)), writes.map((w) => String(w.count)), writes.map((w) => w.amount.toString())],
    );
    return;
  }
  // A release never goes below zero and never creates a row (a pruned bucket is already gone).
  for (const w of writes) {
    await q.query(
      `UPDATE policy_counters SET count = GREATEST(count - $4, 0), amount = GREATEST(amount - $5::numeric, 0)
       WHERE scope = $1 AND bucket_ms = $2 AND bucket_start = $3`,
      [w.scope, w.bucketMs, w.bucketStart, w.count, w.amount.toString()],
    );
  }
}

/** Deletes rows older than their bucket size's retention (COUNTER_RETENTION_MS). Returns rows deleted. */
export async function pruneCounters(q: Queryable, now: number, retention: Readonly<Record<number, number>>): Promise<number> {
  let n = 0;
  for (const [bucketMs, keep] of Object.entries(retention)) {
    const rows = await q.query('DELETE FROM policy_counters WHERE bucket_ms = $1 AND bucket_start < $2 RETURNING 1', [Number(bucketMs), now - keep]);
    n += rows.length;
  }
  return n;
}
