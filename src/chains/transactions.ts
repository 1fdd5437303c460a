/**
 * One entry point per step for code that handles any chain (the signing coordinator and the signing
 * nodes): dispatches on `unsigned.chain` to ethereum/tx.ts, bitcoin/tx.ts or solana/tx.ts, and
 * carries an `UnsignedTx` over JSON. A node calls `checkUnsigned` with the facts it knows on its own
 * (its wallet, the network, the chain id) and signs only the digests that call returns.
 *
 * @example
 *   const unsigned = unsignedTxFromJson(message.unsignedTx);            // from the coordinator
 *   const { digests, parsed } = checkUnsigned(unsigned, { to, amount, asset }, { network: 'mainnet', bitcoinWalletScript, maxFee: 100_000n });
 *   // sign each digest (ECDSA for ethereum / bitcoin p2wpkh, BIP-340 tweaked for p2tr, Ed25519 for solana)
 */
import { base64 } from '@scure/base';
import { isChain, type Network } from '../core/chain.js';
import { CustosError } from '../core/errors.js';
import * as bitcoin from './bitcoin/tx.js';
import * as ethereum from './ethereum/tx.js';
import * as solana from './solana/tx.js';
import type { EcdsaSignature, ParsedTransfer, SignedTx, TransferIntent, UnsignedTx } from './tx.js';

/** What a signing node knows independently of the coordinator. */
export interface NodeChainContext {
  readonly network: Network;
  /** Ethereum (required for ethereum): the chain id the node signs for; any other is refused. */
  readonly ethereumChainId?: number;
  /** Bitcoin (required for bitcoin): the wallet's own scriptPubKey, `bitcoin.walletScript(wallet)`. */
  readonly bitcoinWalletScript?: Uint8Array;
  /** Solana: the wallet address (fee payer). */
  readonly solanaFrom?: string;
  /**
   * Highest fee (native base units: wei for gas × maxFeePerGas, satoshi, lamports) the node accepts.
   * Required: without it a coordinator could spend the wallet on fees (Bitcoin change shrunk into the
   * fee, an absurd maxFeePerGas) while destination and amount still match.
   */
  readonly maxFee: bigint;
}

export interface CheckedUnsigned {
  readonly parsed: ParsedTransfer;
  /** The digests to sign, in input order (one for Ethereum and Solana). */
  readonly digests: Uint8Array[];
}

/** Parses, checks against the authorized intent, and re-derives the digests; throws `tx_mismatch` / `tx_malformed`. */
export function checkUnsigned(unsigned: UnsignedTx, intent: TransferIntent, ctx: NodeChainContext): CheckedUnsigned {
  if (typeof ctx?.maxFee !== 'bigint') throw new CustosError('tx_mismatch', 'a node check needs a fee cap', 422);
  switch (unsigned.chain) {
    case 'ethereum':
      if (ctx.ethereumChainId === undefined) throw new CustosError('tx_mismatch', 'an Ethereum check needs the chain id the node signs for', 422);
      return {
        parsed: ethereum.verifyMatches(unsigned, intent, { chainId: ctx.ethereumChainId, maxFee: ctx.maxFee }),
        digests: ethereum.signingDigests(unsigned),
      };
    case 'bitcoin': {
      if (!ctx.bitcoinWalletScript) throw new CustosError('tx_mismatch', 'a Bitcoin check needs the wallet script the node knows', 422);
      return {
        parsed: bitcoin.verifyMatches(unsigned, intent, ctx.network, { walletScript: ctx.bitcoinWalletScript, maxFee: ctx.maxFee }),
        digests: bitcoin.signingDigests(unsigned, ctx.network),
      };
    }
    case 'solana': {
      const parsed = solana.verifyMatches(unsigned, intent, { from: ctx.solanaFrom });
      if (ctx.maxFee !== undefined && parsed.fee > ctx.maxFee) throw new CustosError('tx_mismatch', 'the transaction pays more fee than allowed', 422, { field: 'fee' });
      return { parsed, digests: solana.signingDigests(unsigned) };
    }
    default:
      throw new CustosError('tx_malformed', 'unknown chain', 422);
  }
}

/**
 * Assembles the signed transaction: Ethereum takes one ECDSA signature, Bitcoin one per input
 * (ECDSA for P2WPKH, 64-byte BIP-340 for P2TR), Solana one 64-byte Ed25519 signature.
 */
export function assembleSigned(unsigned: UnsignedTx, signatures: readonly (EcdsaSignature | Uint8Array)[], network: Network): SignedTx {
  const only = (): EcdsaSignature | Uint8Array => {
    if (signatures.length !== 1) throw new CustosError('tx_bad_signature', `expected one signature, got ${signatures.length}`, 422);
    return signatures[0] as EcdsaSignature | Uint8Array;
  };
  switch (unsigned.chain) {
    case 'ethereum': {
      const sig = only();
      if (sig instanceof Uint8Array) throw new CustosError('tx_bad_signature', 'Ethereum needs an ECDSA signature with its recovery id', 422);
      return ethereum.assemble(unsigned, sig);
    }
    case 'bitcoin':
      return bitcoin.assemble(unsigned, signatures, network);
    case 'solana': {
      const sig = only();
      if (!(sig instanceof Uint8Array)) throw new CustosError('tx_bad_signature', 'Solana needs a 64-byte Ed25519 signature', 422);
      return solana.assemble(unsigned, sig);
    }
    default:
      throw new CustosError('tx_malformed', 'unknown chain', 422);
  }
}

/** JSON form of an unsigned transaction: `{ chain, bytes: base64 }`. */
export function unsignedTxToJson(unsigned: UnsignedTx): { chain: string; bytes: string } {
  return { chain: unsigned.chain, bytes: base64.encode(unsigned.bytes) };
}

/** Inverse of `unsignedTxToJson`; refuses unknown chains, bad base64 and anything over 256 KiB. */
export function unsignedTxFromJson(value: unknown): UnsignedTx {
  const v = value as { chain?: unknown; bytes?: unknown } | null;
  if (typeof v !== 'object' || v === null || !isChain(v.chain) || typeof v.bytes !== 'string' || v.bytes.length > 350_000) {
    throw new CustosError('tx_malformed', 'an unsigned transaction is { chain, bytes: base64 }', 422);
  }
  try {
    return { chain: v.chain, bytes: base64.decode(v.bytes) };
  } catch {
    throw new CustosError('tx_malformed', 'the unsigned transaction bytes are not base64', 422);
  }
}
