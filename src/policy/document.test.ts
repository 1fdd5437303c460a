import { describe, expect, it } from 'vitest';
import { limitsFor, parsePolicy, whitelistModeFor } from './document.js';
import { policyJSON } from './test-helpers/fixture.js';

const E18 = 10n ** 18n;

function mutate(f: (j: Record<string, any>) => void): Record<string, unknown> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const j = structuredClone(policyJSON());
  f(j);
  return j;
}

function invalid(j: unknown, path: RegExp) {
  try {
    parsePolicy(j);
  } catch (e) {
    expect(e).toMatchObject({ code: 'policy_invalid', status: 422 });
    expect((e as { path: string }).path).toMatch(path);
    return;
  }
  throw new Error('policy was accepted');
}

describe('parsePolicy', () => {
  it('converts decimal strings to base units per asset and reference decimals', () => {
    const p = parsePolicy(policyJSON());
    expect(p.limits.default.perAsset.ETH?.perTransaction).toBe(10n * E18);
    expect(p.limits.default.perAsset.ETH?.velocity).toEqual([{ windowMinutes: 60, maxCount: 3, maxAmount: 12n * E18 }]);
    expect(p.limits.default.perAssetReference.ETH?.calendarDay).toBe(5_000_000n);
    expect(p.risk.dust.BTC).toBe(546n);
    expect(p.risk.weights.new_destination).toBe(20);
    expect(p.risk.weights.lookalike_destination).toBe(60); // default kept
    expect(p.approvals.tiers.map((t) => t.fromReference)).toEqual([0n, 1_000_000n, 2_500_000n]);
    expect(p.governance.admins['admin-1']).toBeInstanceOf(Uint8Array);
  });

  it('merges customer limits over the default field by field', () => {
    const p = parsePolicy(policyJSON());
    expect(limitsFor(p, 'vip').perAsset.ETH).toMatchObject({ perTransaction: 100n * E18, velocity: [] });
    expect(limitsFor(p, 'vip').perAssetReference.ETH?.calendarDay).toBe(5_000_000n); // from the default
    expect(limitsFor(p, 'mid').perAsset.ETH).toMatchObject({ perTransaction: 12n * E18, rolling24h: 20n * E18, calendarDay: 15n * E18 });
    expect(limitsFor(p, 'c1').perAsset.ETH?.perTransaction).toBe(10n * E18);
    expect(limitsFor(p, 'constructor').perAsset.ETH?.perTransaction).toBe(10n * E18);
    expect(whitelistModeFor(p, 'strict')).toBe('whitelisted_only');
    expect(whitelistModeFor(p, 'c1')).toBe('any');
  });

  it('rejects unknown keys at any depth', () => {
    invalid(mutate((j) => (j.extra = 1)), /^\$\.extra$/);
    invalid(mutate((j) => (j.limits.default.perAsset.ETH.dailyCap = '1')), /perAsset\.ETH\.dailyCap/);
    invalid(mutate((j) => (j.risk.weights.made_up_signal = 5)), /weights\.made_up_signal/);
    invalid(mutate((j) => (j.approvals.tiers[0].note = 'x')), /tiers\[0\]\.note/);
  });

  it('rejects floats and numbers where amounts are expected, and over-precise amounts', () => {
    invalid(mutate((j) => (j.limits.default.perAsset.ETH.perTransaction = 10.5)), /perTransaction/);
    invalid(mutate((j) => (j.limits.default.perAsset.ETH.perTransaction = 10)), /perTransaction/);
    invalid(mutate((j) => (j.limits.default.perAsset.ETH.perTransaction = '1e3')), /perTransaction/);
    invalid(mutate((j) => (j.limits.default.perAsset.BTC.perTransaction = '0.000000001')), /BTC\.perTransaction/);
    invalid(mutate((j) => (j.risk.thresholds.review = 40.5)), /thresholds\.review/);
    invalid(mutate((j) => (j.version = 1.5)), /version/);
  });

  it('rejects negative caps and other bad values', () => {
    invalid(mutate((j) => (j.limits.default.perAsset.ETH.calendarDay = '-1')), /calendarDay/);
    invalid(mutate((j) => (j.limits.default.total.rolling24h = '-0.01')), /total\.rolling24h/);
    invalid(mutate((j) => (j.risk.weights.velocity = -5)), /weights\.velocity/);
    invalid(mutate((j) => (j.limits.default.perAsset.DOGE = { perTransaction: '1' })), /perAsset\.DOGE/);
    invalid(mutate((j) => (j.assets.ETH.chain = 'tron')), /assets\.ETH\.chain/);
    invalid(mutate((j) => (j.risk.thresholds = { review: 50, block: 50 })), /thresholds\.block/);
    invalid(mutate((j) => (j.limits.default.perAsset.ETH.velocity = [{ windowMinutes: 5 }])), /velocity\[0\]/);
    invalid(mutate((j) => (j.limits.default.perAsset.ETH.perTransaction = 'x'.repeat(1000))), /perTransaction/);
    invalid('not an object', /^\$$/);
    invalid(JSON.parse('{"__proto__": {"x": 1}}'), /__proto__|\$/);
  });

  it('refuses policies that would lock out approvers or admins', () => {
    invalid(mutate((j) => (j.approvals.tiers[2].quorum = 4)), /tiers\[2\]\.quorum/);
    invalid(mutate((j) => (j.governance.quorum = 4)), /governance\.quorum/); // 4 admins, proposer cannot approve
    invalid(mutate((j) => (j.approvals.tiers = [{ fromReference: '5', quorum: 0 }])), /tiers/);
    invalid(mutate((j) => (j.approvals.tiers[2].quorum = 0)), /tiers\[2\]\.quorum/);
    invalid(mutate((j) => (j.approvals.approvers = ['alice', 'alice', 'bob'])), /approvers/);
    invalid(mutate((j) => (j.governance.admins['admin-2'] = j.governance.admins['admin-1'])), /admins/);
    invalid(mutate((j) => (j.governance.admins['admin-1'] = 'AB'.repeat(32))), /admin-1/);
  });
});
