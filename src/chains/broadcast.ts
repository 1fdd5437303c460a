/**
 * Broadcasting a signed transaction and following it on chain, one `Broadcaster` per chain over a
 * configured JSON-RPC endpoint:
 *
 * - Ethereum: `eth_sendRawTransaction`, then `eth_getTransactionReceipt` (status 0 = reverted) and
 *   `eth_blockNumber` for the confirmations.
 * - Solana: `sendTransaction` (base64, with preflight), then `getSignatureStatuses` (an `err` =
 *   failed; `finalized` = final). A signature the node does not know while the finalized block
 *   height (`getBlockHeight`) is above the transaction's `lastValidBlockHeight` is failed: its
 *   blockhash expired, so it can never land (`solanaTxStatus`). A refused send of a transaction
 *   the chain already has (a re-send after its blockhash expired) counts as taken.
 * - Bitcoin: `sendrawtransaction`, then `getrawtransaction <txid> true` (its `confirmations`); UTXOs for
 *   planning through `scantxoutset` (`bitcoinFacts`).
 *
 * `send` answers whether the node took the transaction (a node that already knows it counts as
 * taken) or refused it with its reason; an unreachable endpoint throws `RpcError` (try later).
 * `status` answers pending, included (with confirmations; `final` when the chain says so) or
 * failed. Both are thin: the decisions are in `broadcast-worker.ts`.
 *
 * @example
 *   const b = ethereumBroadcaster(httpJsonRpc(url));
 *   await b.send(raw, txHash);        // { accepted: true }
 *   await b.status(txHash);           // { state: 'included', confirmations: 3n, final: false }
 */
import { bytesToHex } from '@noble/hashes/utils.js';
import type { Chain, Network } from '../core/chain.js';
import type { ChainFacts } from './plan.js';
import { RpcError, type JsonRpc } from './rpc.js';

export type TxStatus =
  | { readonly state: 'pending' }
  | { readonly state: 'included'; readonly confirmations: bigint; readonly final: boolean }
  /** `code`: a stable name of the failure where the chain gives one (default `transaction_failed`). */
  | { readonly state: 'failed'; readonly reason: string; readonly code?: string };

/** What the broadcast worker knows of a transaction besides its hash. */
export interface TxLifetime {
  /** Solana: the last block height at which the transaction can land (its blockhash's). */
  readonly lastValidBlockHeight?: bigint;
}

export type SendResult = { readonly accepted: true } | { readonly accepted: false; readonly reason: string };

export interface Broadcaster {
  readonly chain: Chain;
  send(raw: Uint8Array, txHash: string): Promise<SendResult>;
  status(txHash: string, lifetime?: TxLifetime): Promise<TxStatus>;
}

/** Sends, mapping a JSON-RPC refusal to `{ accepted: false }` unless it says the node already has it. */
async function sendWith(call: () => Promise<unknown>, already: RegExp): Promise<SendResult> {
  try {
    await call();
    return { accepted: true };
  } catch (err) {
    if (err instanceof RpcError && !err.unreachable) {
      return already.test(err.message) ? { accepted: true } : { accepted: false, reason: err.message };
    }
    throw err;
  }
}

const big = (v: unknown): bigint => (typeof v === 'string' || typeof v === 'number' ? BigInt(v) : 0n);

export function ethereumBroadcaster(rpc: JsonRpc): Broadcaster {
  return {
    chain: 'ethereum',
    send: (raw) => sendWith(() => rpc.request('eth_sendRawTransaction', ['0x' + bytesToHex(raw)]), /already known|known transaction|already imported/i),
    async status(txHash) {
      const receipt = (await rpc.request('eth_getTransactionReceipt', [txHash])) as { status?: string; blockNumber?: string } | null;
      if (!receipt || !receipt.blockNumber) return { state: 'pending' };
      if (receipt.status !== undefined && big(receipt.status) === 0n) return { state: 'failed', reason: 'the transaction reverted' };
      const head = big(await rpc.request('eth_blockNumber', []));
      const confirmations = head - big(receipt.blockNumber) + 1n;
      return { state: 'included', confirmations: confirmations > 0n ? confirmations : 1n, final: false };
    },
  };
}

