import { describe, expect, it } from 'vitest';
import type { DestinationRecord } from '../risk/context.js';
import { parsePolicy } from './document.js';
import { evaluateRules } from './rules.js';
import { MemoryCounters } from './test-helpers/counters.js';
import { NOW, policyJSON, withdrawal } from './test-helpers/fixture.js';
import { HOUR_MS } from './windows.js';

const E18 = 10n ** 18n;
const policy = parsePolicy(policyJSON());
const quote = { asset: 'ETH', refPerUnit: 250_000n, at: NOW }; // 1 ETH = 2500.00 USD
const wl = (whitelistedAt: number | null): DestinationRecord => ({ address: '0x2222222222222222222222222222222222222222', firstUsedAt: null, lastUsedAt: null, useCount: 0, whitelistedAt });
const fresh = (w = withdrawal(), price: typeof quote | null = quote, destination: DestinationRecord | null = null, p = policy) =>
  new MemoryCounters().submit(w, p, NOW, price, destination);
const codes = (d: { reasons: { code: string }[] }) => d.reasons.map((r) => r.code);

describe('evaluateRules: limits', () => {
  it('per-transaction limit: 10 ETH passes, 10 ETH + 1 wei blocks, a customer override raises it', () => {
    expect(fresh(withdrawal({ amount: 10n * E18 })).outcome).toBe('pass');
    const d = fresh(withdrawal({ amount: 10n * E18 + 1n }));
    expect(d).toMatchObject({ stage: 'rules', outcome: 'block', policyVersion: 1 });
    expect(codes(d)).toEqual(['asset_per_transaction_limit']);
    expect(d.reasons[0]!.message).toBe('The amount 10.000000000000000001 ETH is above the per-withdrawal limit of 10 ETH in this asset.');
    expect(fresh(withdrawal({ amount: 11n * E18, customerId: 'vip' })).outcome).toBe('pass');
  });

  it('lists every violated rule, not just the first', () => {
    const d = fresh(withdrawal({ amount: 16n * E18 }));
    expect(codes(d)).toEqual(['asset_per_transaction_limit', 'asset_calendar_day_cap', 'asset_velocity_amount']);
  });

  it('reference-currency caps: per asset by value and across all assets', () => {
    const c = new MemoryCounters();
    const vip = (amount: bigint, asset = 'ETH') => withdrawal({ customerId: 'vip', amount, asset });
    // vip: 100 ETH caps in ETH, but 50000 USD per day for ETH by value
    const cheap = { ...quote, refPerUnit: 400_000n }; // 4000 USD: 12.5 ETH = 50000 USD
    expect(c.submit(vip(12n * E18), policy, NOW, cheap).outcome).toBe('pass');
    const d = c.submit(vip(E18), policy, NOW + 1000, cheap);
    expect(codes(d)).toEqual(['asset_reference_calendar_day_cap']);
    expect(d.reasons[0]!.message).toContain('48000 USD');
    // total across assets: 100000 USD rolling 24 h
    const btc = { asset: 'BTC', refPerUnit: 5_000_000_000n, at: NOW }; // 50,000,000.00 USD per BTC
    const b = c.submit(withdrawal({ customerId: 'vip', asset: 'BTC', chain: 'bitcoin', amount: 200_000n }), policy, NOW, btc); // 0.002 BTC = 100000 USD
    expect(codes(b)).toEqual(['total_rolling_24h_cap']);
  });

  it('fails closed without a usable price when value rules apply', () => {
    expect(codes(fresh(withdrawal(), null))).toEqual(['price_unavailable']);
    expect(codes(fresh(withdrawal(), { ...quote, at: NOW - 301_000 }))).toEqual(['price_unavailable']);
    expect(fresh(withdrawal(), { ...quote, at: NOW - 300_000 }).outcome).toBe('pass');
    expect(codes(fresh(withdrawal(), { ...quote, at: NOW + 1 }))).toEqual(['price_unavailable']);
    expect(codes(fresh(withdrawal(), { ...quote, asset: 'BTC' }))).toEqual(['price_unavailable']);
    expect(codes(fresh(withdrawal(), { ...quote, refPerUnit: 0n }))).toEqual(['price_unavailable']);
  });

  it('blocks a zero or negative amount before any arithmetic', () => {
    expect(codes(fresh(withdrawal({ amount: 0n })))).toEqual(['amount_not_positive']);
    expect(codes(fresh(withdrawal({ amount: -5n })))).toEqual(['amount_not_positive']);
  });

  it('blocks assets the policy does not declare, or on the wrong chain', () => {
    expect(codes(fresh(withdrawal({ asset: 'DOGE' })))).toEqual(['asset_not_in_policy']);
    expect(codes(fresh(withdrawal({ asset: 'BTC', chain: 'ethereum' })))).toEqual(['asset_chain_mismatch']);
  });

  it('refuses a context without the counters it needs', () => {
    expect(() => evaluateRules(withdrawal(), { now: NOW, destination: null, price: quote, totals: {} }, policy)).toThrow(
      expect.objectContaining({ code: 'rules_context_incomplete' }),
    );
  });
});

