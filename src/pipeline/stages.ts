/**
 * Stages 2 (risk) and 3 (rules) for one withdrawal inside the intake transaction: locks the
 * customer's counter scopes (in counterLockScopes order, so concurrent withdrawals of one customer
 * serialise and never deadlock), loads the context from the store in indexed reads, evaluates both
 * pure stages and routes with combineOutcome. The caller persists the result.
 *
 * @example
 *   const r = await runRiskAndRules(q, withdrawal, active.policy, now, account.balance);
 *   r.outcome; // 'approve' | 'awaiting_approval' | 'review' | 'block'
 */
import type { Chain } from '../core/chain.js';
import type { Decision } from '../core/decision.js';
import type { Withdrawal } from '../core/withdrawal.js';
import type { Policy } from '../policy/document.js';
import type { PriceQuote } from '../policy/price.js';
import { evaluateRules, type RulesDecision } from '../policy/rules.js';
import { combineOutcome, type FinalOutcome } from '../policy/simulate.js';
import { counterLockScopes, counterReads, RISK_1H, type Totals } from '../policy/windows.js';
import { normalizeAddress } from '../risk/address.js';
import { bundledSanctionsIndex } from '../risk/bundled-sanctions.js';
import type { DestinationRecord, RiskContext } from '../risk/context.js';
import { evaluateRisk, type RiskDecision } from '../risk/evaluate.js';
import { lookAlikeKey } from '../risk/lookalike.js';
import { SanctionsIndex } from '../risk/sanctions.js';
import { listAccounts } from '../store/accounts.js';
import { lockCounterScopes, readCounterTotals } from '../store/counters.js';
import type { Queryable } from '../store/db.js';
import {
  addressBookWhitelistedAt,
  credentialsChangedAt,
  getAmountHistory,
  getDestination,
  similarDestinations,
  whitelistChangedAt,
} from '../store/histories.js';
import { getPrice } from '../store/policies.js';
import { sanctionsListsFor } from '../store/sanctions.js';

let bundled: SanctionsIndex | null = null;
/** The bundled OFAC lists, parsed once per process. */
export function bundledSanctions(): SanctionsIndex {
  bundled ??= bundledSanctionsIndex();
  return bundled;
}

/** The bundled index plus the imported entries found for the one address being decided. */
class LayeredSanctions extends SanctionsIndex {
  constructor(
    private readonly base: SanctionsIndex,
    extra: { chain: Chain; address: string; list: string }[],
  ) {
    super(extra);
  }
  override lookup(chain: Chain, address: string): readonly string[] {
    const own = super.lookup(chain, address);
    const b = this.base.lookup(chain, address);
    return own.length === 0 ? b : [...new Set([...b, ...own])];
  }
}

export interface StageResult {
  risk: RiskDecision;
  rules: RulesDecision;
  outcome: FinalOutcome;
  totals: Record<string, Totals>;
  destination: DestinationRecord | null;
}

/** JSON-safe form of a decision (bigints as decimal strings) for the withdrawal row and the audit entry. */
export function decisionJSON(d: Decision): Decision {
  return JSON.parse(JSON.stringify(d, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))) as Decision;
}

export async function runRiskAndRules(q: Queryable, w: Withdrawal, policy: Policy, now: number, balance: bigint | null): Promise<StageResult> {
  await lockCounterScopes(q, counterLockScopes(w));
  const totals = await readCounterTotals(q, counterReads(w, policy, now));

  const normalized = normalizeAddress(w.chain, w.to);
  let destination = await getDestination(q, w.customerId, w.chain, normalized);
  const bookAt = await addressBookWhitelistedAt(q, w.customerId, w.chain, (a) => normalizeAddress(w.chain, a) === normalized);
  if (bookAt !== null && (destination?.whitelistedAt ?? null) === null) {
    destination = { ...(destination ?? { address: normalized, firstUsedAt: null, lastUsedAt: null, useCount: 0 }), whitelistedAt: bookAt };
  }
  const p = policy.risk.params;
  const similar = await similarDestinations(q, w.customerId, w.chain, lookAlikeKey(w.chain, normalized, p.lookAlikePrefix, p.lookAlikeSuffix), normalized);
  const imported = await sanctionsListsFor(q, w.chain, normalized);
  const riskContext: RiskContext = {
    now,
    destination,
    similarDestinations: similar,
    history: await getAmountHistory(q, w.customerId, w.asset),
    lastHour: totals[RISK_1H] ?? { count: 0, amount: 0n },
    balance,
    security: { credentialsChangedAt: await credentialsChangedAt(q, w.customerId), whitelistChangedAt: await whitelistChangedAt(q, w.customerId) },
    sanctions: new LayeredSanctions(bundledSanctions(), imported.map((list) => ({ chain: w.chain, address: normalized, list }))),
  };
  const risk = evaluateRisk(w, riskContext, policy.risk);

  const priceRow = await getPrice(q, w.asset);
  const price: PriceQuote | null =
    priceRow && priceRow.refCurrency === policy.referenceCurrency.code ? { asset: w.asset, refPerUnit: priceRow.refPerUnit, at: priceRow.observedAt ?? now } : null;
  const internal = (await listAccounts(q)).some((a) => a.chain === w.chain && normalizeAddress(a.chain, a.address) === normalized);
  const rules = evaluateRules(w, { now, destination, price, totals, riskScore: risk.score, internalDestination: internal }, policy);
  return { risk, rules, outcome: combineOutcome(risk, rules), totals, destination };
}
