/**
 * The policy document: one versioned JSON document holding the risk settings, the limits per
 * customer and asset, the whitelist rules, the approval requirements and who governs changes.
 * parsePolicy validates it strictly (unknown keys, floats, negative or over-precise amounts are
 * refused with their JSON path) and converts every amount to bigint base units: asset amounts with
 * the asset's decimals declared in `assets`, reference-currency amounts with `referenceCurrency.decimals`.
 *
 * Limits: `limits.default` applies to every customer; `limits.customers[id]` overrides it field by
 * field (a customer entry's `rolling24h` replaces the default's, its other fields stay; a `velocity`
 * list replaces the default list).
 *
 * @example
 *   const policy = parsePolicy(JSON.parse(text));
 *   policy.limits.default.perAsset.ETH?.perTransaction; // 10n ** 19n for "10"
 */
import { CHAINS, type Chain } from '../core/chain.js';
import { DEFAULT_RISK_SETTINGS, SIGNAL_NAMES, type RiskParams, type RiskSettings, type SignalName } from '../risk/settings.js';
import { hexToBytes } from '@noble/hashes/utils.js';
import { readConditionalRules, type ConditionalRule } from './conditions.js';
import {
  fail,
  NAME,
  readAmount,
  readArray,
  readEnum,
  readInt,
  readMap,
  readObject,
  readString,
} from './schema.js';

export interface VelocityLimit {
  windowMinutes: number;
  maxCount: number | null;
  maxAmount: bigint | null;
}

/** Amounts in one unit: an asset's base units, or the reference currency's. Absent = no limit. */
export interface Limits {
  perTransaction?: bigint;
  rolling24h?: bigint;
  calendarDay?: bigint; // the UTC calendar day
  velocity?: VelocityLimit[];
}

export interface LimitSet {
  perAsset: Record<string, Limits>; // in the asset's base units
  perAssetReference: Record<string, Limits>; // per asset, in reference-currency base units
  total: Limits; // all assets together, in reference-currency base units
}

export type WhitelistMode = 'any' | 'whitelisted_only';

export interface ApprovalTier {
  fromReference: bigint; // the tier applies from this value (reference currency, base units)
  quorum: number; // approvals needed (0 = none)
}

export interface Policy {
  version: number;
  referenceCurrency: { code: string; decimals: number };
  assets: Record<string, { chain: Chain; decimals: number }>;
  prices: { maxAgeSeconds: number };
  risk: RiskSettings;
  limits: { default: LimitSet; customers: Record<string, LimitSet> };
  whitelist: { coolingHours: number; mode: WhitelistMode; customers: Record<string, WhitelistMode> };
  approvals: { approvers: string[]; tiers: ApprovalTier[]; hsmFromReference: bigint | null; expiryHours: number };
  governance: { quorum: number; admins: Record<string, Uint8Array> };
  /** Conditional rules (conditions.ts): every matching rule applies. */
  rules: ConditionalRule[];
}

const ASSET = /^[A-Z0-9]{1,16}$/;
const HEX32 = /^[0-9a-f]{64}$/;
const MAX_WEIGHT = 1_000_000;

function readLimits(v: unknown, path: string, decimals: number): Limits {
  const o = readObject(v, path, ['perTransaction', 'rolling24h', 'calendarDay', 'velocity']);
  const out: Limits = {};
  if (o.perTransaction !== undefined) out.perTransaction = readAmount(o.perTransaction, `${path}.perTransaction`, decimals);
  if (o.rolling24h !== undefined) out.rolling24h = readAmount(o.rolling24h, `${path}.rolling24h`, decimals);
  if (o.calendarDay !== undefined) out.calendarDay = readAmount(o.calendarDay, `${path}.calendarDay`, decimals);
  if (o.velocity !== undefined) {
    out.velocity = readArray(o.velocity, `${path}.velocity`, 16, (x, p) => {
      const r = readObject(x, p, ['windowMinutes', 'maxCount', 'maxAmount'], ['windowMinutes']);
      if (r.maxCount === undefined && r.maxAmount === undefined) fail(p, 'needs maxCount or maxAmount');
      return {
        windowMinutes: readInt(r.windowMinutes, `${p}.windowMinutes`, 1, 7 * 24 * 60),
        maxCount: r.maxCount === undefined ? null : readInt(r.maxCount, `${p}.maxCount`, 0, 1_000_000_000),
        maxAmount: r.maxAmount === undefined ? null : readAmount(r.maxAmount, `${p}.maxAmount`, decimals),
      };
    });
  }
  return out;
}

