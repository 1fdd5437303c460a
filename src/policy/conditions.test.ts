import { describe, expect, it } from 'vitest';
import type { DestinationRecord } from '../risk/context.js';
import { parsePolicy } from './document.js';
import { evaluateRules, type RulesContext } from './rules.js';
import { MemoryCounters } from './test-helpers/counters.js';
import { NOW, policyJSON, withdrawal } from './test-helpers/fixture.js';
import { counterReads, HOUR_MS } from './windows.js';

const E18 = 10n ** 18n;
const quote = { asset: 'ETH', refPerUnit: 250_000n, at: NOW }; // 2500 USD
const withRules = (rules: unknown[]) => parsePolicy({ ...policyJSON(), rules });
const codes = (d: { reasons: { code: string }[] }) => d.reasons.map((r) => r.code);
const dest = (over: Partial<DestinationRecord> = {}): DestinationRecord => ({ address: '0x2222222222222222222222222222222222222222', firstUsedAt: null, lastUsedAt: null, useCount: 0, whitelistedAt: null, ...over });

function run(policy: ReturnType<typeof withRules>, over: Partial<RulesContext> = {}, w = withdrawal()) {
  const ctx: RulesContext = { now: NOW, destination: null, price: quote, totals: new MemoryCounters().totals(counterReads(w, policy, NOW)), riskScore: 0, ...over };
  return evaluateRules(w, ctx, policy);
}

