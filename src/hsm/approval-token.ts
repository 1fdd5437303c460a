/**
 * HSM approval tokens for high-value withdrawals. Once the approvals quorum is met, the HSM's
 * approval key signs a canonical payload: the withdrawal id and digest, asset, amount, destination,
 * policy version, the approvers and a validity window. MPC nodes pin the approval public key(s)
 * and refuse a high-value withdrawal without a token that verifies for exactly that withdrawal.
 *
 * Canonical bytes: the ASCII line `custos approval token v1\n` followed by a JSON array of the fields
 * in a fixed order, the amount as a decimal string, approvers sorted (duplicates refused). Ed25519
 * signs those bytes; ECDSA secp256k1 signs their SHA-256 (low S only).
 *
 * @example
 *   const token = await signApproval(hsm, 'approval', 'ed25519', payload);
 *   const wire = encodeApprovalToken(token);
 *   const ok = verifyApproval(decodeApprovalToken(wire), { trustedKeys: [{ algorithm: 'ed25519', publicKey }], now: clock.now(),
 *     expected: { withdrawalId: w.id, withdrawalDigest, amount: w.amount, destination: w.destination } });
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { CustosError } from '../core/errors.js';
import type { Hsm } from './hsm.js';
import { verifySecp256k1Digest } from './secp256k1-signature.js';

export type ApprovalAlgorithm = 'ed25519' | 'ecdsa-secp256k1-sha256';

export interface ApprovalPayload {
  withdrawalId: string;
  /** SHA-256 of the withdrawal as the approvals module canonicalises it, 64 lowercase hex digits. */
  withdrawalDigest: string;
  asset: string;
  /** Base units. */
  amount: bigint;
  destination: string;
  policyVersion: number;
  /** Ids of the approvers who formed the quorum. */
  approvers: string[];
  /** Milliseconds since the Unix epoch. */
  issuedAt: number;
  expiresAt: number;
}

export interface ApprovalToken {
  v: 1;
  algorithm: ApprovalAlgorithm;
  /** First 16 bytes of SHA-256 of the signer's public key, hex: which pinned key to check against. */
  keyId: string;
  payload: ApprovalPayload;
  signature: Uint8Array;
}

export interface ApprovalKey {
  algorithm: ApprovalAlgorithm;
  /** Ed25519: 32 bytes; secp256k1: 33 or 65 bytes. */
  publicKey: Uint8Array;
}

const DOMAIN = 'custos approval token v1\n';
const MAX_WIRE = 16 * 1024;
const MAX_APPROVERS = 32;
/** A token is a short-lived authorisation: at most 24 hours. */
export const MAX_APPROVAL_LIFETIME_MS = 24 * 60 * 60 * 1000;

function malformed(why: string): CustosError {
  return new CustosError('approval_malformed', `malformed approval token: ${why}`, 400);
}

const TEXT = /^[\x20-\x7e]{1,256}$/;

/** Checks every field; returns the payload with approvers in canonical order. */
export function canonicalPayload(p: ApprovalPayload): ApprovalPayload {
  if (typeof p !== 'object' || p === null) throw malformed('payload is not an object');
  for (const f of ['withdrawalId', 'asset', 'destination'] as const) {
    if (typeof p[f] !== 'string' || !TEXT.test(p[f])) throw malformed(`${f} must be 1 to 256 printable ASCII characters`);
  }
  if (typeof p.withdrawalDigest !== 'string' || !/^[0-9a-f]{64}$/.test(p.withdrawalDigest)) throw malformed('withdrawalDigest must be 64 lowercase hex digits');
  if (typeof p.amount !== 'bigint' || p.amount <= 0n || p.amount >= 2n ** 256n) throw malformed('amount must be a positive bigint below 2^256');
  if (!Number.isSafeInteger(p.policyVersion) || p.policyVersion < 1) throw malformed('policyVersion must be a positive integer');
  if (!Number.isSafeInteger(p.issuedAt) || !Number.isSafeInteger(p.expiresAt) || p.issuedAt < 0) throw malformed('issuedAt and expiresAt must be integer milliseconds');
  if (p.expiresAt <= p.issuedAt || p.expiresAt - p.issuedAt > MAX_APPROVAL_LIFETIME_MS) throw malformed('the validity window must be positive and at most 24 hours');
  if (!Array.isArray(p.approvers) || p.approvers.length === 0 || p.approvers.length > MAX_APPROVERS) throw malformed(`approvers must list 1 to ${MAX_APPROVERS} ids`);
  for (const a of p.approvers) if (typeof a !== 'string' || !TEXT.test(a)) throw malformed('each approver id is 1 to 256 printable ASCII characters');
  const approvers = [...p.approvers].sort();
  for (let i = 1; i < approvers.length; i++) if (approvers[i] === approvers[i - 1]) throw malformed('an approver is listed twice');
  return { ...p, approvers };
}