describe('evaluateRules: whitelist', () => {
  const strict = (d: DestinationRecord | null) => fresh(withdrawal({ customerId: 'strict' }), quote, d);
  it('whitelisted-only mode blocks destinations not on the whitelist', () => {
    expect(codes(strict(null))).toEqual(['destination_not_whitelisted']);
    expect(codes(strict({ ...wl(null), useCount: 5 }))).toEqual(['destination_not_whitelisted']);
  });

  it('a destination whitelisted too recently is cooling: 24 h − 1 ms blocks, 24 h passes', () => {
    const d = strict(wl(NOW - 24 * HOUR_MS + 1));
    expect(codes(d)).toEqual(['whitelist_cooling']);
    expect(d.reasons[0]!.message).toContain('may be used in 1 minutes');
    expect(strict(wl(NOW - 24 * HOUR_MS)).outcome).toBe('pass');
  });

  it('in "any" mode a new destination is allowed (the risk stage weighs it)', () => {
    expect(fresh(withdrawal(), quote, null).outcome).toBe('pass');
  });
});

describe('evaluateRules: approvals', () => {
  it('quorum by value tier, with the tier boundary exact in reference units (rounded up)', () => {
    expect(fresh(withdrawal({ amount: 4n * E18 - 4n * 10n ** 12n })).approval.quorum).toBe(0); // 9999.99 USD
    expect(fresh(withdrawal({ amount: 4n * E18 - 4n * 10n ** 12n + 1n })).approval.quorum).toBe(1); // rounds up to 10000.00
    const d = fresh(withdrawal({ amount: 4n * E18 }));
    expect(d.referenceValue).toBe(1_000_000n);
    expect(codes(d)).toEqual(['approval_required']);
    expect(fresh(withdrawal({ amount: 10n * E18 })).approval).toMatchObject({ quorum: 2, requiresHsm: false, expiresAfterMs: 24 * HOUR_MS });
  });

  it('HSM approval at and above the value threshold', () => {
    const d = fresh(withdrawal({ customerId: 'vip', amount: 16n * E18 }));
    expect(d.outcome).toBe('pass');
    expect(d.approval).toMatchObject({ quorum: 2, requiresHsm: true });
    expect(codes(d)).toEqual(['approval_required', 'hsm_approval_required']);
    expect(fresh(withdrawal({ customerId: 'vip', amount: 16n * E18 - 1n })).approval.requiresHsm).toBe(true); // 40000.00 after rounding up
    expect(fresh(withdrawal({ customerId: 'vip', amount: 16n * E18 - 4n * 10n ** 12n })).approval.requiresHsm).toBe(false);
  });

  it('the submitter is never an eligible approver; too few others blocks', () => {
    const d = fresh(withdrawal({ amount: 10n * E18, credentialId: 'alice' }));
    expect(d.approval.eligible).toEqual(['bob', 'carol']);
    expect(d.approval.excluded).toContain('alice');
    const j = policyJSON() as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    j.approvals.approvers = ['alice', 'bob'];
    const small = parsePolicy(j);
    const b = fresh(withdrawal({ amount: 10n * E18, credentialId: 'alice' }), quote, null, small);
    expect(codes(b)).toEqual(['approvers_insufficient']);
  });
});
