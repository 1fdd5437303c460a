/**
 * Key generation recorded in the audit log, fail closed: `key.generation_started` is written
 * before any node is asked (no database, no key), then `key.generated` with the group public key,
 * or `key.generation_failed` with the reason's code.
 *
 * @example
 *   const key = await auditedKeygen(db, coordinator, { scheme: 'ecdsa', threshold: 3, parties }, 'operator:cli');
 */
import { randomBytes } from 'node:crypto';
import { bytesToHex } from '@noble/hashes/utils.js';
import { appendAudit } from '../../audit/chain.js';
import type { Db } from '../../store/db.js';
import type { Coordinator, KeyInfo } from './coordinator.js';

export interface KeygenRequest {
  readonly scheme: 'ed25519' | 'schnorr' | 'ecdsa';
  readonly threshold: number;
  readonly parties?: readonly string[];
  readonly keyId?: string;
}

export async function auditedKeygen(db: Db, coordinator: Pick<Coordinator, 'keygen'>, p: KeygenRequest, actor: string, now: () => number = Date.now): Promise<KeyInfo> {
  const keyId = p.keyId ?? `${p.scheme}-${bytesToHex(randomBytes(6))}`;
  const subject = `key:${keyId}`;
  const request = { scheme: p.scheme, threshold: p.threshold, parties: p.parties ?? null };
  await db.tx((q) => appendAudit(q, { at: now(), actor, action: 'key.generation_started', subject, data: request }));
  let key: KeyInfo;
  try {
    key = await coordinator.keygen({ ...p, keyId });
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    await db.tx((q) => appendAudit(q, { at: now(), actor, action: 'key.generation_failed', subject, data: { ...request, code: typeof code === 'string' ? code : 'error' } }));
    throw err;
  }
  await db.tx((q) =>
    appendAudit(q, {
      at: now(), actor, action: 'key.generated', subject,
      data: { ...request, parties: key.parties, publicKey: key.publicKey, generation: key.generation, suite: key.suite },
    }),
  );
  return key;
}
