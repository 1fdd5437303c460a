/**
 * An approver's approval key file: JSON naming the approver and holding their Ed25519 secret key
 * (and the public key, checked on reading so a damaged file is noticed before anything is signed).
 * `custos approvers keygen --id ID --out FILE` writes one (mode 0600); `custos approve|reject ID
 * --key FILE` reads it. The server only ever sees the public key.
 *
 * Errors about a key file never quote its content.
 *
 * @example
 *   const { text, publicKey } = newApprovalKeyFile('alice', ed25519.utils.randomSecretKey());
 *   const key = parseApprovalKeyFile(text); // { approver: 'alice', secretKey, publicKey }
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { CustosError } from '../core/errors.js';
import { APPROVER_ID } from './registry.js';

export const APPROVAL_KEY_FILE_TYPE = 'custos-approval-key/v1';

export interface ApproverSigningKey {
  readonly approver: string;
  readonly secretKey: Uint8Array;
  readonly publicKey: string;
}

/** The file text for `approver` and a 32-byte secret key (the caller draws it from a CSPRNG). */
export function newApprovalKeyFile(approver: string, secretKey: Uint8Array): { text: string; publicKey: string } {
  if (!APPROVER_ID.test(approver)) throw new CustosError('approver_id_invalid', 'an approver id is 1 to 128 of A–Z a–z 0–9 _ . : -', 400);
  if (secretKey.length !== 32) throw new CustosError('approval_key_invalid', 'an approval secret key is 32 bytes', 400);
  const publicKey = bytesToHex(ed25519.getPublicKey(secretKey));
  const text = `${JSON.stringify({ type: APPROVAL_KEY_FILE_TYPE, approver, publicKey, secretKey: bytesToHex(secretKey) }, null, 2)}\n`;
  return { text, publicKey };
}

export function parseApprovalKeyFile(text: string): ApproverSigningKey {
  const bad = (why: string) => new CustosError('approval_key_file_invalid', `not a custos approval key file: ${why}`, 400);
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw bad('not JSON');
  }
  if (typeof o !== 'object' || o === null || o.type !== APPROVAL_KEY_FILE_TYPE) throw bad(`type is not ${APPROVAL_KEY_FILE_TYPE}`);
  if (typeof o.approver !== 'string' || !APPROVER_ID.test(o.approver)) throw bad('approver');
  if (typeof o.secretKey !== 'string' || !/^[0-9a-f]{64}$/.test(o.secretKey)) throw bad('secretKey must be 64 lowercase hex characters');
  const secretKey = hexToBytes(o.secretKey);
  const publicKey = bytesToHex(ed25519.getPublicKey(secretKey));
  if (o.publicKey !== publicKey) throw bad('publicKey does not match the secret key (damaged file?)');
  return { approver: o.approver, secretKey, publicKey };
}
