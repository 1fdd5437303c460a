/**
 * Stage 3 of the pipeline: business rules. Every rule is checked (no first-match): the decision
 * lists one reason (code and sentence) per violated rule, and any violation blocks. Then the
 * policy's conditional rules (conditions.ts) apply: block, review, or stricter approvals. When nothing is
 * violated the decision passes and carries the approvals the withdrawal still needs (quorum by
 * value tier, separation of duties, HSM approval above a value) and its value in the reference
 * currency, which the store adds to the counters (windows.ts) when the withdrawal is approved.
 *
 * @example
 *   const d = evaluateRules(withdrawal, { now, destination, price, totals }, policy);
 *   if (d.outcome === 'block') …; else if (d.approval.quorum > 0) → awaiting_approval
 */
import type { Decision, Reason } from '../core/decision.js';
import { CustosError } from '../core/errors.js';
import { formatAmount } from '../core/money.js';
import type { Withdrawal } from '../core/withdrawal.js';
import type { DestinationRecord } from '../risk/context.js';
import { ruleMatches, usesRiskScore, usesValue, type DestinationKind } from './conditions.js';
import { limitsFor, whitelistModeFor, type Limits, type Policy } from './document.js';
import { quoteUsable, toReference, type PriceQuote } from './price.js';
import { fitsCap, velocityId, type CounterGroup, type Totals, HOUR_MS } from './windows.js';

export interface RulesContext {
  now: number;
  /** The customer's record of this destination (src/risk/context.ts), null if never seen. */
  destination: DestinationRecord | null;
  /** Latest quote for the withdrawal's asset in the reference currency, or null. */
  price: PriceQuote | null;
  /** Sums of counterReads(withdrawal, policy, now) by id, before this withdrawal. */
  totals: Record<string, Totals>;
  /** The risk stage's score, for rules with riskScoreAtLeast (required when the policy has such a rule). */
  riskScore?: number;
  /** True when the destination is one of the platform's own addresses. */
  internalDestination?: boolean;
}

export interface ApprovalRequirement {
  quorum: number; // distinct approvals needed (0: none)
  eligible: string[]; // approver ids who may approve (policy approvers minus the submitter)
  excluded: string[]; // ids that may never approve this withdrawal (the submitter)
  requiresHsm: boolean;
  expiresAfterMs: number;
}

export interface RulesDecision extends Decision {
  stage: 'rules';
  policyVersion: number;
  referenceValue: bigint | null; // value in reference-currency base units (rounded up), null without a usable quote
  approval: ApprovalRequirement;
}

const GROUP_TEXT: Record<CounterGroup, string> = {
  asset: 'in this asset',
  asset_reference: 'in this asset, by value',
  total: 'across all assets, by value',
};

function total(ctx: RulesContext, id: string): Totals {
  const t = Object.hasOwn(ctx.totals, id) ? ctx.totals[id] : undefined;
  if (!t) throw new CustosError('rules_context_incomplete', `the rules context lacks the counter ${id}`, 500);
  return t;
}

