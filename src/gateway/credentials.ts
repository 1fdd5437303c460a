/**
 * Creating and revoking API credentials, each with its audit entry in the same transaction.
 * The private key is returned once and never stored.
 *
 * @example
 *   const { credentialId, privateKey } = await createCredential(db, { customerId: 'acme', scopes: ['withdraw', 'read'] });
 */
import { randomBytes } from 'node:crypto';
import { appendAudit } from '../audit/chain.js';
import { systemClock, type Clock } from '../core/clock.js';
import { CustosError } from '../core/errors.js';
import { SCOPES, insertCredential, revokeCredential as revokeRow, type Scope } from '../store/credentials.js';
import { getCustomer } from '../store/customers.js';
import type { Db } from '../store/db.js';
import { generateCredentialKey } from './signature.js';

export function parseScopes(text: string): Scope[] {
  const scopes = [...new Set(text.split(',').map((s) => s.trim()).filter(Boolean))];
  if (scopes.length === 0) throw new CustosError('scopes_invalid', `give at least one scope of ${SCOPES.join(', ')}`, 400);
  for (const s of scopes) {
    if (!(SCOPES as readonly string[]).includes(s)) throw new CustosError('scopes_invalid', `unknown scope '${s}'; scopes are ${SCOPES.join(', ')}`, 400);
  }
  return scopes as Scope[];
}

export async function createCredential(
  db: Db,
  opts: { customerId: string; scopes: Scope[]; tier?: string; label?: string; actor?: string },
  clock: Clock = systemClock,
): Promise<{ credentialId: string; privateKey: string; publicKey: string }> {
  const { privateKey, publicKey } = generateCredentialKey();
  const credentialId = `cred_${randomBytes(12).toString('base64url')}`;
  await db.tx(async (q) => {
    if (!(await getCustomer(q, opts.customerId))) throw new CustosError('customer_unknown', `no customer ${opts.customerId}`, 404);
    await insertCredential(q, { id: credentialId, customerId: opts.customerId, publicKey, scopes: opts.scopes, tier: opts.tier, label: opts.label });
    await appendAudit(q, {
      at: clock.now(),
      actor: opts.actor ?? 'operator',
      action: 'credential.created',
      subject: `credential:${credentialId}`,
      data: { customer: opts.customerId, scopes: opts.scopes, tier: opts.tier ?? 'standard', publicKey: Buffer.from(publicKey).toString('base64url') },
    });
  });
  return { credentialId, privateKey, publicKey: Buffer.from(publicKey).toString('base64url') };
}

export async function revokeCredential(db: Db, credentialId: string, opts: { actor?: string } = {}, clock: Clock = systemClock): Promise<void> {
  await db.tx(async (q) => {
    const now = clock.now();
    if (!(await revokeRow(q, credentialId, now))) {
      throw new CustosError('credential_not_found', `no active credential ${credentialId}`, 404);
    }
    await appendAudit(q, { at: now, actor: opts.actor ?? 'operator', action: 'credential.revoked', subject: `credential:${credentialId}`, data: {} });
  });
}