/** One entry of Solana's `getSignatureStatuses` answer (null: the node does not know the signature). */
export interface SolanaSignatureStatus {
  readonly err?: unknown;
  readonly confirmations?: number | null;
  readonly confirmationStatus?: string;
}

/**
 * The state of a Solana transaction from its signature's status and, for a signature the node does
 * not know, the finalized block height read before that status against the transaction's
 * `lastValidBlockHeight`. Above it, the blockhash expired and the transaction can never land:
 * failed (`blockhash_expired`). At or below it, or with no lifetime known: pending (it may still
 * land). A signature the node knows is never expired, whatever the height.
 *
 * @example
 *   solanaTxStatus(null, { lastValidBlockHeight: 150n, blockHeight: 151n });
 *   // { state: 'failed', code: 'blockhash_expired', reason: 'blockhash expired at block height 150 (now 151): …' }
 */
export function solanaTxStatus(s: SolanaSignatureStatus | null | undefined, expiry?: { lastValidBlockHeight: bigint; blockHeight: bigint }): TxStatus {
  if (!s) {
    if (expiry && expiry.blockHeight > expiry.lastValidBlockHeight) {
      return {
        state: 'failed', code: 'blockhash_expired',
        reason: `blockhash expired at block height ${expiry.lastValidBlockHeight} (now ${expiry.blockHeight}): the transaction can no longer land`,
      };
    }
    return { state: 'pending' };
  }
  if (s.err !== null && s.err !== undefined) return { state: 'failed', reason: `the transaction failed: ${JSON.stringify(s.err).slice(0, 200)}` };
  const final = s.confirmationStatus === 'finalized';
  return { state: 'included', confirmations: BigInt(s.confirmations ?? (final ? 32 : 0)), final };
}

export function solanaBroadcaster(rpc: JsonRpc): Broadcaster {
  const signatureStatus = async (txHash: string): Promise<SolanaSignatureStatus | null> => {
    const res = (await rpc.request('getSignatureStatuses', [[txHash], { searchTransactionHistory: true }])) as { value?: (SolanaSignatureStatus | null)[] };
    return res?.value?.[0] ?? null;
  };
  const finalizedHeight = async (): Promise<bigint> => {
    const h = await rpc.request('getBlockHeight', [{ commitment: 'finalized' }]);
    if (typeof h !== 'number' || !Number.isSafeInteger(h) || h < 0) throw new RpcError('getBlockHeight: no block height in the answer', { unreachable: false });
    return BigInt(h);
  };
  return {
    chain: 'solana',
    async send(raw, txHash) {
      const sent = await sendWith(
        () => rpc.request('sendTransaction', [Buffer.from(raw).toString('base64'), { encoding: 'base64', preflightCommitment: 'confirmed' }]),
        /already been processed|AlreadyProcessed/i,
      );
      // Re-sent after its blockhash expired, a transaction the chain already has is refused with
      // "Blockhash not found", not "already processed": the chain has it, so the node took it.
      if (!sent.accepted && (await signatureStatus(txHash))) return { accepted: true };
      return sent;
    },
    async status(txHash, lifetime) {
      const s = await signatureStatus(txHash);
      const lastValidBlockHeight = lifetime?.lastValidBlockHeight;
      if (s || lastValidBlockHeight === undefined) return solanaTxStatus(s);
      // Not found: read the finalized height and, if it is past lastValidBlockHeight, the status
      // again. A transaction that landed at or below lastValidBlockHeight is in a block that height
      // already counts, so the second read, made after it, sees it: only a signature missing from
      // both reads is called expired.
      const blockHeight = await finalizedHeight();
      const again = blockHeight > lastValidBlockHeight ? await signatureStatus(txHash) : null;
      return solanaTxStatus(again, { lastValidBlockHeight, blockHeight });
    },
  };
}

