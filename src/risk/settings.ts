/**
 * Risk settings: the weights of the signals, the thresholds that route a score, and the parameters
 * of each signal. They live in the policy document (src/policy), which parses and validates them;
 * DEFAULT_RISK_SETTINGS documents sensible values.
 *
 * @example
 *   routeScore(45, DEFAULT_RISK_SETTINGS.thresholds) === 'review'
 */
export const SIGNAL_NAMES = [
  'sanctioned_destination',
  'new_destination',
  'unusual_amount',
  'velocity',
  'balance_share',
  'recent_security_change',
  'lookalike_destination',
  'dust_amount',
] as const;
export type SignalName = (typeof SIGNAL_NAMES)[number];

export type Route = 'approve' | 'review' | 'block';

export interface RiskThresholds {
  review: number; // score >= review → review
  block: number; // score >= block → block (block > review)
}

export interface RiskParams {
  newDestinationHours: number; // a destination whitelisted less than this ago counts as new
  amountMinHistory: number; // withdrawals in the 90-day window before the amount signal judges
  amountPercentile: number; // integer 1..100, usually 99
  amountMedianMultiple: number; // integer: amount above this multiple of the median is unusual
  velocityMinCount: number; // last-hour count (with this one) at or above which velocity may fire
  velocityMultiple: number; // integer: last hour above this multiple of the median active hour
  balanceSharePercent: number; // integer 1..100: withdrawing at least this share of the balance
  recentChangeHours: number; // credentials or whitelist changed less than this ago
  lookAlikePrefix: number; // significant characters compared at the start
  lookAlikeSuffix: number; // and at the end
}

export interface RiskSettings {
  weights: Record<SignalName, number>; // non-negative integers
  thresholds: RiskThresholds;
  params: RiskParams;
  /** Per asset: amounts strictly below this (base units) are dust. Assets absent: no dust check. */
  dust: Record<string, bigint>;
}

export const DEFAULT_RISK_SETTINGS: RiskSettings = {
  weights: {
    sanctioned_destination: 100,
    new_destination: 20,
    unusual_amount: 30,
    velocity: 25,
    balance_share: 15,
    recent_security_change: 25,
    lookalike_destination: 60,
    dust_amount: 20,
  },
  thresholds: { review: 40, block: 90 },
  params: {
    newDestinationHours: 24,
    amountMinHistory: 10,
    amountPercentile: 99,
    amountMedianMultiple: 10,
    velocityMinCount: 5,
    velocityMultiple: 3,
    balanceSharePercent: 50,
    recentChangeHours: 48,
    lookAlikePrefix: 4,
    lookAlikeSuffix: 4,
  },
  dust: {},
};

export function routeScore(score: number, thresholds: RiskThresholds): Route {
  if (score >= thresholds.block) return 'block';
  if (score >= thresholds.review) return 'review';
  return 'approve';
}