function checkLimits(group: CounterGroup, l: Limits | undefined, amount: bigint, fmt: (v: bigint) => string, ctx: RulesContext, out: Reason[]): void {
  if (!l) return;
  const where = GROUP_TEXT[group];
  if (l.perTransaction !== undefined && amount > l.perTransaction) {
    out.push({ code: `${group}_per_transaction_limit`, message: `The amount ${fmt(amount)} is above the per-withdrawal limit of ${fmt(l.perTransaction)} ${where}.` });
  }
  if (l.rolling24h !== undefined) {
    const t = total(ctx, `${group}:rolling_24h`);
    if (!fitsCap(t.amount, amount, l.rolling24h)) {
      out.push({ code: `${group}_rolling_24h_cap`, message: `The last 24 hours already hold ${fmt(t.amount)}; with ${fmt(amount)} more the 24-hour cap of ${fmt(l.rolling24h)} ${where} would be exceeded.` });
    }
  }
  if (l.calendarDay !== undefined) {
    const t = total(ctx, `${group}:calendar_day`);
    if (!fitsCap(t.amount, amount, l.calendarDay)) {
      out.push({ code: `${group}_calendar_day_cap`, message: `Today (UTC) already holds ${fmt(t.amount)}; with ${fmt(amount)} more the daily cap of ${fmt(l.calendarDay)} ${where} would be exceeded.` });
    }
  }
  for (const v of l.velocity ?? []) {
    const t = total(ctx, velocityId(group, v.windowMinutes));
    if (v.maxCount !== null && t.count + 1 > v.maxCount) {
      out.push({ code: `${group}_velocity_count`, message: `This would be withdrawal ${t.count + 1} within ${v.windowMinutes} minutes; the limit is ${v.maxCount} ${where}.` });
    }
    if (v.maxAmount !== null && !fitsCap(t.amount, amount, v.maxAmount)) {
      out.push({ code: `${group}_velocity_amount`, message: `With ${fmt(amount)} more, ${v.windowMinutes} minutes would hold more than the limit of ${fmt(v.maxAmount)} ${where}.` });
    }
  }
}

/** internal (the platform's own), whitelisted (and past its cooling period), known (used before) or new. */
export function destinationKind(ctx: RulesContext, policy: Policy): DestinationKind {
  if (ctx.internalDestination === true) return 'internal';
  const d = ctx.destination;
  if (d?.whitelistedAt != null && ctx.now - d.whitelistedAt >= policy.whitelist.coolingHours * HOUR_MS) return 'whitelisted';
  if (d && d.useCount > 0) return 'known';
  return 'new';
}