export function bitcoinBroadcaster(rpc: JsonRpc): Broadcaster {
  return {
    chain: 'bitcoin',
    send: (raw) => sendWith(() => rpc.request('sendrawtransaction', [bytesToHex(raw)]), /already in block chain|txn-already-known|txn-already-in-mempool|already-in-utxo-set/i),
    async status(txHash) {
      let tx: { confirmations?: number } | null;
      try {
        tx = (await rpc.request('getrawtransaction', [txHash, true])) as { confirmations?: number } | null;
      } catch (err) {
        if (err instanceof RpcError && err.rpcCode === -5) return { state: 'pending' }; // not in the mempool or an indexed block (yet)
        throw err;
      }
      const c = BigInt(tx?.confirmations ?? 0);
      return c > 0n ? { state: 'included', confirmations: c, final: false } : { state: 'pending' };
    },
  };
}

/** The chain's broadcaster over `rpc`. */
export function broadcasterFor(chain: Chain, rpc: JsonRpc): Broadcaster {
  return chain === 'ethereum' ? ethereumBroadcaster(rpc) : chain === 'solana' ? solanaBroadcaster(rpc) : bitcoinBroadcaster(rpc);
}

/** Solana facts for the signing worker from the same endpoint: a recent (finalized) blockhash. */
export function solanaFacts(rpc: JsonRpc): NonNullable<ChainFacts['solana']> {
  return {
    async recentBlockhash() {
      const res = (await rpc.request('getLatestBlockhash', [{ commitment: 'finalized' }])) as { value?: { blockhash?: string; lastValidBlockHeight?: number } };
      const blockhash = res?.value?.blockhash;
      if (typeof blockhash !== 'string') throw new RpcError('getLatestBlockhash: no blockhash in the answer', { unreachable: false });
      return { blockhash, ...(res.value?.lastValidBlockHeight !== undefined ? { lastValidBlockHeight: BigInt(res.value.lastValidBlockHeight) } : {}) };
    },
  };
}

/** Satoshis of a BTC amount as Bitcoin Core prints it (a JSON number with at most 8 decimals). */
export function btcToSats(amount: unknown): bigint {
  if (typeof amount !== 'number' || !Number.isFinite(amount) || amount < 0 || amount > 21_000_000) {
    throw new RpcError('a BTC amount in the answer is not a number of BTC', { unreachable: false });
  }
  const [whole, frac = ''] = amount.toFixed(8).split('.');
  return BigInt(whole as string) * 100_000_000n + BigInt(frac.padEnd(8, '0'));
}

/**
 * Bitcoin facts for the signing worker from a Bitcoin Core endpoint: the wallet address's UTXOs
 * through `scantxoutset start ["addr(<address>)"]` (needs no wallet on the node). Confirmed outputs
 * only (`height` > 0). Two withdrawals planned at once may pick the same outputs; the second one's
 * transaction is then refused by the node and the withdrawal fails: run one signing worker for
 * Bitcoin (UTXO reservation is not built).
 */
export function bitcoinFacts(rpc: JsonRpc, network: Network): NonNullable<ChainFacts['bitcoin']> {
  return {
    network,
    async utxos(address) {
      const res = (await rpc.request('scantxoutset', ['start', [`addr(${address})`]])) as { success?: boolean; unspents?: { txid?: string; vout?: number; amount?: number; height?: number }[] };
      if (!res?.success || !Array.isArray(res.unspents)) throw new RpcError('scantxoutset: no result', { unreachable: false });
      return res.unspents
        .filter((u) => typeof u.txid === 'string' && /^[0-9a-f]{64}$/.test(u.txid) && Number.isInteger(u.vout) && (u.height ?? 0) > 0)
        .map((u) => ({ txid: u.txid as string, vout: u.vout as number, amount: btcToSats(u.amount) }));
    },
  };
}
