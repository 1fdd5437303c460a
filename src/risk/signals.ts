/**
 * The risk signals. Each one is a pure function of (withdrawal, context, settings) that either
 * fires, returning its name, weight and one sentence a reviewer can act on, or returns null.
 * Money comparisons are bigint only.
 *
 * @example
 *   const fired = RISK_SIGNALS.map((s) => s(withdrawal, context, settings)).filter((x) => x !== null);
 */
import type { Withdrawal } from '../core/withdrawal.js';
import type { RiskContext } from './context.js';
import { histogramQuantile } from './histogram.js';
import { historyView, type HistoryView } from './history.js';
import { normalizeAddress } from './address.js';
import { looksAlike } from './lookalike.js';
import type { RiskSettings, SignalName } from './settings.js';

export interface Signal {
  name: SignalName;
  weight: number;
  message: string;
}

export type RiskSignal = (w: Withdrawal, ctx: RiskContext, s: RiskSettings) => Signal | null;

const HOUR_MS = 3_600_000;

/** One merged 90-day view per (history, now), shared by the signals of one evaluation (histories are immutable values). */
const views = new WeakMap<object, { now: number; view: HistoryView }>();
function viewOf(ctx: RiskContext): HistoryView {
  const hit = views.get(ctx.history);
  if (hit && hit.now === ctx.now) return hit.view;
  const view = historyView(ctx.history, ctx.now);
  views.set(ctx.history, { now: ctx.now, view });
  return view;
}
const sig = (name: SignalName, s: RiskSettings, message: string): Signal => ({ name, weight: s.weights[name], message });
const hoursAgo = (now: number, t: number): string => `${Math.floor((now - t) / 60_000)} minutes ago`;

export const sanctionedDestination: RiskSignal = (w, ctx, s) => {
  const lists = ctx.sanctions.lookup(w.chain, w.to);
  if (lists.length === 0) return null;
  return sig('sanctioned_destination', s, `The destination is on the sanctions list${lists.length > 1 ? 's' : ''} ${lists.join(', ')}.`);
};

export const newDestination: RiskSignal = (w, ctx, s) => {
  const d = ctx.destination;
  if (!d || d.useCount === 0) {
    const wl = d?.whitelistedAt != null ? ', though it is whitelisted' : '';
    return sig('new_destination', s, `The customer has never withdrawn to this destination before${wl}.`);
  }
  const window = s.params.newDestinationHours * HOUR_MS;
  if (d.whitelistedAt !== null && ctx.now - d.whitelistedAt < window) {
    return sig('new_destination', s, `The destination was whitelisted ${hoursAgo(ctx.now, d.whitelistedAt)}, less than ${s.params.newDestinationHours} h ago.`);
  }
  return null;
};

export const unusualAmount: RiskSignal = (w, ctx, s) => {
  const view = viewOf(ctx);
  if (view.count < s.params.amountMinHistory) return null;
  const p = histogramQuantile(view.amounts, s.params.amountPercentile);
  const median = histogramQuantile(view.amounts, 50);
  if (!p || !median) return null;
  // p.upper is above every amount in the percentile's bucket, so w.amount >= p.upper means the
  // amount is certainly above the percentile; (median.upper - 1) bounds the median from above.
  if (w.amount >= p.upper) {
    return sig('unusual_amount', s, `The amount is above the customer's ${s.params.amountPercentile}th percentile of the last 90 days (${view.count} withdrawals; below ${p.upper} base units).`);
  }
  const k = BigInt(s.params.amountMedianMultiple);
  if (w.amount > (median.upper - 1n) * k) {
    return sig('unusual_amount', s, `The amount is more than ${k} times the customer's median withdrawal of the last 90 days.`);
  }
  return null;
};

export const velocity: RiskSignal = (w, ctx, s) => {
  const count = ctx.lastHour.count + 1;
  const amount = ctx.lastHour.amount + w.amount;
  const view = viewOf(ctx);
  const k = s.params.velocityMultiple;
  const medCount = histogramQuantile(view.hourCounts, 50);
  const normalCount = medCount ? Number(medCount.upper - 1n) : 1;
  const countLimit = Math.max(s.params.velocityMinCount - 1, normalCount * k);
  if (count > countLimit) {
    return sig('velocity', s, `${count} withdrawals in the last hour, above the customer's normal of ${normalCount} per active hour.`);
  }
  const medAmount = histogramQuantile(view.hourAmounts, 50);
  if (medAmount && count >= 2 && amount > (medAmount.upper - 1n) * BigInt(k)) {
    return sig('velocity', s, `The value withdrawn in the last hour is more than ${k} times the customer's normal hourly value.`);
  }
  return null;
};

export const balanceShare: RiskSignal = (w, ctx, s) => {
  if (ctx.balance === null) return null;
  const pct = BigInt(s.params.balanceSharePercent);
  if (w.amount * 100n >= ctx.balance * pct) {
    return sig('balance_share', s, `The withdrawal takes at least ${pct}% of the account balance.`);
  }
  return null;
};

export const recentSecurityChange: RiskSignal = (_w, ctx, s) => {
  const window = s.params.recentChangeHours * HOUR_MS;
  const { credentialsChangedAt: c, whitelistChangedAt: l } = ctx.security;
  if (c !== null && ctx.now - c < window) return sig('recent_security_change', s, `The customer's API credentials changed ${hoursAgo(ctx.now, c)}.`);
  if (l !== null && ctx.now - l < window) return sig('recent_security_change', s, `The customer's address whitelist changed ${hoursAgo(ctx.now, l)}.`);
  return null;
};

export const lookalikeDestination: RiskSignal = (w, ctx, s) => {
  const to = normalizeAddress(w.chain, w.to);
  for (const d of ctx.similarDestinations) {
    if (looksAlike(w.chain, to, d.address, s.params.lookAlikePrefix, s.params.lookAlikeSuffix)) {
      return sig('lookalike_destination', s, `The destination starts and ends like ${d.address}, which the customer knows, but is a different address (address poisoning?).`);
    }
  }
  return null;
};

export const dustAmount: RiskSignal = (w, _ctx, s) => {
  const limit = s.dust[w.asset];
  if (limit === undefined || w.amount >= limit) return null;
  return sig('dust_amount', s, `The amount ${w.amount} is below the dust limit of ${limit} base units for ${w.asset}.`);
};

/** Every signal, in the order reasons are listed. */
export const RISK_SIGNALS: readonly RiskSignal[] = [
  sanctionedDestination,
  newDestination,
  unusualAmount,
  velocity,
  balanceShare,
  recentSecurityChange,
  lookalikeDestination,
  dustAmount,
];

