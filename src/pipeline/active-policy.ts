/**
 * The active policy as the pipeline sees it: the highest stored version, parsed once and cached
 * per database handle, reloaded as soon as another version becomes active (each decision checks
 * the active version with one index lookup). A database without any policy gets the starter
 * policy (starter-policy.ts) and the starter price table on first use, audited; its admin keys
 * are generated and discarded, so a starter policy is never changed through governance but
 * replaced once by an operator with `installInitialPolicy` (`custos policy init FILE`).
 *
 * @example
 *   const active = await activePolicy(q);  // { version, policy, document, hash, source }
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { appendAudit } from '../audit/chain.js';
import { CustosError } from '../core/errors.js';
import { policyHash } from '../policy/canonical.js';
import { parsePolicy, type Policy } from '../policy/document.js';
import type { Db, Queryable } from '../store/db.js';
import { getActivePolicyRow, getActivePolicyVersion, getPolicyRow, getPrice, insertPolicyRow, lockPolicies, setPrice, type PolicySource } from '../store/policies.js';
import { STARTER_PRICES, starterPolicyDocument } from './starter-policy.js';

export interface ActivePolicy {
  version: number;
  policy: Policy;
  document: unknown;
  hash: string;
  source: PolicySource;
}

const cache = new WeakMap<object, ActivePolicy>();

/** The active policy; throws policy_missing (503) when none is installed. */
export async function activePolicy(q: Queryable, cacheKey: object = q): Promise<ActivePolicy> {
  const version = await getActivePolicyVersion(q);
  if (version === null) throw new CustosError('policy_missing', 'no policy is installed: nothing can be decided', 503);
  const hit = cache.get(cacheKey);
  if (hit && hit.version === version) return hit;
  const row = await getPolicyRow(q, version);
  if (!row) throw new CustosError('policy_missing', 'the active policy vanished', 503);
  const active: ActivePolicy = { version, policy: parsePolicy(row.document), document: row.document, hash: row.hash, source: row.source };
  cache.set(cacheKey, active);
  return active;
}

/** The policy `activePolicy` last cached for this key (no query), or null; callers re-check its version. */
export function cachedActivePolicy(cacheKey: object): ActivePolicy | null {
  return cache.get(cacheKey) ?? null;
}

/** Installs the starter policy and prices when the database has no policy yet. Returns true when it did. */
const installed = new WeakSet<object>();

export async function ensureStarterPolicy(db: Db, now: number): Promise<boolean> {
  // Policies are never deleted: once one was seen on this handle, no query is needed.
  if (installed.has(db)) return false;
  if ((await getActivePolicyVersion(db)) !== null) {
    installed.add(db);
    return false;
  }
  return db.tx(async (q) => {
    await lockPolicies(q);
    if (await getActivePolicyRow(q)) return false;
    // Admin keys nobody holds: a starter policy is replaced with installInitialPolicy, not governed.
    const admins: Record<string, string> = {};
    for (const id of ['starter-admin-1', 'starter-admin-2', 'starter-admin-3']) admins[id] = bytesToHex(ed25519.getPublicKey(ed25519.utils.randomSecretKey()));
    const document = starterPolicyDocument({ admins });
    parsePolicy(document);
    const hash = policyHash(document);
    await insertPolicyRow(q, { version: 1, document, hash, source: 'starter', activatedAt: now, activatedBy: 'custos' });
    await appendAudit(q, { at: now, actor: 'custos', action: 'policy.installed', subject: 'policy:1', data: { version: 1, hash, source: 'starter' } });
    for (const [asset, refPerUnit] of Object.entries(STARTER_PRICES)) {
      if (await getPrice(q, asset)) continue;
      await setPrice(q, { asset, refCurrency: 'USD', refPerUnit, observedAt: null, source: 'starter' });
      await appendAudit(q, { at: now, actor: 'custos', action: 'price.set', subject: `price:${asset}`, data: { refCurrency: 'USD', refPerUnit: refPerUnit.toString(), source: 'starter' } });
    }
    return true;
  });
}

/**
 * Operator installation of a policy without governance: allowed only while no policy or the
 * starter policy is active (the first real policy, with the operator's own admin keys). Every
 * later change needs the admin quorum (governance.ts).
 */
export async function installInitialPolicy(db: Db, document: unknown, actor: string, now: number): Promise<ActivePolicy> {
  const policy = parsePolicy(document);
  return db.tx(async (q) => {
    await lockPolicies(q);
    const current = await getActivePolicyRow(q);
    if (current && current.source !== 'starter') {
      throw new CustosError('policy_governed', `policy version ${current.version} is governed: propose a change and have it approved by the admins`, 409);
    }
    const version = current ? current.version + 1 : 1;
    if (policy.version !== version) throw new CustosError('policy_version_invalid', `the initial policy must have version ${version}, not ${policy.version}`, 422);
    const hash = policyHash(document);
    await insertPolicyRow(q, { version, document, hash, source: 'init', activatedAt: now, activatedBy: actor });
    await appendAudit(q, { at: now, actor, action: 'policy.installed', subject: `policy:${version}`, data: { version, hash, source: 'init', replaced: current?.version ?? null } });
    return { version, policy, document, hash, source: 'init' as const };
  });
}
