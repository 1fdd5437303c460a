/**
 * An in-memory counter table with the semantics the store implements in SQL (windows.ts): rows
 * keyed by (scope, bucketMs, bucketStart), writes add, reads sum a bucket range. Used by policy
 * simulation to replay counters, and by tests as the reference the SQL store must agree with.
 *
 * @example
 *   const t = new CounterTable();
 *   const totals = t.totals(counterReads(w, policy, now));
 *   t.add(counterWrites(w, now, referenceValue));
 */
import { sumRows, type CounterRead, type CounterWrite, type Totals } from './windows.js';

export interface CounterRow {
  scope: string;
  bucketMs: number;
  bucketStart: number;
  count: number;
  amount: bigint;
}

export class CounterTable {
  readonly rows = new Map<string, CounterRow>();

  add(writes: readonly CounterWrite[]): void {
    for (const c of writes) {
      const key = JSON.stringify([c.scope, c.bucketMs, c.bucketStart]);
      const row = this.rows.get(key) ?? { scope: c.scope, bucketMs: c.bucketMs, bucketStart: c.bucketStart, count: 0, amount: 0n };
      row.count += c.count;
      row.amount += c.amount;
      this.rows.set(key, row);
    }
  }

  totals(reads: readonly CounterRead[]): Record<string, Totals> {
    const out: Record<string, Totals> = {};
    for (const r of reads) out[r.id] = sumRows(r, this.rows.values());
    return out;
  }
}
