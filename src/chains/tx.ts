/**
 * The shape every chain's transaction module shares (ethereum/tx.ts, bitcoin/tx.ts, solana/tx.ts).
 * Chains hold no keys: the coordinator builds an `UnsignedTx`, every signing node parses it itself
 * (`parseUnsigned`), checks it against its authorization (`verifyMatches`), re-derives the digests
 * (`signingDigests`) and signs them; the coordinator then `assemble`s the raw transaction.
 *
 * - `UnsignedTx.bytes` is the only thing that travels: Ethereum's unsigned EIP-1559 envelope, a
 *   Bitcoin PSBT (v0, with each input's witness UTXO), Solana's compiled message. Everything else
 *   is re-derived from those bytes.
 * - One digest per signature needed: Ethereum and Solana one, Bitcoin one per input.
 * - `verifyMatches` throws `CustosError('tx_mismatch', …)` unless the transaction pays exactly the
 *   authorized amount of the authorized asset to the authorized destination and nothing else leaves
 *   the wallet (Bitcoin: besides the fee, only change back to the wallet's own scripts).
 *
 * @example
 *   import * as eth from './ethereum/tx.js';
 *   const unsigned = eth.buildUnsigned({ to, amount: 10n ** 18n, asset: 'ETH' }, params);
 *   eth.verifyMatches(unsigned, { to, amount: 10n ** 18n, asset: 'ETH' });    // node side
 *   const sig = await thresholdSign(eth.signingDigest(unsigned));            // {r, s, recovery}
 *   const { raw, hash } = eth.assemble(unsigned, sig);
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import type { Chain } from '../core/chain.js';
import { CustosError } from '../core/errors.js';

/** Serialisable unsigned transaction: `bytes` is canonical; `chain` says how to read them. */
export interface UnsignedTx {
  readonly chain: Chain;
  readonly bytes: Uint8Array;
}

/** ECDSA over secp256k1 as a signer (threshold CGGMP21 or a plain key) produces it. */
export interface EcdsaSignature {
  readonly r: bigint;
  readonly s: bigint;
  /** Recovery id (0 or 1; 2/3 never occur for real keys and are refused). */
  readonly recovery: number;
}

/** What a withdrawal asks for, as a node's authorization states it. */
export interface TransferIntent {
  /** Destination address in the chain's text form. */
  readonly to: string;
  /** Base units (wei / token units / satoshi / lamports). */
  readonly amount: bigint;
  /** Asset: 'ETH', 'BTC', 'SOL', or an ERC-20 contract address (0x…). Defaults to the native asset. */
  readonly asset?: string;
}

/** What `parseUnsigned` reads back from the unsigned bytes alone. */
export interface ParsedTransfer {
  readonly chain: Chain;
  readonly to: string;
  readonly amount: bigint;
  /** 'ETH' | 'BTC' | 'SOL' or the ERC-20 contract address (EIP-55). */
  readonly asset: string;
  /** Most the sender can pay in fees, base units of the native asset. */
  readonly fee: bigint;
  /** Account nonce (Ethereum); null elsewhere. */
  readonly nonce: bigint | null;
}

/** A signed transaction ready to broadcast. */
export interface SignedTx {
  readonly raw: Uint8Array;
  /** Ethereum tx hash (0x…), Bitcoin txid (hex, display order), Solana signature (base58). */
  readonly id: string;
}

const N = secp256k1.Point.CURVE().n;

/** Low-S form of a signature (s > n/2 becomes n − s and the recovery id flips), refusing out-of-range values. */
export function normaliseEcdsa(sig: EcdsaSignature): EcdsaSignature {
  const { r, s, recovery } = sig;
  if (typeof r !== 'bigint' || typeof s !== 'bigint' || r <= 0n || r >= N || s <= 0n || s >= N) {
    throw new CustosError('tx_bad_signature', 'signature values are out of range', 422);
  }
  if (recovery !== 0 && recovery !== 1) throw new CustosError('tx_bad_signature', 'recovery id must be 0 or 1', 422);
  return s > N >> 1n ? { r, s: N - s, recovery: recovery ^ 1 } : { r, s, recovery };
}

/** Throws the stable mismatch error (the message names the field, never key material). */
export function mismatch(message: string, details?: Record<string, unknown>): never {
  throw new CustosError('tx_mismatch', message, 422, details);
}

/** Throws the stable malformed-transaction error. */
export function malformed(message: string): never {
  throw new CustosError('tx_malformed', message, 422);
}

/** Guards a base-unit amount: a bigint in [min, max]. */
export function checkAmount(name: string, value: bigint, min: bigint, max: bigint): void {
  if (typeof value !== 'bigint' || value < min || value > max) {
    throw new CustosError('tx_invalid_amount', `${name} must be an integer between ${min} and ${max}`, 422);
  }
}
