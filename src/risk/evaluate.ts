/**
 * Stage 2 of the pipeline: the risk score. The decision lists every signal that fired with its
 * weight and sentence; the sum routes to pass (approve), review or block by the policy's
 * thresholds. A sanctions hit is always `block`, whatever the score.
 *
 * @example
 *   const d = evaluateRisk(withdrawal, context, policy.risk);
 *   d.outcome; // 'pass' | 'review' | 'block'; d.score; d.reasons
 */
import type { Decision } from '../core/decision.js';
import type { Withdrawal } from '../core/withdrawal.js';
import type { RiskContext } from './context.js';
import { RISK_SIGNALS, type Signal } from './signals.js';
import { routeScore, type Route, type RiskSettings } from './settings.js';

export interface RiskDecision extends Decision {
  stage: 'risk';
  score: number;
  route: Route;
}

export function evaluateRisk(withdrawal: Withdrawal, context: RiskContext, settings: RiskSettings): RiskDecision {
  const fired: Signal[] = [];
  for (const signal of RISK_SIGNALS) {
    const s = signal(withdrawal, context, settings);
    if (s) fired.push(s);
  }
  const score = fired.reduce((sum, s) => sum + s.weight, 0);
  const sanctioned = fired.some((s) => s.name === 'sanctioned_destination');
  const route: Route = sanctioned ? 'block' : routeScore(score, settings.thresholds);
  const outcome = route === 'approve' ? 'pass' : route;
  return {
    stage: 'risk',
    outcome,
    score,
    route,
    reasons: fired.map((s) => ({ code: s.name, message: s.message, weight: s.weight })),
  };
}
