/**
 * Broadcasting a signed transaction and following it on chain, one `Broadcaster` per chain over a
 * configured JSON-RPC endpoint:
 *
 * - Ethereum: `eth_sendRawTransaction`, then `eth_getTransactionReceipt` (status 0 = reverted) and
 *   `eth_blockNumber` for the confirmations.
 * - Solana: `sendTransaction` (base64, with preflight), then `getSignatureStatuses` (an `err` =
 *   failed; `finalized` = final).
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
  | { readonly state: 'failed'; readonly reason: string };

export type SendResult = { readonly accepted: true } | { readonly accepted: false; readonly reason: string };

export interface Broadcaster {
  readonly chain: Chain;
  send(raw: Uint8Array, txHash: string): Promise<SendResult>;
  status(txHash: string): Promise<TxStatus>;
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

export function solanaBroadcaster(rpc: JsonRpc): Broadcaster {
  return {
    chain: 'solana',
    send: (raw) => sendWith(
      () => rpc.request('sendTransaction', [Buffer.from(raw).toString('base64'), { encoding: 'base64', preflightCommitment: 'confirmed' }]),
      /already been processed|AlreadyProcessed/i,
    ),
    async status(txHash) {
      const res = (await rpc.request('getSignatureStatuses', [[txHash], { searchTransactionHistory: true }])) as {
        value?: ({ err?: unknown; confirmations?: number | null; confirmationStatus?: string } | null)[];
      };
      const s = res?.value?.[0];
      if (!s) return { state: 'pending' };
      if (s.err !== null && s.err !== undefined) return { state: 'failed', reason: `the transaction failed: ${JSON.stringify(s.err).slice(0, 200)}` };
      const final = s.confirmationStatus === 'finalized';
      return { state: 'included', confirmations: BigInt(s.confirmations ?? (final ? 32 : 0)), final };
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
