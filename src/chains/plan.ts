/**
 * Builds the unsigned transaction of one approved withdrawal from its hot wallet, per chain, with
 * the chain facts a signer needs from outside (a recent Solana blockhash, Bitcoin UTXOs, the
 * Ethereum chain id): those come from a `ChainFacts` source (JSON-RPC in production, fixed values
 * in tests and in the offline demo). Everything else comes from the withdrawal row: destination,
 * amount, the fee the pipeline accepted (a total in the native unit, which caps what the
 * transaction may pay) and the Ethereum nonce allocated at intake. A Solana transaction comes back
 * with the `lastValidBlockHeight` of its blockhash when the source gives one: it is not in the
 * bytes, and the broadcast worker needs it to tell a transaction that can no longer land.
 *
 * @example
 *   const unsigned = await buildWithdrawalTx(w, wallet, { solana: { recentBlockhash: async () => ({ blockhash }) } });
 */
import type { Network } from '../core/chain.js';
import { CustosError } from '../core/errors.js';
import * as bitcoin from './bitcoin/tx.js';
import * as ethereum from './ethereum/tx.js';
import * as solana from './solana/tx.js';
import type { UnsignedTx } from './tx.js';
import type { ThresholdWallet } from './wallet.js';

/** An unsigned transaction as planned; on Solana, the last block height at which it can land (when known). */
export interface PlannedTx extends UnsignedTx {
  readonly lastValidBlockHeight?: bigint;
}

/** What a withdrawal contributes to its transaction. */
export interface OutboundWithdrawal {
  readonly id: string;
  readonly chain: 'ethereum' | 'bitcoin' | 'solana';
  readonly asset: string;
  readonly to: string;
  readonly amount: bigint;
  /** Most the transaction may pay in fees (native base units), as the pipeline accepted it. */
  readonly fee: bigint;
  readonly nonce: bigint | null;
}

export interface ChainFacts {
  readonly solana?: {
    recentBlockhash(): Promise<{ blockhash: string; lastValidBlockHeight?: bigint }>;
  };
  readonly ethereum?: {
    readonly chainId: number;
    /** Tip per gas (default 1 gwei, never above the max fee per gas). */
    readonly maxPriorityFeePerGas?: bigint;
    /** ERC-20 contract address per asset symbol (e.g. USDC). */
    readonly tokens?: Readonly<Record<string, string>>;
  };
  readonly bitcoin?: {
    readonly network: Network;
    /** Spendable outputs of the wallet address. */
    utxos(address: string): Promise<readonly bitcoin.Utxo[]>;
  };
}

const refuse = (code: string, message: string): never => {
  throw new CustosError(code, message, 422);
};

export async function buildWithdrawalTx(w: OutboundWithdrawal, wallet: ThresholdWallet, facts: ChainFacts): Promise<PlannedTx> {
  if (wallet.chain !== w.chain) refuse('outbound_wallet_mismatch', `the ${wallet.chain} wallet cannot pay a ${w.chain} withdrawal`);
  switch (w.chain) {
    case 'solana': {
      if (!facts.solana) return refuse('outbound_chain_unconfigured', 'no Solana blockhash source is configured');
      if (w.asset !== 'SOL') refuse('outbound_unsupported_asset', `Solana withdrawals of ${w.asset} are not built`);
      const { blockhash, lastValidBlockHeight } = await facts.solana.recentBlockhash();
      const unsigned = solana.buildUnsigned({ to: w.to, amount: w.amount }, {
        from: wallet.address, recentBlockhash: blockhash, ...(lastValidBlockHeight !== undefined ? { lastValidBlockHeight } : {}),
      });
      if (solana.parseUnsigned(unsigned).fee > w.fee) refuse('outbound_fee_exceeded', 'the Solana fee is above what the withdrawal allows');
      return lastValidBlockHeight !== undefined ? { ...unsigned, lastValidBlockHeight } : unsigned;
    }
    case 'ethereum': {
      const e = facts.ethereum;
      if (!e) return refuse('outbound_chain_unconfigured', 'no Ethereum chain id is configured');
      if (w.nonce === null) return refuse('outbound_no_nonce', 'the withdrawal has no nonce');
      const token = w.asset === 'ETH' ? undefined : e.tokens?.[w.asset];
      if (w.asset !== 'ETH' && !token) refuse('outbound_unsupported_asset', `no contract address is configured for ${w.asset}`);
      const gas = token ? ethereum.ERC20_TRANSFER_GAS : ethereum.ETH_TRANSFER_GAS;
      const maxFeePerGas = w.fee / gas;
      if (maxFeePerGas < 1n) refuse('outbound_fee_too_low', 'the withdrawal fee does not pay one wei per gas');
      const tip = e.maxPriorityFeePerGas ?? 10n ** 9n;
      return ethereum.buildUnsigned({ to: w.to, amount: w.amount, ...(token ? { asset: token } : {}) }, {
        chainId: e.chainId, nonce: w.nonce, maxFeePerGas, maxPriorityFeePerGas: tip < maxFeePerGas ? tip : maxFeePerGas, gas,
      });
    }
    case 'bitcoin': {
      const b = facts.bitcoin;
      if (!b) return refuse('outbound_chain_unconfigured', 'no Bitcoin UTXO source is configured');
      if (!wallet.bitcoin) return refuse('outbound_wallet_mismatch', 'the wallet has no Bitcoin script');
      if (w.asset !== 'BTC') refuse('outbound_unsupported_asset', `Bitcoin withdrawals of ${w.asset} are not built`);
      // The fee allowance is a total: the rate is what it buys for one input, a payment and change.
      const dest = bitcoin.walletScript(wallet.bitcoin);
      const vsize = bitcoin.estimateVsize(wallet.bitcoin.type, 1, [dest, dest]);
      const feeRate = w.fee / vsize;
      if (feeRate < 1n) refuse('outbound_fee_too_low', 'the withdrawal fee does not pay 1 sat/vB');
      const unsigned = bitcoin.buildUnsigned({ to: w.to, amount: w.amount }, {
        network: b.network, wallet: wallet.bitcoin, utxos: await b.utxos(wallet.address), feeRate,
      });
      if (bitcoin.parseUnsigned(unsigned, b.network).fee > w.fee) refuse('outbound_fee_exceeded', 'the inputs needed push the fee above what the withdrawal allows');
      return unsigned;
    }
    default:
      return refuse('outbound_unsupported_chain', 'unknown chain');
  }
}
