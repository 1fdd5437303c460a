// The chain dispatcher: each chain's unsigned tx crosses JSON, is checked the way a node checks it,
// and assembles. Independent judges of the signed bytes live in each chain's tx.test.ts; here
// bitcoinjs-lib supplies the regtest/testnet addresses so the address encoding is not ours alone.
import { ed25519 } from '@noble/curves/ed25519.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { getAddressDecoder, getBase58Decoder } from '@solana/kit';
import * as bitcoinjs from 'bitcoinjs-lib';
import { describe, expect, it } from 'vitest';
import * as bitcoin from './bitcoin/tx.js';
import * as ethereum from './ethereum/tx.js';
import * as solana from './solana/tx.js';
import { assembleSigned, checkUnsigned, unsignedTxFromJson, unsignedTxToJson } from './transactions.js';
import type { EcdsaSignature, UnsignedTx } from './tx.js';

const seed = (label: string): Uint8Array => sha256(new TextEncoder().encode(`custos/dispatch/${label}`));
const sk = seed('ecdsa');
const publicKey = secp256k1.getPublicKey(sk, true);
function ecdsa(digest: Uint8Array): EcdsaSignature {
  const sig = secp256k1.Signature.fromBytes(secp256k1.sign(digest, sk, { prehash: false, format: 'recovered' }), 'recovered');
  return { r: sig.r, s: sig.s, recovery: sig.recovery as number };
}
const viaJson = (u: UnsignedTx): UnsignedTx => unsignedTxFromJson(JSON.parse(JSON.stringify(unsignedTxToJson(u))));

describe('checkUnsigned / assembleSigned dispatch', () => {
  it('ethereum: JSON round trip, check, assemble from the wallet address', () => {
    const to = '0x' + 'cd'.repeat(20);
    const u = viaJson(ethereum.buildUnsigned({ to, amount: 5n }, { chainId: 1, nonce: 0n, maxFeePerGas: 10n, maxPriorityFeePerGas: 1n }));
    const { digests, parsed } = checkUnsigned(u, { to, amount: 5n }, { network: 'mainnet', ethereumChainId: 1, maxFee: 10n ** 6n });
    expect(parsed.amount).toBe(5n);
    expect(() => checkUnsigned(u, { to, amount: 5n }, { network: 'mainnet', ethereumChainId: 11155111, maxFee: 10n ** 6n })).toThrow(expect.objectContaining({ code: 'tx_mismatch' }));
    expect(() => checkUnsigned(u, { to, amount: 5n }, { network: 'mainnet', maxFee: 10n ** 6n })).toThrow(expect.objectContaining({ code: 'tx_mismatch' }));
    expect(() => checkUnsigned(u, { to, amount: 5n }, { network: 'mainnet', ethereumChainId: 1, maxFee: 21_000n * 10n - 1n })).toThrow(expect.objectContaining({ code: 'tx_mismatch' }));
    expect(() => checkUnsigned(u, { to, amount: 5n }, { network: 'mainnet', ethereumChainId: 1 } as never)).toThrow(expect.objectContaining({ code: 'tx_mismatch' }));
    const signed = assembleSigned(u, digests.map(ecdsa), 'mainnet') as ethereum.EthereumSignedTx;
    expect(signed.from).toBe(ethereum.addressOfPublicKey(publicKey));
    expect(() => assembleSigned(u, [new Uint8Array(64)], 'mainnet')).toThrow(expect.objectContaining({ code: 'tx_bad_signature' }));
  });

  it('bitcoin on regtest and testnet: addresses agree with bitcoinjs-lib; the wallet script is mandatory', () => {
    const wallet = { type: 'p2wpkh' as const, publicKey };
    const walletScript = bitcoin.walletScript(wallet);
    for (const [network, net] of [['regtest', bitcoinjs.networks.regtest], ['testnet', bitcoinjs.networks.testnet]] as const) {
      const to = bitcoinjs.payments.p2wpkh({ pubkey: secp256k1.getPublicKey(seed('btc-to'), true), network: net }).address as string;
      const u = viaJson(bitcoin.buildUnsigned({ to, amount: 10_000n }, { network, wallet, utxos: [{ txid: '11'.repeat(32), vout: 0, amount: 50_000n }], feeRate: 2n }));
      const { digests, parsed } = checkUnsigned(u, { to, amount: 10_000n }, { network, bitcoinWalletScript: walletScript, maxFee: 10_000n });
      expect(parsed.to).toBe(to);
      expect(() => checkUnsigned(u, { to, amount: 10_000n }, { network, maxFee: 10_000n })).toThrow(expect.objectContaining({ code: 'tx_mismatch' }));
      expect(() => checkUnsigned(u, { to, amount: 10_000n }, { network, bitcoinWalletScript: walletScript, maxFee: 1n })).toThrow(expect.objectContaining({ code: 'tx_mismatch' }));
      const signed = assembleSigned(u, digests.map(ecdsa), network);
      expect(bitcoinjs.Transaction.fromBuffer(signed.raw).getId()).toBe(signed.id);
    }
  });

  it('solana: JSON round trip, check with the pinned wallet, assemble', () => {
    const walletSk = seed('sol-wallet');
    const from = getAddressDecoder().decode(ed25519.getPublicKey(walletSk)) as string;
    const to = getAddressDecoder().decode(ed25519.getPublicKey(seed('sol-to'))) as string;
    const recentBlockhash = getBase58Decoder().decode(seed('blockhash'));
    const u = viaJson(solana.buildUnsigned({ to, amount: 7n }, { from, recentBlockhash }));
    const { digests } = checkUnsigned(u, { to, amount: 7n }, { network: 'mainnet', solanaFrom: from, maxFee: 5_000n });
    expect(() => checkUnsigned(u, { to, amount: 7n }, { network: 'mainnet', solanaFrom: to, maxFee: 5_000n })).toThrow(expect.objectContaining({ code: 'tx_mismatch' }));
    expect(() => checkUnsigned(u, { to, amount: 7n }, { network: 'mainnet', maxFee: 4_999n })).toThrow(expect.objectContaining({ code: 'tx_mismatch' }));
    const signed = assembleSigned(u, digests.map((d) => ed25519.sign(d, walletSk)), 'mainnet');
    expect(signed.raw.length).toBe(1 + 64 + u.bytes.length);
    expect(() => assembleSigned(u, [ecdsa(digests[0] as Uint8Array)], 'mainnet')).toThrow(expect.objectContaining({ code: 'tx_bad_signature' }));
  });

  it('refuses malformed JSON forms', () => {
    for (const bad of [null, 1, {}, { chain: 'dogecoin', bytes: '' }, { chain: 'bitcoin', bytes: '***' }, { chain: 'bitcoin', bytes: 'A'.repeat(400_000) }]) {
      expect(() => unsignedTxFromJson(bad)).toThrow(expect.objectContaining({ code: 'tx_malformed' }));
    }
    expect(bytesToHex(unsignedTxFromJson({ chain: 'solana', bytes: 'AAE=' }).bytes)).toBe('0001');
  });
});
