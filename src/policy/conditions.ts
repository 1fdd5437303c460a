/**
 * Conditional policy rules: `rules` in the policy document is a list of { name, when, then }.
 * Every rule whose conditions all hold applies (no first-match ordering): any `block` blocks, any
 * `review` sends the withdrawal to manual review, and approval requirements combine to the
 * strictest (the largest quorum, HSM if any rule asks for it), on top of the value tiers.
 * Conditions: asset, chain, customer, initiator (API credential), amount per asset, value in the
 * reference currency (at least / below), destination kind (internal, whitelisted, known, new),
 * UTC hour window, risk score. There is no expression language: every condition is data.
 *
 * @example
 *   { "name": "night-large", "when": { "hoursUtc": { "from": 22, "to": 6 }, "valueAtLeast": "50000" },
 *     "then": { "action": "require_approval", "quorum": 2, "hsm": true } }
 */
import { CHAINS, type Chain } from '../core/chain.js';
import type { Withdrawal } from '../core/withdrawal.js';
import { fail, NAME, readAmount, readArray, readBool, readEnum, readInt, readMap, readObject, readString } from './schema.js';

export const DESTINATION_KINDS = ['internal', 'whitelisted', 'known', 'new'] as const;
export type DestinationKind = (typeof DESTINATION_KINDS)[number];

export interface RuleConditions {
  asset?: string[];
  chain?: Chain[];
  customer?: string[];
  initiator?: string[];
  amountAtLeast?: Record<string, bigint>; // asset → base units; matches only withdrawals of those assets
  valueAtLeast?: bigint; // reference base units
  valueBelow?: bigint;
  destination?: DestinationKind[];
  hoursUtc?: { from: number; to: number }; // [from, to), wrapping past midnight when from > to
  riskScoreAtLeast?: number;
}

export type RuleEffect = { action: 'block' } | { action: 'review' } | { action: 'require_approval'; quorum: number; hsm: boolean };

export interface ConditionalRule {
  name: string;
  when: RuleConditions;
  then: RuleEffect;
}

/** What a rule is matched against. */
export interface RuleFacts {
  withdrawal: Withdrawal;
  now: number;
  referenceValue: bigint | null;
  destination: DestinationKind;
  riskScore: number | null;
}

const ASSET = /^[A-Z0-9]{1,16}$/;

