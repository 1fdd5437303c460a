/**
 * Single use of signing nonces across restarts. A round-1 signing state can be serialised (the node
 * seals it), so a copy restored twice could sign two different inboxes with one nonce pair, which
 * leaks the share. Passing a `NonceLedger` to `startSign` / `restoreSign` closes that hole: before
 * a share is computed the round consumes the nonce pair's public id, and a second consumption is
 * refused. A signing node backs the ledger with its durable store (insert-if-absent, committed
 * before the share is sent); the in-memory ledger here is for one process.
 *
 * @example
 *   const ledger = memoryNonceLedger();
 *   const res = startSign({ ...params, rng, nonceLedger: ledger });
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, concatBytes } from '@noble/hashes/utils.js';

export interface NonceLedger {
  /** Records `nonceId` as used; returns false if it was already recorded. Must be atomic. */
  consume(nonceId: string): boolean;
}

/** The public id of a nonce pair: SHA-256 of its commitments D || E (hex). */
export function nonceId(D: Uint8Array, E: Uint8Array): string {
  return bytesToHex(sha256(concatBytes(D, E)));
}

/** A ledger in this process's memory (tests, the single-process demo). */
export function memoryNonceLedger(): NonceLedger {
  const used = new Set<string>();
  return {
    consume(id) {
      if (used.has(id)) return false;
      used.add(id);
      return true;
    },
  };
}
