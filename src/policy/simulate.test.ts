import { describe, expect, it } from 'vitest';
import type { DestinationRecord } from '../risk/context.js';
import { evaluateRisk } from '../risk/evaluate.js';
import { emptyHistory } from '../risk/history.js';
import { parseSanctionsList, SanctionsIndex } from '../risk/sanctions.js';
import { CounterTable } from './counter-table.js';
import { parsePolicy, type Policy } from './document.js';
import { evaluateRules } from './rules.js';
import { combineOutcome, simulate, type PastWithdrawal } from './simulate.js';
import { NOW, policyJSON, withdrawal } from './test-helpers/fixture.js';
import { counterReads, counterWrites, HOUR_MS, RISK_1H } from './windows.js';

const E18 = 10n ** 18n;
const SANCTIONED = '0x01e2919679362dfbc9ee1644ba9c6da6d6245bb1';
const sanctions = new SanctionsIndex(parseSanctionsList([SANCTIONED], 'ETH').entries);
const v1 = parsePolicy(policyJSON());
const known = (address: string): DestinationRecord => ({ address, firstUsedAt: 0, lastUsedAt: 0, useCount: 5, whitelistedAt: null });

/** Runs withdrawals through v1 the way the pipeline does, recording contexts and outcomes. */
function history(items: { amount: bigint; at: number; to?: string }[], policy: Policy = v1): PastWithdrawal[] {
  const table = new CounterTable();
  return items.map((it, i) => {
    const w = withdrawal({ id: `w${i + 1}`, amount: it.amount, to: it.to ?? '0x2222222222222222222222222222222222222222', createdAt: it.at });
    const totals = table.totals(counterReads(w, policy, it.at));
    const rules = { now: it.at, destination: known(w.to), price: { asset: 'ETH', refPerUnit: 250_000n, at: it.at }, totals };
    const risk = {
      now: it.at, destination: known(w.to), similarDestinations: [], history: emptyHistory(), lastHour: { count: totals[RISK_1H]!.count, amount: totals[RISK_1H]!.amount },
      balance: null, security: { credentialsChangedAt: null, whitelistChangedAt: null }, sanctions,
    };
    const rd = evaluateRules(w, rules, policy);
    const recorded = combineOutcome(evaluateRisk(w, risk, policy.risk), rd);
    if (recorded === 'approve' || recorded === 'awaiting_approval') table.add(counterWrites(w, it.at, rd.referenceValue));
    return { withdrawal: w, risk, rules, recorded };
  });
}

function draft(f: (j: Record<string, any>) => void): Policy { // eslint-disable-line @typescript-eslint/no-explicit-any
  const j = structuredClone(policyJSON()) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  j.version = 2;
  f(j);
  return parsePolicy(j);
}

describe('simulate', () => {
  const past = history([
    { amount: 1n * E18, at: NOW },
    { amount: 2n * E18, at: NOW + 25 * HOUR_MS },
    { amount: 6n * E18, at: NOW + 50 * HOUR_MS },
    { amount: 9n * E18, at: NOW + 75 * HOUR_MS },
    { amount: E18 / 2n, at: NOW + 100 * HOUR_MS, to: SANCTIONED },
  ]);

  it('replaying the policy that decided the history changes nothing', () => {
    expect(past.map((p) => p.recorded)).toEqual(['approve', 'approve', 'awaiting_approval', 'awaiting_approval', 'block']);
    const r = simulate(v1, past);
    expect(r.changed).toEqual([]);
    expect(r.after).toEqual({ approve: 2, awaiting_approval: 2, review: 0, block: 1 });
    expect(r.before).toEqual(r.after);
  });

  it('a tighter per-withdrawal limit: counts per outcome and the list that would change', () => {
    const r = simulate(draft((j) => (j.limits.default.perAsset.ETH.perTransaction = '5')), past);
    expect(r.total).toBe(5);
    expect(r.after).toEqual({ approve: 2, awaiting_approval: 0, review: 0, block: 3 });
    expect(r.changed.map((c) => [c.id, c.before, c.after])).toEqual([
      ['w3', 'awaiting_approval', 'block'],
      ['w4', 'awaiting_approval', 'block'],
    ]);
    expect(r.changed[0]!.reasons.map((x) => x.code)).toContain('asset_per_transaction_limit');
  });

  it('requiring one approval at every value moves the approved ones to awaiting_approval', () => {
    const r = simulate(draft((j) => (j.approvals.tiers = [{ fromReference: '0', quorum: 1 }])), past);
    expect(r.after).toEqual({ approve: 0, awaiting_approval: 4, review: 0, block: 1 });
    expect(r.changed.map((c) => c.id)).toEqual(['w1', 'w2']);
  });

  it('passes the draft risk score to risk-score rules', () => {
    const d = draft((j) => (j.rules = [{ name: 'score', when: { riskScoreAtLeast: 100 }, then: { action: 'review' } }]));
    expect(simulate(d, past).changed).toEqual([]); // only the sanctioned one scores 100, and it is blocked anyway
    const d2 = draft((j) => (j.rules = [{ name: 'all', when: { riskScoreAtLeast: 0 }, then: { action: 'review' } }]));
    expect(simulate(d2, past).after).toEqual({ approve: 0, awaiting_approval: 0, review: 4, block: 1 });
  });

  it('replayCounters: withdrawals the draft blocks no longer count toward later caps', () => {
    const sameDay = history([2n, 1n, 1n, 1n].map((a, i) => ({ amount: a * E18, at: NOW + i * 2 * HOUR_MS })));
    expect(sameDay.every((p) => p.recorded === 'approve')).toBe(true);
    const d = draft((j) => {
      j.limits.default.perAsset.ETH.perTransaction = '1.5';
      j.limits.default.perAsset.ETH.calendarDay = '3';
    });
    const recorded = simulate(d, sameDay);
    expect(recorded.after).toEqual({ approve: 1, awaiting_approval: 0, review: 0, block: 3 });
    const replayed = simulate(d, sameDay, { replayCounters: true });
    expect(replayed.after).toEqual({ approve: 3, awaiting_approval: 0, review: 0, block: 1 });
    expect(replayed.changed.map((c) => c.id)).toEqual(['w1']);
  });
});