function readLimitSet(v: unknown, path: string, assets: Policy['assets'], refDecimals: number): LimitSet {
  const o = readObject(v, path, ['perAsset', 'perAssetReference', 'total']);
  const assetKey = (p: string, k: string) => {
    const a = assets[k];
    if (!a) fail(p, `asset ${k} is not declared in assets`);
    return a;
  };
  return {
    perAsset: o.perAsset === undefined ? {} : readMap(o.perAsset, `${path}.perAsset`, ASSET, (x, p, k) => readLimits(x, p, assetKey(p, k).decimals)),
    perAssetReference:
      o.perAssetReference === undefined
        ? {}
        : readMap(o.perAssetReference, `${path}.perAssetReference`, ASSET, (x, p, k) => (assetKey(p, k), readLimits(x, p, refDecimals))),
    total: o.total === undefined ? {} : readLimits(o.total, `${path}.total`, refDecimals),
  };
}

function readRisk(v: unknown, path: string, assets: Policy['assets']): RiskSettings {
  const o = readObject(v, path, ['weights', 'thresholds', 'params', 'dust'], ['thresholds']);
  const weights = { ...DEFAULT_RISK_SETTINGS.weights };
  if (o.weights !== undefined) {
    const w = readObject(o.weights, `${path}.weights`, SIGNAL_NAMES);
    for (const [k, x] of Object.entries(w)) weights[k as SignalName] = readInt(x, `${path}.weights.${k}`, 0, MAX_WEIGHT);
  }
  const t = readObject(o.thresholds, `${path}.thresholds`, ['review', 'block'], ['review', 'block']);
  const review = readInt(t.review, `${path}.thresholds.review`, 1, MAX_WEIGHT);
  const block = readInt(t.block, `${path}.thresholds.block`, 1, MAX_WEIGHT);
  if (block <= review) fail(`${path}.thresholds.block`, 'must be greater than review');
  const params: RiskParams = { ...DEFAULT_RISK_SETTINGS.params };
  if (o.params !== undefined) {
    const bounds: Record<keyof RiskParams, [number, number]> = {
      newDestinationHours: [0, 24 * 365],
      amountMinHistory: [1, 1_000_000],
      amountPercentile: [50, 100],
      amountMedianMultiple: [1, 1_000_000],
      velocityMinCount: [1, 1_000_000],
      velocityMultiple: [1, 1_000_000],
      balanceSharePercent: [1, 100],
      recentChangeHours: [0, 24 * 365],
      lookAlikePrefix: [1, 16],
      lookAlikeSuffix: [1, 16],
    };
    const p = readObject(o.params, `${path}.params`, Object.keys(bounds));
    for (const [k, x] of Object.entries(p)) {
      const [lo, hi] = bounds[k as keyof RiskParams];
      params[k as keyof RiskParams] = readInt(x, `${path}.params.${k}`, lo, hi);
    }
  }
  const dust =
    o.dust === undefined
      ? {}
      : readMap(o.dust, `${path}.dust`, ASSET, (x, p, k) => {
          const a = assets[k];
          if (!a) fail(p, `asset ${k} is not declared in assets`);
          return readAmount(x, p, a.decimals);
        });
  return { weights, thresholds: { review, block }, params, dust };
}

