/**
 * Policy simulation: replay past withdrawals, each with the risk and rules context it had, against
 * a draft policy, and report how many would end in each outcome and which would change. Pure: the
 * caller (`custos policy simulate FILE --days 30`) loads the history and prints the result.
 *
 * Counters: by default each withdrawal's rules are judged with the counter totals recorded at the
 * time. With `replayCounters`, totals are recomputed from the replay itself (only withdrawals the
 * draft approves, or sends to approval, count, as if approvals were granted), starting from zero at
 * the first replayed withdrawal, so a tighter cap also shows its knock-on effect on later ones.
 *
 * @example
 *   const r = simulate(draft, past);
 *   r.after.block; r.changed[0]; // { id, before: 'approve', after: 'block', reasons: [...] }
 */
import type { Reason } from '../core/decision.js';
import type { Withdrawal } from '../core/withdrawal.js';
import type { RiskContext } from '../risk/context.js';
import { evaluateRisk, type RiskDecision } from '../risk/evaluate.js';
import { CounterTable } from './counter-table.js';
import type { Policy } from './document.js';
import { evaluateRules, type RulesContext, type RulesDecision } from './rules.js';
import { counterReads, counterWrites } from './windows.js';

export const FINAL_OUTCOMES = ['approve', 'awaiting_approval', 'review', 'block'] as const;
export type FinalOutcome = (typeof FINAL_OUTCOMES)[number];

export interface PastWithdrawal {
  withdrawal: Withdrawal;
  risk: RiskContext;
  rules: RulesContext;
  /** The outcome it had under the policy then in force. */
  recorded: FinalOutcome;
}

export interface SimulationChange {
  id: string;
  before: FinalOutcome;
  after: FinalOutcome;
  reasons: Reason[]; // the draft's risk and rules reasons
}

export interface SimulationResult {
  total: number;
  before: Record<FinalOutcome, number>;
  after: Record<FinalOutcome, number>;
  changed: SimulationChange[];
}

/** Where a withdrawal goes after the risk and rules stages. */
export function combineOutcome(risk: RiskDecision, rules: RulesDecision): FinalOutcome {
  if (risk.outcome === 'block' || rules.outcome === 'block' || risk.outcome === 'reject' || rules.outcome === 'reject') return 'block';
  if (risk.outcome === 'review' || rules.outcome === 'review') return 'review';
  if (rules.approval.quorum > 0 || rules.approval.requiresHsm) return 'awaiting_approval';
  return 'approve';
}

const zero = (): Record<FinalOutcome, number> => ({ approve: 0, awaiting_approval: 0, review: 0, block: 0 });

export function simulate(draft: Policy, past: readonly PastWithdrawal[], options: { replayCounters?: boolean } = {}): SimulationResult {
  const before = zero();
  const after = zero();
  const changed: SimulationChange[] = [];
  const ordered = options.replayCounters ? [...past].sort((a, b) => a.rules.now - b.rules.now) : past;
  const table = new CounterTable();
  for (const p of ordered) {
    const risk = evaluateRisk(p.withdrawal, p.risk, draft.risk);
    const rulesCtx: RulesContext = { ...p.rules, riskScore: risk.score };
    if (options.replayCounters) rulesCtx.totals = table.totals(counterReads(p.withdrawal, draft, p.rules.now));
    const rules = evaluateRules(p.withdrawal, rulesCtx, draft);
    const outcome = combineOutcome(risk, rules);
    if (options.replayCounters && (outcome === 'approve' || outcome === 'awaiting_approval')) {
      table.add(counterWrites(p.withdrawal, p.rules.now, rules.referenceValue));
    }
    before[p.recorded] += 1;
    after[outcome] += 1;
    if (outcome !== p.recorded) changed.push({ id: p.withdrawal.id, before: p.recorded, after: outcome, reasons: [...risk.reasons, ...rules.reasons] });
  }
  return { total: past.length, before, after, changed };
}
