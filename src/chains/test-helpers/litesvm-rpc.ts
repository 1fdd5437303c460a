/**
 * TEST ONLY. The Solana JSON-RPC methods custos calls (`getLatestBlockhash`, `sendTransaction`,
 * `getSignatureStatuses`), answered by litesvm (the Solana runtime in process), for tests of the
 * broadcaster and the signing worker without a validator. litesvm has no RPC server; this adapter
 * is the `JsonRpc` a real endpoint would be. A transaction litesvm refuses answers a JSON-RPC error
 * as a node's preflight would.
 */
import { base58 } from '@scure/base';
import { getTransactionDecoder, type Transaction } from '@solana/kit';
import { FailedTransactionMetadata, type LiteSVM } from 'litesvm';
import { RpcError, type JsonRpc } from '../rpc.js';

export function litesvmRpc(svm: LiteSVM): JsonRpc & { sent: string[] } {
  const sent: string[] = [];
  return {
    sent,
    async request(method, params) {
      switch (method) {
        case 'getLatestBlockhash':
          return { context: { slot: 1 }, value: { blockhash: svm.latestBlockhash(), lastValidBlockHeight: 150 } };
        case 'sendTransaction': {
          const raw = Buffer.from(String(params[0]), 'base64');
          const tx = getTransactionDecoder().decode(new Uint8Array(raw)) as Transaction;
          const sig = Object.values(tx.signatures)[0];
          if (!sig) throw new RpcError('sendTransaction: no signature', { unreachable: false, rpcCode: -32602 });
          const id = base58.encode(sig);
          if (sent.includes(id)) throw new RpcError('sendTransaction: This transaction has already been processed', { unreachable: false, rpcCode: -32002 });
          const result = svm.sendTransaction(tx);
          if (result instanceof FailedTransactionMetadata) {
            throw new RpcError(`sendTransaction: Transaction simulation failed: ${result.toString().slice(0, 200)}`, { unreachable: false, rpcCode: -32002 });
          }
          sent.push(id);
          return id;
        }
        case 'getSignatureStatuses': {
          const ids = params[0] as string[];
          return {
            context: { slot: 1 },
            value: ids.map((id) => (sent.includes(id) ? { slot: 1, confirmations: null, err: null, confirmationStatus: 'finalized' } : null)),
          };
        }
        default:
          throw new RpcError(`${method}: not served by the litesvm adapter`, { unreachable: false, rpcCode: -32601 });
      }
    },
  };
}