/** The exact bytes that are signed. */
export function approvalSigningBytes(payload: ApprovalPayload): Uint8Array {
  const p = canonicalPayload(payload);
  const body = JSON.stringify([
    p.withdrawalId,
    p.withdrawalDigest,
    p.asset,
    p.amount.toString(10),
    p.destination,
    p.policyVersion,
    p.approvers,
    p.issuedAt,
    p.expiresAt,
  ]);
  return new TextEncoder().encode(DOMAIN + body);
}

export function approvalKeyId(publicKey: Uint8Array): string {
  return Buffer.from(sha256(publicKey).subarray(0, 16)).toString('hex');
}

/** Has the HSM key `keyLabel` sign the payload. */
export async function signApproval(hsm: Hsm, keyLabel: string, algorithm: ApprovalAlgorithm, payload: ApprovalPayload): Promise<ApprovalToken> {
  const canonical = canonicalPayload(payload);
  const bytes = approvalSigningBytes(canonical);
  if (algorithm === 'ed25519') {
    const publicKey = await hsm.publicKey(keyLabel);
    const signature = await hsm.signEd25519(keyLabel, bytes);
    return { v: 1, algorithm, keyId: approvalKeyId(publicKey), payload: canonical, signature };
  }
  if (algorithm === 'ecdsa-secp256k1-sha256') {
    const publicKey = await hsm.publicKey(keyLabel, 'compressed');
    const { signature } = await hsm.signSecp256k1Digest(keyLabel, sha256(bytes));
    return { v: 1, algorithm, keyId: approvalKeyId(publicKey), payload: canonical, signature };
  }
  throw new CustosError('approval_algorithm_unsupported', 'unknown approval algorithm', 400);
}

export interface VerifyApprovalOptions {
  /** Pinned approval keys (several during a rotation). */
  trustedKeys: ApprovalKey[];
  /** clock.now() */
  now: number;
  /** Fields the verifier knows independently; each present one must match exactly. */
  expected?: Partial<Pick<ApprovalPayload, 'withdrawalId' | 'withdrawalDigest' | 'asset' | 'amount' | 'destination' | 'policyVersion'>>;
  /** Tolerated clock skew for issuedAt in the future (default 60 s). */
  skewMs?: number;
}

function keyIdOf(key: ApprovalKey): string {
  if (key.algorithm === 'ecdsa-secp256k1-sha256' && key.publicKey.length === 65) {
    // ids are taken over the compressed point, whichever form was pinned
    const prefix = ((key.publicKey[64] as number) & 1) === 1 ? 3 : 2;
    const c = new Uint8Array(33);
    c[0] = prefix;
    c.set(key.publicKey.subarray(1, 33), 1);
    return approvalKeyId(c);
  }
  return approvalKeyId(key.publicKey);
}

/**
 * Verifies a token: structure, a pinned key of the stated algorithm, the signature, the validity
 * window at `now`, and the expected withdrawal fields. Returns the payload or throws a CustosError
 * with code approval_malformed | approval_unknown_key | approval_signature_invalid |
 * approval_not_yet_valid | approval_expired | approval_mismatch.
 */
