/**
 * The policy document `custos demo` starts with (version 1). The demo's admins and approvers are
 * generated at start-up, so their ids and public keys are parameters. What it does:
 *   - ETH, BTC, SOL and USDC (on Ethereum), values in USD with 2 decimals;
 *   - any withdrawal worth USD 10,000 or more needs 2 approvals out of the approvers (never the
 *     submitter), USD 1,000,000 or more also an HSM approval;
 *   - a withdrawal to a destination the customer never used scores 25, one far above the customer's
 *     usual amounts 30 more, so a large transfer to a new address reaches the review threshold (40);
 *   - per customer: 100 ETH / 5 BTC / 5,000 SOL / 250,000 USDC per rolling 24 h, USD 500,000 per UTC
 *     day across all assets, at most 20 withdrawals per hour per asset;
 *   - policy changes need 2 admins other than the proposer.
 *
 * @example
 *   const doc = demoPolicyDocument({ admins: { 'admin-1': pubHex1, … }, approvers: ['alice', 'bob', 'carol'] });
 *   const policy = parsePolicy(doc);
 */
export function demoPolicyDocument(opts: { admins: Record<string, string>; approvers: string[] }): Record<string, unknown> {
  const perAsset = (rolling24h: string) => ({ rolling24h, velocity: [{ windowMinutes: 60, maxCount: 20 }] });
  return {
    version: 1,
    referenceCurrency: { code: 'USD', decimals: 2 },
    assets: {
      ETH: { chain: 'ethereum', decimals: 18 },
      USDC: { chain: 'ethereum', decimals: 6 },
      BTC: { chain: 'bitcoin', decimals: 8 },
      SOL: { chain: 'solana', decimals: 9 },
    },
    prices: { maxAgeSeconds: 300 },
    risk: {
      weights: { new_destination: 25, unusual_amount: 30 },
      thresholds: { review: 40, block: 90 },
      dust: { ETH: '0.00001', USDC: '0.01', BTC: '0.00000546', SOL: '0.00089' },
    },
    limits: {
      default: {
        perAsset: { ETH: perAsset('100'), BTC: perAsset('5'), SOL: perAsset('5000'), USDC: perAsset('250000') },
        total: { calendarDay: '500000' },
      },
    },
    whitelist: { coolingHours: 24, mode: 'any' },
    approvals: {
      approvers: opts.approvers,
      tiers: [
        { fromReference: '0', quorum: 0 },
        { fromReference: '10000', quorum: 2 },
      ],
      hsmFromReference: '1000000',
      expiryHours: 24,
    },
    governance: { quorum: 2, admins: opts.admins },
  };
}
