// An in-memory counter table with the semantics the store implements in SQL: rows keyed by
// (scope, bucketMs, bucketStart), writes add, reads sum a bucket range. Tests only.
import type { Withdrawal } from '../../core/withdrawal.js';
import type { DestinationRecord } from '../../risk/context.js';
import type { Policy } from '../document.js';
import type { PriceQuote } from '../price.js';
import { evaluateRules, type RulesDecision } from '../rules.js';
import { counterReads, counterWrites, sumRows, type Totals } from '../windows.js';

export interface Row {
  scope: string;
  bucketMs: number;
  bucketStart: number;
  count: number;
  amount: bigint;
}

export class MemoryCounters {
  readonly rows = new Map<string, Row>();

  totals(w: Withdrawal, policy: Policy, now: number): Record<string, Totals> {
    const out: Record<string, Totals> = {};
    for (const r of counterReads(w, policy, now)) out[r.id] = sumRows(r, this.rows.values());
    return out;
  }

  apply(w: Withdrawal, now: number, referenceValue: bigint | null): void {
    for (const c of counterWrites(w, now, referenceValue)) {
      const key = `${c.scope}|${c.bucketMs}|${c.bucketStart}`;
      const row = this.rows.get(key) ?? { scope: c.scope, bucketMs: c.bucketMs, bucketStart: c.bucketStart, count: 0, amount: 0n };
      row.count += c.count;
      row.amount += c.amount;
      this.rows.set(key, row);
    }
  }

  /** Evaluate the rules with the current totals and, when they pass, count the withdrawal. */
  submit(w: Withdrawal, policy: Policy, now: number, price: PriceQuote | null, destination: DestinationRecord | null = null): RulesDecision {
    const d = evaluateRules(w, { now, destination, price, totals: this.totals(w, policy, now) }, policy);
    if (d.outcome === 'pass') this.apply(w, now, d.referenceValue);
    return d;
  }
}
