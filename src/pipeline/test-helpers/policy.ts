/**
 * For tests of the intake spine (nonces, idempotency, crash safety) that are not about risk:
 * installs, over the starter policy, a policy whose risk thresholds no score reaches and without
 * conditional rules, so withdrawals are decided by stage 1, the caps and the approval tiers only
 * (a sanctions hit still blocks: that never depends on the score).
 *
 * @example
 *   await seedStarter(db, { customerId: 'acme' });
 *   await installIntakeOnlyPolicy(db);
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import type { Db } from '../../store/db.js';
import { ensureStarterPolicy, installInitialPolicy, type ActivePolicy } from '../active-policy.js';
import { starterPolicyDocument } from '../starter-policy.js';

export function testAdmins(n = 3): { admins: Record<string, string>; secrets: Record<string, Uint8Array> } {
  const admins: Record<string, string> = {};
  const secrets: Record<string, Uint8Array> = {};
  for (let i = 1; i <= n; i++) {
    const sk = ed25519.utils.randomSecretKey();
    admins[`admin-${i}`] = bytesToHex(ed25519.getPublicKey(sk));
    secrets[`admin-${i}`] = sk;
  }
  return { admins, secrets };
}

export async function installIntakeOnlyPolicy(db: Db, now = Date.now()): Promise<ActivePolicy> {
  await ensureStarterPolicy(db, now);
  const doc = starterPolicyDocument({ admins: testAdmins().admins, version: 2 });
  doc.risk = { thresholds: { review: 999_999, block: 1_000_000 } };
  doc.rules = [];
  return installInitialPolicy(db, doc, 'test', now);
}