export function evaluateRules(w: Withdrawal, ctx: RulesContext, policy: Policy): RulesDecision {
  const reasons: Reason[] = [];
  const excluded = [...new Set([w.customerId, w.credentialId])];
  const eligible = policy.approvals.approvers.filter((a) => !excluded.includes(a));
  const noApproval: ApprovalRequirement = { quorum: 0, eligible, excluded, requiresHsm: false, expiresAfterMs: policy.approvals.expiryHours * HOUR_MS };
  const blocked = (rs: Reason[], referenceValue: bigint | null = null): RulesDecision => ({
    stage: 'rules', outcome: 'block', reasons: rs, policyVersion: policy.version, referenceValue, approval: noApproval,
  });

  if (w.amount <= 0n) return blocked([{ code: 'amount_not_positive', message: 'A withdrawal amount must be greater than zero.' }]);
  const asset = Object.hasOwn(policy.assets, w.asset) ? policy.assets[w.asset] : undefined;
  if (!asset) return blocked([{ code: 'asset_not_in_policy', message: `The policy does not declare the asset ${w.asset}, so no withdrawal of it is allowed.` }]);
  if (asset.chain !== w.chain) return blocked([{ code: 'asset_chain_mismatch', message: `The policy declares ${w.asset} on ${asset.chain}, not on ${w.chain}.` }]);

  const limits = limitsFor(policy, w.customerId);
  const refLimits = limits.perAssetReference[w.asset];
  const needsValue =
    refLimits !== undefined ||
    Object.keys(limits.total).length > 0 ||
    policy.approvals.tiers.length > 1 ||
    policy.approvals.hsmFromReference !== null ||
    policy.rules.some(usesValue);
  const usable = quoteUsable(ctx.price, w.asset, ctx.now, policy.prices.maxAgeSeconds);
  const referenceValue = usable ? toReference(w.amount, asset.decimals, ctx.price as PriceQuote) : null;
  if (needsValue && referenceValue === null) {
    return blocked([{ code: 'price_unavailable', message: `No ${policy.referenceCurrency.code} price for ${w.asset} younger than ${policy.prices.maxAgeSeconds} s, so value limits and approval tiers cannot be checked.` }]);
  }

  // whitelist
  const mode = whitelistModeFor(policy, w.customerId);
  if (mode === 'whitelisted_only') {
    const at = ctx.destination?.whitelistedAt ?? null;
    if (at === null) {
      reasons.push({ code: 'destination_not_whitelisted', message: 'The customer only allows whitelisted destinations and this one is not on the whitelist.' });
    } else if (ctx.now - at < policy.whitelist.coolingHours * HOUR_MS) {
      const left = Math.ceil((at + policy.whitelist.coolingHours * HOUR_MS - ctx.now) / 60_000);
      reasons.push({ code: 'whitelist_cooling', message: `The destination was whitelisted less than ${policy.whitelist.coolingHours} h ago; it may be used in ${left} minutes.` });
    }
  }

  // limits
  const fmtAsset = (v: bigint) => `${formatAmount(v, asset.decimals)} ${w.asset}`;
  const rc = policy.referenceCurrency;
  const fmtRef = (v: bigint) => `${formatAmount(v, rc.decimals)} ${rc.code}`;
  checkLimits('asset', limits.perAsset[w.asset], w.amount, fmtAsset, ctx, reasons);
  if (referenceValue !== null) {
    checkLimits('asset_reference', refLimits, referenceValue, fmtRef, ctx, reasons);
    checkLimits('total', limits.total, referenceValue, fmtRef, ctx, reasons);
  }
  // conditional rules: every matching rule applies
  if (policy.rules.some(usesRiskScore) && ctx.riskScore === undefined) {
    throw new CustosError('rules_context_incomplete', 'the policy has rules on the risk score but the rules context has none', 500);
  }
  const facts = { withdrawal: w, now: ctx.now, referenceValue, destination: destinationKind(ctx, policy), riskScore: ctx.riskScore ?? null };
  const matched = policy.rules.filter((r) => ruleMatches(r, facts));
  for (const r of matched) {
    if (r.then.action === 'block') reasons.push({ code: 'policy_rule_block', message: `Policy rule "${r.name}" blocks this withdrawal.` });
  }
  if (reasons.length > 0) return blocked(reasons, referenceValue);

  // approvals: the highest tier whose threshold the value reaches, raised by matching rules
  const value = referenceValue ?? 0n;
  let quorum = 0;
  for (const t of policy.approvals.tiers) if (value >= t.fromReference) quorum = t.quorum;
  const hsm = policy.approvals.hsmFromReference;
  let requiresHsm = hsm !== null && value >= hsm;
  const info: Reason[] = [];
  let review = false;
  for (const r of matched) {
    if (r.then.action === 'review') {
      review = true;
      info.push({ code: 'policy_rule_review', message: `Policy rule "${r.name}" sends this withdrawal to manual review.` });
    } else if (r.then.action === 'require_approval') {
      quorum = Math.max(quorum, r.then.quorum);
      requiresHsm ||= r.then.hsm;
      info.push({ code: 'policy_rule_approval', message: `Policy rule "${r.name}" requires ${r.then.quorum} approval${r.then.quorum === 1 ? '' : 's'}${r.then.hsm ? ' and an HSM approval' : ''}.` });
    }
  }
  if (quorum > eligible.length) {
    return blocked([{ code: 'approvers_insufficient', message: `The withdrawal needs ${quorum} approvals but only ${eligible.length} approvers may approve it (the submitter cannot).` }], referenceValue);
  }
  const worth = referenceValue === null ? '' : ` (${fmtRef(referenceValue)})`;
  if (quorum > 0) info.push({ code: 'approval_required', message: `This withdrawal${worth} needs ${quorum} approval${quorum > 1 ? 's' : ''} from distinct approvers other than the submitter.` });
  if (requiresHsm) info.push({ code: 'hsm_approval_required', message: `This withdrawal${worth} needs an HSM approval.` });
  return {
    stage: 'rules',
    outcome: review ? 'review' : 'pass',
    reasons: info,
    policyVersion: policy.version,
    referenceValue,
    approval: { ...noApproval, quorum, requiresHsm },
  };
}
