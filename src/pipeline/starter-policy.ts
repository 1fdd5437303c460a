/**
 * The policy a fresh installation starts with, and its static price table. Based on the demo
 * policy (src/policy/demo-policy.ts), adjusted for a platform's first day:
 *   - risk: a new destination scores 20, a recent credential change 15, velocity 20, an unusual
 *     amount 30; review from 40, block from 90 (a sanctions hit always blocks);
 *   - rule "large-to-new-destination": a withdrawal worth USD 10,000 or more to a destination the
 *     customer never used goes to manual review;
 *   - approvals: USD 10,000 or more needs 2 of the 3 approvers (never the submitter), USD 1,000,000
 *     or more also an HSM approval; approvals expire after 24 h;
 *   - caps per customer: 100 ETH / 5 BTC / 5,000 SOL / 250,000 USDC per rolling 24 h, USD 500,000 per
 *     UTC day across all assets, at most 500 withdrawals per hour per asset.
 *
 * Prices: STARTER_PRICES are fixed, illustrative USD prices (cents per whole unit) the operator
 * must replace with real ones (store: asset_prices; `observed_at` NULL marks a configured fixed
 * price, which does not age). Without a price for an asset, every value rule fails closed
 * (`price_unavailable`, blocked) as src/policy/rules.ts decides.
 *
 * @example
 *   const doc = starterPolicyDocument({ admins: { 'admin-1': hex1, 'admin-2': hex2, 'admin-3': hex3 }, approvers: ['alice', 'bob', 'carol'] });
 */
import { demoPolicyDocument } from '../policy/demo-policy.js';

export const STARTER_APPROVERS = ['approver-1', 'approver-2', 'approver-3'];

/** USD cents per whole unit; illustrative only. */
export const STARTER_PRICES: Readonly<Record<string, bigint>> = {
  ETH: 300_000n,
  BTC: 6_000_000n,
  SOL: 15_000n,
  USDC: 100n,
};

export function starterPolicyDocument(opts: { admins: Record<string, string>; approvers?: string[]; version?: number }): Record<string, unknown> {
  const base = demoPolicyDocument({ admins: opts.admins, approvers: opts.approvers ?? STARTER_APPROVERS });
  const perAsset = (rolling24h: string) => ({ rolling24h, velocity: [{ windowMinutes: 60, maxCount: 500 }] });
  return {
    ...base,
    version: opts.version ?? 1,
    risk: {
      weights: { new_destination: 20, unusual_amount: 30, recent_security_change: 15, velocity: 20 },
      thresholds: { review: 40, block: 90 },
      dust: (base.risk as { dust: unknown }).dust,
    },
    limits: {
      default: {
        perAsset: { ETH: perAsset('100'), BTC: perAsset('5'), SOL: perAsset('5000'), USDC: perAsset('250000') },
        total: { calendarDay: '500000' },
      },
    },
    rules: [{ name: 'large-to-new-destination', when: { valueAtLeast: '10000', destination: ['new'] }, then: { action: 'review' } }],
  };
}