/** Validates a parsed JSON value as a policy document. Throws PolicyInvalidError (code policy_invalid). */
export function parsePolicy(json: unknown): Policy {
  const o = readObject(
    json,
    '$',
    ['version', 'referenceCurrency', 'assets', 'prices', 'risk', 'limits', 'whitelist', 'approvals', 'governance', 'rules'],
    ['version', 'referenceCurrency', 'assets', 'risk', 'approvals', 'governance'],
  );
  const version = readInt(o.version, '$.version', 1, 2 ** 31 - 1);
  const rc = readObject(o.referenceCurrency, '$.referenceCurrency', ['code', 'decimals'], ['code', 'decimals']);
  const referenceCurrency = {
    code: readString(rc.code, '$.referenceCurrency.code', /^[A-Z]{3,8}$/, 'a currency code such as "USD"'),
    decimals: readInt(rc.decimals, '$.referenceCurrency.decimals', 0, 18),
  };
  const rd = referenceCurrency.decimals;
  const assets = readMap(o.assets, '$.assets', ASSET, (x, p) => {
    const a = readObject(x, p, ['chain', 'decimals'], ['chain', 'decimals']);
    return { chain: readEnum(a.chain, `${p}.chain`, CHAINS), decimals: readInt(a.decimals, `${p}.decimals`, 0, 36) };
  }, 1000);

  const pr = o.prices === undefined ? {} : readObject(o.prices, '$.prices', ['maxAgeSeconds']);
  const prices = { maxAgeSeconds: pr.maxAgeSeconds === undefined ? 300 : readInt(pr.maxAgeSeconds, '$.prices.maxAgeSeconds', 1, 86_400) };

  const risk = readRisk(o.risk, '$.risk', assets);

  const lim = o.limits === undefined ? {} : readObject(o.limits, '$.limits', ['default', 'customers']);
  const limits = {
    default: lim.default === undefined ? readLimitSet({}, '$.limits.default', assets, rd) : readLimitSet(lim.default, '$.limits.default', assets, rd),
    customers: lim.customers === undefined ? {} : readMap(lim.customers, '$.limits.customers', NAME, (x, p) => readLimitSet(x, p, assets, rd)),
  };

  const wl = o.whitelist === undefined ? {} : readObject(o.whitelist, '$.whitelist', ['coolingHours', 'mode', 'customers']);
  const modes = ['any', 'whitelisted_only'] as const;
  const whitelist = {
    coolingHours: wl.coolingHours === undefined ? 24 : readInt(wl.coolingHours, '$.whitelist.coolingHours', 0, 24 * 365),
    mode: wl.mode === undefined ? ('any' as const) : readEnum(wl.mode, '$.whitelist.mode', modes),
    customers: wl.customers === undefined ? {} : readMap(wl.customers, '$.whitelist.customers', NAME, (x, p) => readEnum(x, p, modes)),
  };

  const ap = readObject(o.approvals, '$.approvals', ['approvers', 'tiers', 'hsmFromReference', 'expiryHours'], ['approvers', 'tiers']);
  const approvers = readArray(ap.approvers, '$.approvals.approvers', 1000, (x, p) => readString(x, p, NAME, 'an approver id'));
  if (new Set(approvers).size !== approvers.length) fail('$.approvals.approvers', 'lists an approver twice');
  const tiers = readArray(ap.tiers, '$.approvals.tiers', 32, (x, p) => {
    const t = readObject(x, p, ['fromReference', 'quorum'], ['fromReference', 'quorum']);
    return { fromReference: readAmount(t.fromReference, `${p}.fromReference`, rd), quorum: readInt(t.quorum, `${p}.quorum`, 0, 1000) };
  });
  if (tiers.length === 0 || tiers[0]!.fromReference !== 0n) fail('$.approvals.tiers', 'must start with a tier from "0"');
  tiers.forEach((t, i) => {
    const prev = tiers[i - 1];
    if (prev && t.fromReference <= prev.fromReference) fail(`$.approvals.tiers[${i}].fromReference`, 'tiers must be in increasing order');
    if (prev && t.quorum < prev.quorum) fail(`$.approvals.tiers[${i}].quorum`, 'a higher tier cannot need fewer approvals');
    if (t.quorum > approvers.length) fail(`$.approvals.tiers[${i}].quorum`, `needs ${t.quorum} approvals but only ${approvers.length} approvers exist: it would lock every withdrawal of this tier out`);
  });
  const approvals = {
    approvers,
    tiers,
    hsmFromReference: ap.hsmFromReference === undefined ? null : readAmount(ap.hsmFromReference, '$.approvals.hsmFromReference', rd),
    expiryHours: ap.expiryHours === undefined ? 24 : readInt(ap.expiryHours, '$.approvals.expiryHours', 1, 24 * 30),
  };

  const gv = readObject(o.governance, '$.governance', ['quorum', 'admins'], ['quorum', 'admins']);
  const admins = readMap(gv.admins, '$.governance.admins', NAME, (x, p) => hexToBytes(readString(x, p, HEX32, 'a 32-byte Ed25519 public key in lowercase hex')), 1000);
  const adminCount = Object.keys(admins).length;
  const quorum = readInt(gv.quorum, '$.governance.quorum', 1, 1000);
  if (quorum > adminCount - 1) {
    fail('$.governance.quorum', `needs ${quorum} approvers besides the proposer but only ${adminCount} admins exist: no change could ever be approved`);
  }
  const keys = new Set(Object.values(admins).map((k) => Buffer.from(k).toString('hex')));
  if (keys.size !== adminCount) fail('$.governance.admins', 'two admins share one public key');

  const rules = o.rules === undefined ? [] : readConditionalRules(o.rules, '$.rules', assets, rd, approvers.length);

  return { version, referenceCurrency, assets, prices, risk, limits, whitelist, approvals, governance: { quorum, admins }, rules };
}

/** The limits that apply to one customer: the default overridden field by field by the customer's entry. */
export function limitsFor(policy: Policy, customerId: string): LimitSet {
  const d = policy.limits.default;
  const c = Object.hasOwn(policy.limits.customers, customerId) ? policy.limits.customers[customerId] : undefined;
  if (!c) return d;
  const mergeMap = (a: Record<string, Limits>, b: Record<string, Limits>) => {
    const out: Record<string, Limits> = { ...a };
    for (const [k, v] of Object.entries(b)) out[k] = { ...(a[k] ?? {}), ...v };
    return out;
  };
  return {
    perAsset: mergeMap(d.perAsset, c.perAsset),
    perAssetReference: mergeMap(d.perAssetReference, c.perAssetReference),
    total: { ...d.total, ...c.total },
  };
}

export function whitelistModeFor(policy: Policy, customerId: string): WhitelistMode {
  return (Object.hasOwn(policy.whitelist.customers, customerId) ? policy.whitelist.customers[customerId] : undefined) ?? policy.whitelist.mode;
}
