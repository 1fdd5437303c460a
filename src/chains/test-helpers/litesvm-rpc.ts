/**
 * TEST ONLY. The Solana JSON-RPC methods custos calls (`getLatestBlockhash`, `sendTransaction`,
 * `getSignatureStatuses`, `getBlockHeight`), answered by litesvm (the Solana runtime in process),
 * for tests of the broadcaster and the signing worker without a validator. litesvm has no RPC
 * server; this adapter is the `JsonRpc` a real endpoint would be. A transaction litesvm refuses
 * answers a JSON-RPC error as a node's preflight would.
 *
 * Block heights as a cluster has them: the height is litesvm's slot (every slot has a block here),
 * `advanceTo` moves it, and a blockhash is valid up to 150 blocks after the height at which it was
 * first handed out (`lastValidBlockHeight`). A transaction whose blockhash expired is refused with
 * "Blockhash not found" (before "already processed", as a node's preflight does) and never lands.
 * With `hold`, a transaction the node takes is not run until `land` (a leader that has not
 * included it, or dropped it); until then its signature is unknown.
 *
 * @example
 *   const rpc = litesvmRpc(svm, { hold: true });
 *   rpc.advanceTo(rpc.height() + 10n);
 *   rpc.land(signature);            // runs the held transaction in the current block
 */
import { base58 } from '@scure/base';
import { getCompiledTransactionMessageDecoder, getTransactionDecoder, type Transaction } from '@solana/kit';
import { FailedTransactionMetadata, type LiteSVM } from 'litesvm';
import { RpcError, type JsonRpc } from '../rpc.js';

/** Blocks a blockhash stays valid for after the height at which it is handed out (Solana's MAX_PROCESSING_AGE). */
export const BLOCKHASH_VALID_BLOCKS = 150n;

export interface LitesvmRpcOptions {
  /** Take transactions without running them; `land` runs one. */
  readonly hold?: boolean;
  /** Called after each answer is made and before it is returned: what happens between two calls. */
  readonly afterAnswer?: (method: string, result: unknown) => void;
}

export interface LitesvmRpc extends JsonRpc {
  /** Signatures of the transactions the chain ran. */
  readonly sent: string[];
  /** Signatures of the transactions taken (`hold`) and not run yet. */
  readonly held: ReadonlyMap<string, Transaction>;
  /** The current block height. */
  height(): bigint;
  /** Moves the chain to block height `height`. */
  advanceTo(height: bigint): void;
  /** Runs a held transaction in the current block; throws if its blockhash expired or litesvm refuses it. */
  land(signature: string): void;
}

export function litesvmRpc(svm: LiteSVM, o: LitesvmRpcOptions = {}): LitesvmRpc {
  const sent: string[] = [];
  const held = new Map<string, Transaction>();
  const lastValid = new Map<string, bigint>();
  const height = (): bigint => svm.getClock().slot;
  const expired = (tx: Transaction): boolean => {
    const hash = getCompiledTransactionMessageDecoder().decode(tx.messageBytes).lifetimeToken;
    const until = lastValid.get(hash);
    return until !== undefined && height() > until;
  };
  const run = (tx: Transaction, id: string): void => {
    const result = svm.sendTransaction(tx);
    if (result instanceof FailedTransactionMetadata) {
      throw new RpcError(`sendTransaction: Transaction simulation failed: ${result.toString().slice(0, 200)}`, { unreachable: false, rpcCode: -32002 });
    }
    sent.push(id);
  };
  const answer = (method: string, params: unknown[]): unknown => {
    switch (method) {
      case 'getLatestBlockhash': {
        const blockhash = svm.latestBlockhash();
        if (!lastValid.has(blockhash)) lastValid.set(blockhash, height() + BLOCKHASH_VALID_BLOCKS);
        return { context: { slot: Number(height()) }, value: { blockhash, lastValidBlockHeight: Number(lastValid.get(blockhash)) } };
      }
      case 'getBlockHeight':
        return Number(height());
      case 'sendTransaction': {
        const raw = Buffer.from(String(params[0]), 'base64');
        const tx = getTransactionDecoder().decode(new Uint8Array(raw)) as Transaction;
        const sig = Object.values(tx.signatures)[0];
        if (!sig) throw new RpcError('sendTransaction: no signature', { unreachable: false, rpcCode: -32602 });
        const id = base58.encode(sig);
        if (expired(tx)) throw new RpcError('sendTransaction: Transaction simulation failed: Blockhash not found', { unreachable: false, rpcCode: -32002 });
        if (sent.includes(id)) throw new RpcError('sendTransaction: This transaction has already been processed', { unreachable: false, rpcCode: -32002 });
        if (o.hold) held.set(id, tx);
        else run(tx, id);
        return id;
      }
      case 'getSignatureStatuses': {
        const ids = params[0] as string[];
        return {
          context: { slot: Number(height()) },
          value: ids.map((id) => (sent.includes(id) ? { slot: 1, confirmations: null, err: null, confirmationStatus: 'finalized' } : null)),
        };
      }
      default:
        throw new RpcError(`${method}: not served by the litesvm adapter`, { unreachable: false, rpcCode: -32601 });
    }
  };
  return {
    sent,
    held,
    height,
    advanceTo(h) {
      if (h < height()) throw new Error('litesvm-rpc: block heights only go up');
      svm.warpToSlot(h);
    },
    land(signature) {
      const tx = held.get(signature);
      if (!tx) throw new Error(`litesvm-rpc: ${signature} is not held`);
      if (expired(tx)) throw new Error(`litesvm-rpc: the blockhash of ${signature} expired; it cannot land`);
      held.delete(signature);
      run(tx, signature);
    },
    async request(method, params) {
      const result = answer(method, params);
      o.afterAnswer?.(method, result);
      return result;
    },
  };
}
