// The counter table plus rule evaluation, as the store does it in one transaction. Tests only.
import type { Withdrawal } from '../../core/withdrawal.js';
import type { DestinationRecord } from '../../risk/context.js';
import { CounterTable } from '../counter-table.js';
import type { Policy } from '../document.js';
import type { PriceQuote } from '../price.js';
import { evaluateRules, type RulesDecision } from '../rules.js';
import { counterReads, counterWrites, type Totals } from '../windows.js';

export class MemoryCounters extends CounterTable {
  totalsFor(w: Withdrawal, policy: Policy, now: number): Record<string, Totals> {
    return this.totals(counterReads(w, policy, now));
  }

  /** Evaluate the rules with the current totals and, when they pass, count the withdrawal. */
  submit(w: Withdrawal, policy: Policy, now: number, price: PriceQuote | null, destination: DestinationRecord | null = null): RulesDecision {
    const d = evaluateRules(w, { now, destination, price, totals: this.totalsFor(w, policy, now) }, policy);
    if (d.outcome === 'pass') this.add(counterWrites(w, now, d.referenceValue));
    return d;
  }
}
