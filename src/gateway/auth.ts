/**
 * Authenticates a signed request: fresh timestamp (±30 s), known and unrevoked credential,
 * valid Ed25519 signature over the canonical request, unseen nonce, required scope. The nonce is
 * recorded only after the signature verifies, so nobody can burn another client's nonces.
 *
 * @example
 *   const auth = createAuthenticator({ db, clock });
 *   const principal = await auth.authenticate({ method, path, headers, body }, 'withdraw');
 */
import type { KeyObject } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import { CustosError } from '../core/errors.js';
import { Batcher } from '../core/batcher.js';
import { consumeRequestNonces, getCredential, type Credential, type Scope } from '../store/credentials.js';
import type { Queryable } from '../store/db.js';
import { HEADER, MAX_CLOCK_SKEW_MS, NONCE_PATTERN, publicKeyFromRaw, verifyRequestParts } from './signature.js';

export interface Principal {
  credentialId: string;
  customerId: string;
  scopes: Scope[];
  tier: string;
}

export interface SignedRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: Uint8Array;
}

interface CacheEntry {
  credential: Credential;
  key: KeyObject;
  fetchedAt: number;
}

export interface Authenticator {
  /**
   * `gate` runs once the signature verified and the scope matched, before the nonce is recorded
   * (the rate limiter: a refused request then costs no database write).
   */
  authenticate(req: SignedRequest, scope: Scope, gate?: (p: Principal) => Promise<void>): Promise<Principal>;
  /** Drops a cached credential (after revocation on this instance). */
  forget(credentialId: string): void;
}

/** Credentials are cached this long; a revocation reaches other gateway instances within it. */
export const CREDENTIAL_CACHE_MS = 5_000;
const CREDENTIAL_ID = /^cred_[A-Za-z0-9_-]{8,64}$/;

export function createAuthenticator(opts: { db: Queryable; clock: Clock; cacheMs?: number }): Authenticator {
  const cache = new Map<string, CacheEntry>();
  const cacheMs = opts.cacheMs ?? CREDENTIAL_CACHE_MS;
  // Concurrent requests record their nonces in one INSERT (each still learns whether its own was fresh).
  const nonces = new Batcher<{ credentialId: string; nonce: string; expiresAt: number }, boolean>(
    async (items) => (await consumeRequestNonces(opts.db, items)).map((value) => ({ ok: true, value })),
    { maxBatch: 256, maxInFlight: 2 },
  );

  async function lookup(id: string, now: number): Promise<CacheEntry | null> {
    const hit = cache.get(id);
    if (hit && now - hit.fetchedAt < cacheMs && now >= hit.fetchedAt) return hit;
    const credential = await getCredential(opts.db, id);
    if (!credential) {
      cache.delete(id);
      return null;
    }
    const entry = { credential, key: publicKeyFromRaw(credential.publicKey), fetchedAt: now };
    if (cache.size > 100_000) cache.clear();
    cache.set(id, entry);
    return entry;
  }

  return {
    forget(id) {
      cache.delete(id);
    },
    async authenticate(req, scope, gate) {
      const h = (name: string) => {
        const v = req.headers[name];
        return Array.isArray(v) ? undefined : v;
      };
      const credentialId = h(HEADER.credential);
      const ts = h(HEADER.timestamp);
      const nonce = h(HEADER.nonce);
      const signature = h(HEADER.signature);
      if (!credentialId || !ts || !nonce || !signature) {
        throw new CustosError('auth_missing', 'signed requests need X-Custos-Credential, X-Custos-Timestamp, X-Custos-Nonce and X-Custos-Signature', 401);
      }
      if (!CREDENTIAL_ID.test(credentialId)) throw new CustosError('credential_invalid', 'unknown or revoked credential', 401);
      if (!/^[0-9]{1,16}$/.test(ts)) throw new CustosError('timestamp_invalid', 'X-Custos-Timestamp must be milliseconds since the Unix epoch', 401);
      if (!NONCE_PATTERN.test(nonce)) throw new CustosError('nonce_invalid', 'X-Custos-Nonce must be 16–64 base64url characters', 401);
      const now = opts.clock.now();
      const timestamp = Number(ts);
      if (Math.abs(now - timestamp) > MAX_CLOCK_SKEW_MS) {
        throw new CustosError('signature_expired', 'the request timestamp is more than 30 s from the server clock', 401);
      }
      const entry = await lookup(credentialId, now);
      if (!entry || entry.credential.revokedAt !== null) throw new CustosError('credential_invalid', 'unknown or revoked credential', 401);
      const idem = h(HEADER.idempotencyKey);
      const ok = verifyRequestParts(entry.key, { method: req.method, path: req.path, body: req.body, timestamp, nonce, idempotencyKey: idem }, signature);
      if (!ok) throw new CustosError('signature_invalid', 'the request signature does not verify', 401);
      if (!entry.credential.scopes.includes(scope)) {
        throw new CustosError('scope_missing', `this credential lacks the '${scope}' scope`, 403);
      }
      const principal = { credentialId, customerId: entry.credential.customerId, scopes: entry.credential.scopes, tier: entry.credential.tier };
      if (gate) await gate(principal);
      // Kept well past the freshness window so a nonce can never be used twice.
      const fresh = await nonces.submit({ credentialId, nonce, expiresAt: timestamp + 4 * MAX_CLOCK_SKEW_MS });
      if (!fresh) throw new CustosError('request_replayed', 'this request nonce was already used', 401);
      return principal;
    },
  };
}