export function verifyApproval(token: ApprovalToken, options: VerifyApprovalOptions): ApprovalPayload {
  if (typeof token !== 'object' || token === null || token.v !== 1) throw malformed('unknown version');
  if (token.algorithm !== 'ed25519' && token.algorithm !== 'ecdsa-secp256k1-sha256') throw malformed('unknown algorithm');
  if (!(token.signature instanceof Uint8Array) || token.signature.length !== 64) throw malformed('the signature is not 64 bytes');
  const bytes = approvalSigningBytes(token.payload);
  const payload = canonicalPayload(token.payload);
  const key = options.trustedKeys.find((k) => k.algorithm === token.algorithm && keyIdOf(k) === token.keyId);
  if (!key) throw new CustosError('approval_unknown_key', 'the approval token is not signed by a pinned approval key', 403);
  let valid = false;
  try {
    valid =
      token.algorithm === 'ed25519'
        ? ed25519.verify(token.signature, bytes, key.publicKey)
        : verifySecp256k1Digest(token.signature, sha256(bytes), key.publicKey);
  } catch {
    valid = false;
  }
  if (!valid) throw new CustosError('approval_signature_invalid', 'the approval token signature does not verify', 403);
  const skew = options.skewMs ?? 60_000;
  if (options.now + skew < payload.issuedAt) throw new CustosError('approval_not_yet_valid', 'the approval token is not valid yet', 403);
  if (options.now >= payload.expiresAt) throw new CustosError('approval_expired', 'the approval token has expired', 403);
  const e = options.expected ?? {};
  for (const f of ['withdrawalId', 'withdrawalDigest', 'asset', 'amount', 'destination', 'policyVersion'] as const) {
    if (e[f] !== undefined && e[f] !== payload[f]) {
      throw new CustosError('approval_mismatch', `the approval token is for another ${f}`, 403, { field: f });
    }
  }
  return payload;
}

/** JSON for the wire: amount as a decimal string, signature base64url. */
export function encodeApprovalToken(token: ApprovalToken): string {
  return JSON.stringify({
    v: token.v,
    algorithm: token.algorithm,
    keyId: token.keyId,
    payload: { ...token.payload, amount: token.payload.amount.toString(10) },
    signature: Buffer.from(token.signature).toString('base64url'),
  });
}

/** Parses the wire form strictly (size, types, no extra fields); verification is separate. */
export function decodeApprovalToken(text: string): ApprovalToken {
  if (typeof text !== 'string' || text.length > MAX_WIRE) throw malformed(`larger than ${MAX_WIRE} bytes`);
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw malformed('not JSON');
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw malformed('not an object');
  const keys = Object.keys(o).sort().join(',');
  if (keys !== 'algorithm,keyId,payload,signature,v') throw malformed('unexpected fields');
  const p = o.payload as Record<string, unknown>;
  if (typeof p !== 'object' || p === null) throw malformed('payload is not an object');
  const pk = Object.keys(p).sort().join(',');
  if (pk !== 'amount,approvers,asset,destination,expiresAt,issuedAt,policyVersion,withdrawalDigest,withdrawalId') throw malformed('unexpected payload fields');
  if (typeof p.amount !== 'string' || !/^[1-9][0-9]{0,77}$/.test(p.amount)) throw malformed('amount must be a decimal string');
  if (typeof o.keyId !== 'string' || !/^[0-9a-f]{32}$/.test(o.keyId)) throw malformed('keyId');
  if (typeof o.signature !== 'string' || !/^[A-Za-z0-9_-]{86}$/.test(o.signature)) throw malformed('signature');
  const token: ApprovalToken = {
    v: o.v as 1,
    algorithm: o.algorithm as ApprovalAlgorithm,
    keyId: o.keyId,
    payload: { ...(p as unknown as ApprovalPayload), amount: BigInt(p.amount) },
    signature: new Uint8Array(Buffer.from(o.signature, 'base64url')),
  };
  if (token.v !== 1 || (token.algorithm !== 'ed25519' && token.algorithm !== 'ecdsa-secp256k1-sha256')) throw malformed('version or algorithm');
  canonicalPayload(token.payload);
  return token;
}
