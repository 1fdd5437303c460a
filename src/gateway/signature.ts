/**
 * Request signatures for API credentials (Ed25519; the server keeps only public keys).
 *
 * A request is signed over a canonical string binding the method, the path with its query, the
 * SHA-256 of the exact body bytes, the timestamp, a unique nonce and the Idempotency-Key:
 *
 *   custos-request-v1\nPOST\n/v1/withdrawals\n1732417200000\n<nonce>\n<sha256 hex of body>\n<idempotency key or empty>
 *
 * Headers: X-Custos-Credential, X-Custos-Timestamp (ms), X-Custos-Nonce, X-Custos-Signature
 * (base64url). Servers refuse timestamps more than 30 s away and nonces already seen.
 * Pure and shared by the server and the client SDK; uses node's native Ed25519.
 *
 * @example
 *   const headers = signRequest(privateKey, { method: 'GET', path: '/v1/withdrawals', body: new Uint8Array(), timestamp: Date.now(), nonce: newNonce(), credentialId });
 */
import { createHash, createPrivateKey, createPublicKey, randomBytes, sign, verify, type KeyObject } from 'node:crypto';

export const HEADER = {
  credential: 'x-custos-credential',
  timestamp: 'x-custos-timestamp',
  nonce: 'x-custos-nonce',
  signature: 'x-custos-signature',
  idempotencyKey: 'idempotency-key',
} as const;

export const MAX_CLOCK_SKEW_MS = 30_000;
export const NONCE_PATTERN = /^[A-Za-z0-9_-]{16,64}$/;
const PRIVATE_KEY_PREFIX = 'csk1_';
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

export interface RequestParts {
  method: string;
  path: string; // path and query exactly as sent
  body: Uint8Array;
  timestamp: number;
  nonce: string;
  idempotencyKey?: string | undefined;
}

export function canonicalRequest(p: RequestParts): string {
  const bodyHash = createHash('sha256').update(p.body).digest('hex');
  return ['custos-request-v1', p.method.toUpperCase(), p.path, String(p.timestamp), p.nonce, bodyHash, p.idempotencyKey ?? ''].join('\n');
}

export function newNonce(): string {
  return randomBytes(18).toString('base64url');
}

/** A new credential key pair: the private key as text (shown once), the raw 32-byte public key. */
export function generateCredentialKey(): { privateKey: string; publicKey: Uint8Array } {
  const seed = randomBytes(32);
  const key = privateKeyFromSeed(seed);
  const publicKey = rawPublicKey(createPublicKey(key));
  return { privateKey: PRIVATE_KEY_PREFIX + seed.toString('base64url'), publicKey };
}

export function parsePrivateKey(text: string): KeyObject {
  if (!text.startsWith(PRIVATE_KEY_PREFIX)) throw new Error('not a custos credential private key (expected csk1_…)');
  const seed = Buffer.from(text.slice(PRIVATE_KEY_PREFIX.length), 'base64url');
  if (seed.length !== 32) throw new Error('credential private key has the wrong length');
  return privateKeyFromSeed(seed);
}

function privateKeyFromSeed(seed: Uint8Array): KeyObject {
  return createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' });
}

export function publicKeyFromRaw(raw: Uint8Array): KeyObject {
  if (raw.length !== 32) throw new Error('an Ed25519 public key is 32 bytes');
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(raw).toString('base64url') }, format: 'jwk' });
}

export function rawPublicKey(key: KeyObject): Uint8Array {
  const jwk = key.export({ format: 'jwk' });
  return new Uint8Array(Buffer.from(String(jwk.x), 'base64url'));
}

export function signRequestParts(privateKey: KeyObject, p: RequestParts): string {
  return sign(null, Buffer.from(canonicalRequest(p)), privateKey).toString('base64url');
}

export function verifyRequestParts(publicKey: KeyObject, p: RequestParts, signature: string): boolean {
  const sig = Buffer.from(signature, 'base64url');
  if (sig.length !== 64) return false;
  return verify(null, Buffer.from(canonicalRequest(p)), publicKey, sig);
}

/** The four signature headers (plus Idempotency-Key when given) for one request. */
export function signRequest(
  privateKey: KeyObject,
  credentialId: string,
  p: Omit<RequestParts, 'timestamp' | 'nonce'> & { timestamp?: number; nonce?: string },
): Record<string, string> {
  const parts: RequestParts = { ...p, timestamp: p.timestamp ?? Date.now(), nonce: p.nonce ?? newNonce() };
  const headers: Record<string, string> = {
    [HEADER.credential]: credentialId,
    [HEADER.timestamp]: String(parts.timestamp),
    [HEADER.nonce]: parts.nonce,
    [HEADER.signature]: signRequestParts(privateKey, parts),
  };
  if (p.idempotencyKey !== undefined) headers[HEADER.idempotencyKey] = p.idempotencyKey;
  return headers;
}
