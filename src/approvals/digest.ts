/**
 * The canonical digest of a withdrawal that approvals and HSM approval tokens bind to: SHA-256
 * over a domain line and the canonical JSON (sorted keys, amounts as decimal strings) of the
 * fields that decide where money goes. Another withdrawal, amount, destination or fee gives
 * another digest, so an approval cannot be replayed onto it.
 *
 * @example
 *   withdrawalDigest(w) // '3f1c…' (64 lowercase hex)
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import { canonicalJson } from '../policy/canonical.js';

export const WITHDRAWAL_DIGEST_DOMAIN = 'custos/withdrawal/v1\n';

/** The fields of a withdrawal the digest covers (a WithdrawalRecord has them all). */
export interface WithdrawalDigestFields {
  readonly id: string;
  readonly customerId: string;
  readonly chain: string;
  readonly asset: string;
  readonly to: string;
  readonly amount: bigint | null;
  readonly fee: bigint | null;
  readonly memo: string | null;
  readonly createdAt: number;
}

export function withdrawalDigest(w: WithdrawalDigestFields): string {
  const body = canonicalJson({
    id: w.id,
    customerId: w.customerId,
    chain: w.chain,
    asset: w.asset,
    to: w.to,
    amount: w.amount === null ? null : w.amount.toString(),
    fee: w.fee === null ? null : w.fee.toString(),
    memo: w.memo,
    createdAt: w.createdAt,
  });
  return bytesToHex(sha256(utf8ToBytes(WITHDRAWAL_DIGEST_DOMAIN + body)));
}
