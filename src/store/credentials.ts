/**
 * API credentials: the server keeps only Ed25519 public keys, scopes and revocation state.
 *
 * @example
 *   await insertCredential(q, { id, customerId: 'acme', publicKey, scopes: ['withdraw', 'read'] });
 */
import type { Queryable } from './db.js';

export const SCOPES = ['withdraw', 'read', 'approve', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

export interface Credential {
  id: string;
  customerId: string;
  publicKey: Uint8Array;
  scopes: Scope[];
  tier: string;
  label: string;
  createdAt: number;
  revokedAt: number | null;
}

export async function insertCredential(
  q: Queryable,
  c: Pick<Credential, 'id' | 'customerId' | 'publicKey' | 'scopes'> & { tier?: string; label?: string },
): Promise<void> {
  await q.query('INSERT INTO credentials (id, customer_id, public_key, scopes, tier, label) VALUES ($1, $2, $3, $4, $5, $6)', [
    c.id,
    c.customerId,
    Buffer.from(c.publicKey),
    c.scopes,
    c.tier ?? 'standard',
    c.label ?? '',
  ]);
}

interface Row {
  id: string;
  customer_id: string;
  public_key: Uint8Array;
  scopes: Scope[];
  tier: string;
  label: string;
  created_at: Date | string;
  revoked_at: Date | string | null;
}
const toCredential = (r: Row): Credential => ({
  id: r.id,
  customerId: r.customer_id,
  publicKey: new Uint8Array(r.public_key),
  scopes: r.scopes,
  tier: r.tier,
  label: r.label,
  createdAt: new Date(r.created_at).getTime(),
  revokedAt: r.revoked_at === null ? null : new Date(r.revoked_at).getTime(),
});

export async function getCredential(q: Queryable, id: string): Promise<Credential | null> {
  const [r] = await q.query<Row>('SELECT * FROM credentials WHERE id = $1', [id]);
  return r ? toCredential(r) : null;
}

export async function listCredentials(q: Queryable, customerId?: string): Promise<Credential[]> {
  const rows = customerId
    ? await q.query<Row>('SELECT * FROM credentials WHERE customer_id = $1 ORDER BY created_at, id', [customerId])
    : await q.query<Row>('SELECT * FROM credentials ORDER BY created_at, id');
  return rows.map(toCredential);
}

/** Marks a credential revoked; returns false when it does not exist or was already revoked. */
export async function revokeCredential(q: Queryable, id: string, at: number): Promise<boolean> {
  const rows = await q.query('UPDATE credentials SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL RETURNING id', [
    id,
    new Date(at).toISOString(),
  ]);
  return rows.length === 1;
}

/**
 * Records several nonces in one statement; for each, true when it was fresh. A nonce repeated
 * within the batch is fresh only at its first occurrence.
 */
export async function consumeRequestNonces(
  q: Queryable,
  items: readonly { credentialId: string; nonce: string; expiresAt: number }[],
): Promise<boolean[]> {
  if (items.length === 0) return [];
  const rows = await q.query<{ credential_id: string; nonce: string }>(
    `INSERT INTO request_nonces (credential_id, nonce, expires_at)
       SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[])
     ON CONFLICT DO NOTHING RETURNING credential_id, nonce`,
    [items.map((i) => i.credentialId), items.map((i) => i.nonce), items.map((i) => new Date(i.expiresAt).toISOString())],
  );
  const fresh = new Set(rows.map((r) => JSON.stringify([r.credential_id, r.nonce])));
  return items.map((i) => fresh.delete(JSON.stringify([i.credentialId, i.nonce])));
}

export async function purgeRequestNonces(q: Queryable, now: number): Promise<number> {
  const rows = await q.query('DELETE FROM request_nonces WHERE expires_at < $1 RETURNING 1', [new Date(now).toISOString()]);
  return rows.length;
}