describe('conditional rules', () => {
  it('every matching rule applies: block overrides, approvals take the strictest', () => {
    const p = withRules([
      { name: 'two-for-new', when: { destination: ['new'] }, then: { action: 'require_approval', quorum: 2 } },
      { name: 'hsm-eth', when: { asset: ['ETH'] }, then: { action: 'require_approval', quorum: 1, hsm: true } },
    ]);
    const d = run(p);
    expect(d.outcome).toBe('pass');
    expect(d.approval).toMatchObject({ quorum: 2, requiresHsm: true });
    expect(codes(d)).toEqual(['policy_rule_approval', 'policy_rule_approval', 'approval_required', 'hsm_approval_required']);
    const blocking = withRules([
      { name: 'review-all', when: {}, then: { action: 'review' } },
      { name: 'no-bitcoin-from-k1', when: { initiator: ['k1'], chain: ['ethereum'] }, then: { action: 'block' } },
    ]);
    const b = run(blocking);
    expect(b.outcome).toBe('block');
    expect(b.reasons).toEqual([{ code: 'policy_rule_block', message: 'Policy rule "no-bitcoin-from-k1" blocks this withdrawal.' }]);
    expect(run(blocking, {}, withdrawal({ credentialId: 'k2' })).outcome).toBe('review');
  });

  it('limit violations and rule blocks are all listed', () => {
    const p = withRules([{ name: 'customer-frozen', when: { customer: ['c1'] }, then: { action: 'block' } }]);
    expect(codes(run(p, {}, withdrawal({ amount: 11n * E18 })))).toEqual(['asset_per_transaction_limit', 'policy_rule_block']);
  });

  it('value and amount thresholds are inclusive at the boundary', () => {
    const p = withRules([
      { name: 'big-value', when: { valueAtLeast: '5000' }, then: { action: 'review' } },
      { name: 'big-eth', when: { amountAtLeast: { ETH: '3' } }, then: { action: 'require_approval', quorum: 3 } },
    ]);
    expect(run(p, {}, withdrawal({ amount: 2n * E18 })).outcome).toBe('review'); // 5000.00 USD
    expect(run(p, {}, withdrawal({ amount: 2n * E18 - 4n * 10n ** 12n })).outcome).toBe('pass'); // 4999.99
    expect(run(p, {}, withdrawal({ amount: 3n * E18 })).approval.quorum).toBe(3);
    expect(run(p, {}, withdrawal({ amount: 3n * E18 - 1n })).approval.quorum).toBe(0);
    expect(codes(run(p, { price: null }))).toEqual(['price_unavailable']);
    expect(codes(run(p, {}, withdrawal({ asset: 'BTC', chain: 'bitcoin', amount: 10n ** 8n - 1n })))).toEqual(['price_unavailable']); // the quote is for ETH
  });

  it('destination kinds: internal, whitelisted after cooling, known, new', () => {
    const p = withRules([
      { name: 'new', when: { destination: ['new'] }, then: { action: 'block' } },
      { name: 'known', when: { destination: ['known'] }, then: { action: 'review' } },
      { name: 'wl', when: { destination: ['whitelisted', 'internal'] }, then: { action: 'require_approval', quorum: 1 } },
    ]);
    expect(run(p).outcome).toBe('block');
    expect(run(p, { destination: dest({ useCount: 2 }) }).outcome).toBe('review');
    expect(run(p, { destination: dest({ useCount: 2, whitelistedAt: NOW - 24 * HOUR_MS }) }).approval.quorum).toBe(1);
    expect(run(p, { destination: dest({ useCount: 0, whitelistedAt: NOW - 24 * HOUR_MS + 1 }) }).outcome).toBe('block'); // cooling: still new
    expect(run(p, { internalDestination: true }).approval.quorum).toBe(1);
  });

  it('UTC hour windows, also across midnight', () => {
    const p = withRules([{ name: 'night', when: { hoursUtc: { from: 22, to: 6 } }, then: { action: 'review' } }]);
    const at = (h: number, m = 0) => Date.UTC(2026, 10, 24, h, m);
    const out = (t: number) => run(p, { now: t, price: { ...quote, at: t } }).outcome;
    expect([at(21), at(22), at(23), at(0), at(5), at(6)].map(out).map((o) => o === 'review')).toEqual([false, true, true, true, true, false]);
    expect(out(at(21, 59))).toBe('pass');
    expect(out(at(5, 59))).toBe('review');
  });

  it('risk score conditions need the score in the context', () => {
    const p = withRules([{ name: 'risky', when: { riskScoreAtLeast: 30 }, then: { action: 'require_approval', quorum: 2 } }]);
    expect(run(p, { riskScore: 30 }).approval.quorum).toBe(2);
    expect(run(p, { riskScore: 29 }).approval.quorum).toBe(0);
    expect(() => run(p, { riskScore: undefined })).toThrow(expect.objectContaining({ code: 'rules_context_incomplete' }));
  });

  it('validation: unknown condition keys, empty lists, bad effects, duplicate names, lock-out', () => {
    const bad = (rules: unknown[], path: RegExp) => {
      try {
        withRules(rules);
      } catch (e) {
        expect((e as { path: string }).path).toMatch(path);
        return;
      }
      throw new Error('accepted');
    };
    bad([{ name: 'x', when: { expression: 'amount > 5' }, then: { action: 'block' } }], /when\.expression/);
    bad([{ name: 'x', when: { asset: [] }, then: { action: 'block' } }], /when\.asset/);
    bad([{ name: 'x', when: { asset: ['DOGE'] }, then: { action: 'block' } }], /asset\[0\]/);
    bad([{ name: 'x', when: {}, then: { action: 'block', quorum: 2 } }], /then/);
    bad([{ name: 'x', when: {}, then: { action: 'require_approval' } }], /then/);
    bad([{ name: 'x', when: {}, then: { action: 'require_approval', quorum: 4 } }], /then\.quorum/);
    bad([{ name: 'x', when: { valueAtLeast: 5 }, then: { action: 'review' } }], /valueAtLeast/);
    bad([{ name: 'x', when: { hoursUtc: { from: 3, to: 3 } }, then: { action: 'review' } }], /hoursUtc/);
    bad([{ name: 'x', when: {}, then: { action: 'review' } }, { name: 'x', when: {}, then: { action: 'block' } }], /\[1\]\.name/);
    bad([{ name: 'x', when: {}, then: { action: 'allow' } }], /then\.action/);
  });
});
