/**
 * Benchmark of the chain side of one withdrawal (no signing protocol): build the unsigned tx, check
 * it the way a node does (parse, verifyMatches, digests), and assemble with a signature from a
 * single local key. Gives the per-withdrawal overhead the chains add around threshold signing.
 *
 * @example
 *   const r = benchChainTx({ iterations: 200 });   // { ethereum_tx_p50_ms, bitcoin_p2wpkh_tx_p50_ms, … }
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { schnorr, secp256k1 } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { getAddressDecoder, getBase58Decoder } from '@solana/kit';
import * as bitcoin from './bitcoin/tx.js';
import * as ethereum from './ethereum/tx.js';
import * as solana from './solana/tx.js';
import { assembleSigned, checkUnsigned } from './transactions.js';
import type { EcdsaSignature, UnsignedTx } from './tx.js';

export interface ChainTxBench {
  readonly iterations: number;
  readonly ethereum_tx_p50_ms: number;
  readonly bitcoin_p2wpkh_tx_p50_ms: number;
  readonly bitcoin_p2tr_tx_p50_ms: number;
  readonly solana_tx_p50_ms: number;
}

const key = (label: string): Uint8Array => sha256(new TextEncoder().encode(`custos/bench/${label}`));

function ecdsa(digest: Uint8Array, sk: Uint8Array): EcdsaSignature {
  const sig = secp256k1.Signature.fromBytes(secp256k1.sign(digest, sk, { prehash: false, format: 'recovered' }), 'recovered');
  return { r: sig.r, s: sig.s, recovery: sig.recovery as number };
}

function p50(run: () => void, iterations: number): number {
  const times: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const t = performance.now();
    run();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return Math.round((times[Math.floor(times.length / 2)] as number) * 1000) / 1000;
}

/** Runs each chain's build → check → sign (single key) → assemble `iterations` times; p50 in ms. */
export function benchChainTx(opts: { iterations?: number } = {}): ChainTxBench {
  const iterations = Math.max(1, opts.iterations ?? 100);
  const sk = key('ecdsa');
  const ethTo = '0x' + 'cd'.repeat(20);
  const eth = (): void => {
    const u = ethereum.buildUnsigned({ to: ethTo, amount: 10n ** 18n }, { chainId: 1, nonce: 1n, maxFeePerGas: 30n * 10n ** 9n, maxPriorityFeePerGas: 10n ** 9n });
    const { digests } = checkUnsigned(u, { to: ethTo, amount: 10n ** 18n }, { network: 'mainnet', ethereumChainId: 1, maxFee: 10n ** 16n });
    assembleSigned(u, digests.map((d) => ecdsa(d, sk)), 'mainnet');
  };
  const utxos = [{ txid: 'aa'.repeat(32), vout: 0, amount: 100_000n }, { txid: 'bb'.repeat(32), vout: 1, amount: 50_000n }];
  const btcTo = 'bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4';
  const btc = (wallet: bitcoin.BitcoinWallet, sign: (d: Uint8Array) => EcdsaSignature | Uint8Array) => (): void => {
    const u: UnsignedTx = bitcoin.buildUnsigned({ to: btcTo, amount: 120_000n }, { network: 'mainnet', wallet, utxos, feeRate: 5n });
    const { digests } = checkUnsigned(u, { to: btcTo, amount: 120_000n }, { network: 'mainnet', bitcoinWalletScript: bitcoin.walletScript(wallet), maxFee: 10_000n });
    assembleSigned(u, digests.map(sign), 'mainnet');
  };
  const tr = key('schnorr');
  const solSk = key('ed25519');
  const from = getAddressDecoder().decode(ed25519.getPublicKey(solSk)) as string;
  const solTo = getAddressDecoder().decode(ed25519.getPublicKey(key('sol-to'))) as string;
  const recentBlockhash = getBase58Decoder().decode(key('blockhash'));
  const sol = (): void => {
    const u = solana.buildUnsigned({ to: solTo, amount: 10n ** 9n }, { from, recentBlockhash });
    const { digests } = checkUnsigned(u, { to: solTo, amount: 10n ** 9n }, { network: 'mainnet', solanaFrom: from, maxFee: 5_000n });
    assembleSigned(u, digests.map((d) => ed25519.sign(d, solSk)), 'mainnet');
  };
  return {
    iterations,
    ethereum_tx_p50_ms: p50(eth, iterations),
    bitcoin_p2wpkh_tx_p50_ms: p50(btc({ type: 'p2wpkh', publicKey: secp256k1.getPublicKey(sk, true) }, (d) => ecdsa(d, sk)), iterations),
    bitcoin_p2tr_tx_p50_ms: p50(btc({ type: 'p2tr', outputKey: schnorr.getPublicKey(tr) }, (d) => schnorr.sign(d, tr)), iterations),
    solana_tx_p50_ms: p50(sol, iterations),
  };
}