export function readConditionalRules(
  v: unknown,
  path: string,
  assets: Record<string, { decimals: number }>,
  refDecimals: number,
  approverCount: number,
): ConditionalRule[] {
  const names = new Set<string>();
  return readArray(v, path, 256, (x, p) => {
    const r = readObject(x, p, ['name', 'when', 'then'], ['name', 'when', 'then']);
    const name = readString(r.name, `${p}.name`, NAME, 'a rule name');
    if (names.has(name)) fail(`${p}.name`, `another rule is already called ${name}`);
    names.add(name);
    const w = readObject(r.when, `${p}.when`, ['asset', 'chain', 'customer', 'initiator', 'amountAtLeast', 'valueAtLeast', 'valueBelow', 'destination', 'hoursUtc', 'riskScoreAtLeast']);
    const list = <T>(key: string, f: (y: unknown, q: string) => T): T[] | undefined => {
      if (w[key] === undefined) return undefined;
      const out = readArray(w[key], `${p}.when.${key}`, 10_000, f);
      if (out.length === 0) fail(`${p}.when.${key}`, 'must not be empty (it would never match)');
      return out;
    };
    const when: RuleConditions = {};
    const asset = list('asset', (y, q) => readString(y, q, ASSET, 'an asset code'));
    if (asset) when.asset = asset;
    asset?.forEach((a, i) => assets[a] ?? fail(`${p}.when.asset[${i}]`, `asset ${a} is not declared in assets`));
    const chain = list('chain', (y, q) => readEnum(y, q, CHAINS));
    if (chain) when.chain = chain;
    const customer = list('customer', (y, q) => readString(y, q, NAME, 'a customer id'));
    if (customer) when.customer = customer;
    const initiator = list('initiator', (y, q) => readString(y, q, NAME, 'a credential id'));
    if (initiator) when.initiator = initiator;
    const destination = list('destination', (y, q) => readEnum(y, q, DESTINATION_KINDS));
    if (destination) when.destination = destination;
    if (w.amountAtLeast !== undefined) {
      when.amountAtLeast = readMap(w.amountAtLeast, `${p}.when.amountAtLeast`, ASSET, (y, q, k) => {
        const a = assets[k];
        if (!a) fail(q, `asset ${k} is not declared in assets`);
        return readAmount(y, q, a.decimals);
      });
    }
    if (w.valueAtLeast !== undefined) when.valueAtLeast = readAmount(w.valueAtLeast, `${p}.when.valueAtLeast`, refDecimals);
    if (w.valueBelow !== undefined) when.valueBelow = readAmount(w.valueBelow, `${p}.when.valueBelow`, refDecimals);
    if (w.hoursUtc !== undefined) {
      const h = readObject(w.hoursUtc, `${p}.when.hoursUtc`, ['from', 'to'], ['from', 'to']);
      when.hoursUtc = { from: readInt(h.from, `${p}.when.hoursUtc.from`, 0, 23), to: readInt(h.to, `${p}.when.hoursUtc.to`, 0, 24) };
      if (when.hoursUtc.from === when.hoursUtc.to) fail(`${p}.when.hoursUtc`, 'from and to are equal: the window is empty');
    }
    if (w.riskScoreAtLeast !== undefined) when.riskScoreAtLeast = readInt(w.riskScoreAtLeast, `${p}.when.riskScoreAtLeast`, 0, 1_000_000_000);
    const t = readObject(r.then, `${p}.then`, ['action', 'quorum', 'hsm'], ['action']);
    const action = readEnum(t.action, `${p}.then.action`, ['block', 'review', 'require_approval'] as const);
    let then: RuleEffect;
    if (action === 'require_approval') {
      const quorum = t.quorum === undefined ? 0 : readInt(t.quorum, `${p}.then.quorum`, 0, 1000);
      if (quorum > approverCount) fail(`${p}.then.quorum`, `needs ${quorum} approvals but only ${approverCount} approvers exist`);
      const hsm = t.hsm === undefined ? false : readBool(t.hsm, `${p}.then.hsm`);
      if (quorum === 0 && !hsm) fail(`${p}.then`, 'require_approval needs a quorum or hsm');
      then = { action, quorum, hsm };
    } else {
      if (t.quorum !== undefined || t.hsm !== undefined) fail(`${p}.then`, `${action} takes no quorum or hsm`);
      then = { action };
    }
    return { name, when, then };
  });
}

/** True when a rule needs the withdrawal's value in the reference currency. */
export const usesValue = (r: ConditionalRule): boolean => r.when.valueAtLeast !== undefined || r.when.valueBelow !== undefined;
export const usesRiskScore = (r: ConditionalRule): boolean => r.when.riskScoreAtLeast !== undefined;

/** Whether every condition of the rule holds. */
export function ruleMatches(r: ConditionalRule, f: RuleFacts): boolean {
  const w = r.when;
  const x = f.withdrawal;
  if (w.asset && !w.asset.includes(x.asset)) return false;
  if (w.chain && !w.chain.includes(x.chain)) return false;
  if (w.customer && !w.customer.includes(x.customerId)) return false;
  if (w.initiator && !w.initiator.includes(x.credentialId)) return false;
  if (w.amountAtLeast) {
    const min = Object.hasOwn(w.amountAtLeast, x.asset) ? w.amountAtLeast[x.asset] : undefined;
    if (min === undefined || x.amount < min) return false;
  }
  if (w.valueAtLeast !== undefined && (f.referenceValue === null || f.referenceValue < w.valueAtLeast)) return false;
  if (w.valueBelow !== undefined && (f.referenceValue === null || f.referenceValue >= w.valueBelow)) return false;
  if (w.destination && !w.destination.includes(f.destination)) return false;
  if (w.hoursUtc) {
    const hour = new Date(f.now).getUTCHours();
    const { from, to } = w.hoursUtc;
    const inside = from < to ? hour >= from && hour < to : hour >= from || hour < to;
    if (!inside) return false;
  }
  if (w.riskScoreAtLeast !== undefined && (f.riskScore === null || f.riskScore < w.riskScoreAtLeast)) return false;
  return true;
}
