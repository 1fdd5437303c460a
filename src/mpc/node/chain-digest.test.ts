import { secp256k1 } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { keccak_256 } from '@noble/hashes/sha3.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { Transaction as ScureTx } from '@scure/btc-signer';
import { describe, expect, it } from 'vitest';
import { bitcoinScriptPubKey } from '../../chains/bitcoin/address.js';
import { buildUnsigned as buildBitcoin, signingDigests, walletScript, type Utxo } from '../../chains/bitcoin/tx.js';
import { buildUnsigned as buildEthereum } from '../../chains/ethereum/tx.js';
import { buildUnsigned } from '../../chains/solana/tx.js';
import { chainDigest } from './chain-digest.js';
import { thrownCode as code } from '../../core/test-helpers/thrown-code.js';

const WALLET = '83astBRguLMdt2h5U1Tpdq5tjFoJ6noeGwaY3mDLVcri';
const CUSTOMER = '2iFZsRu4dQibj3vsKYBS7PhKt2LRqstUugqcgZgZoHDM';
const BLOCKHASH = 'EETubP5AKHgjPAhzPAFcb8BAY1hMH639CWCFTqi3hq1k';

describe('chainDigest (the node derives what it signs)', () => {
  it('parses a Solana transfer: the digest is the message, destination and amount come from the bytes', () => {
    const u = buildUnsigned({ to: CUSTOMER, amount: 1_500_000_000n }, { from: WALLET, recentBlockhash: BLOCKHASH as never });
    const d = chainDigest('solana', u.bytes);
    expect(d.digest).toEqual(u.bytes);
    expect(d.to).toBe(CUSTOMER);
    expect(d.amount).toBe(1_500_000_000n);
  });

  it('refuses bytes that are not a canonical transfer message (no raw signing path)', () => {
    const u = buildUnsigned({ to: CUSTOMER, amount: 1n }, { from: WALLET, recentBlockhash: BLOCKHASH as never });
    expect(() => chainDigest('solana', new TextEncoder().encode('sign me, anything'))).toThrow();
    expect(() => chainDigest('solana', new Uint8Array([...u.bytes, 0]))).toThrow(/canonically/);
  });

  it('refuses chains it does not know', () => {
    expect(code(() => chainDigest('raw', new Uint8Array(32)))).toBe('authorization_chain_unsupported');
    expect(code(() => chainDigest('bitcoin-signet', new Uint8Array(32)))).toBe('authorization_chain_unsupported');
  });
});

describe('chainDigest: Ethereum EIP-1559', () => {
  const to = '0x' + bytesToHex(keccak_256(new TextEncoder().encode('customer'))).slice(0, 40);
  const params = { chainId: 31337, nonce: 7n, maxFeePerGas: 20n * 10n ** 9n, maxPriorityFeePerGas: 10n ** 9n };

  it('derives keccak-256 of the unsigned envelope and reads destination and amount from it', () => {
    const u = buildEthereum({ to, amount: 10n ** 17n }, params);
    const d = chainDigest('ethereum', u.bytes);
    expect(bytesToHex(d.digest)).toBe(bytesToHex(keccak_256(u.bytes)));
    expect(d.to?.toLowerCase()).toBe(to);
    expect(d.amount).toBe(10n ** 17n);
  });

  it('ERC-20: destination and amount are the calldata recipient and token units', () => {
    const token = '0x' + 'ab'.repeat(20);
    const d = chainDigest('ethereum', buildEthereum({ to, amount: 2_500_000n, asset: token }, params).bytes);
    expect(d.to?.toLowerCase()).toBe(to);
    expect(d.amount).toBe(2_500_000n);
  });

  it('refuses what it cannot parse: a 32-byte "digest", trailing bytes, a legacy transaction', () => {
    const u = buildEthereum({ to, amount: 1n }, params);
    expect(code(() => chainDigest('ethereum', keccak_256(u.bytes)))).toBe('tx_malformed');
    expect(code(() => chainDigest('ethereum', new Uint8Array([...u.bytes, 0])))).toBe('tx_malformed');
    expect(code(() => chainDigest('ethereum', Uint8Array.from([0x01, ...u.bytes.subarray(1)])))).toBe('tx_malformed');
  });
});

describe('chainDigest: Bitcoin', () => {
  const customer = 'bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4';
  const attacker = 'bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0';
  const publicKey = secp256k1.getPublicKey(sha256(new TextEncoder().encode('custos/chain-digest/p2wpkh')), true);
  const wallet = { type: 'p2wpkh' as const, publicKey };
  const utxos: Utxo[] = [
    { txid: 'aa'.repeat(31) + '01', vout: 1, amount: 60_000n },
    { txid: 'bb'.repeat(31) + '02', vout: 0, amount: 30_000n },
  ];

  it('P2WPKH, one input: the BIP-143 sighash, destination and amount from the outputs', () => {
    const u = buildBitcoin({ to: customer, amount: 50_000n }, { network: 'mainnet', wallet, utxos, feeRate: 5n });
    const [digest] = signingDigests(u);
    const d = chainDigest('bitcoin', u.bytes);
    expect(bytesToHex(d.digest)).toBe(bytesToHex(digest as Uint8Array));
    expect(d).toMatchObject({ to: customer, amount: 50_000n });
    expect(d.taprootMerkleRoot).toBeUndefined();
  });

  it('several inputs: the claimed digest selects the input; an unknown claim yields a digest that does not match it', () => {
    const u = buildBitcoin({ to: customer, amount: 70_000n }, { network: 'mainnet', wallet, utxos, feeRate: 5n });
    const digests = signingDigests(u);
    expect(digests).toHaveLength(2);
    expect(bytesToHex(chainDigest('bitcoin', u.bytes, digests[1]).digest)).toBe(bytesToHex(digests[1] as Uint8Array));
    expect(bytesToHex(chainDigest('bitcoin', u.bytes, digests[0]).digest)).toBe(bytesToHex(digests[0] as Uint8Array));
    const other = new Uint8Array(32).fill(7);
    expect(bytesToHex(chainDigest('bitcoin', u.bytes, other).digest)).not.toBe(bytesToHex(other));
    expect(code(() => chainDigest('bitcoin', u.bytes))).toBe('authorization_bad_transaction');
  });

  it('P2TR key path: the BIP-341 sighash, signed under the BIP-86 tweaked key (empty merkle root)', () => {
    const outputKey = secp256k1.getPublicKey(sha256(new TextEncoder().encode('custos/chain-digest/p2tr')), true).subarray(1);
    const u = buildBitcoin({ to: customer, amount: 40_000n }, { network: 'mainnet', wallet: { type: 'p2tr', outputKey }, utxos, feeRate: 3n });
    const d = chainDigest('bitcoin', u.bytes);
    expect(bytesToHex(d.digest)).toBe(bytesToHex(signingDigests(u)[0] as Uint8Array));
    expect(d.taprootMerkleRoot).toEqual(new Uint8Array(0));
  });

  it('refuses a second payment and garbage; another network reads another destination', () => {
    const u = buildBitcoin({ to: customer, amount: 50_000n }, { network: 'mainnet', wallet, utxos, feeRate: 5n });
    const tx = ScureTx.fromPSBT(u.bytes);
    const change = tx.getOutput(1).amount as bigint; // taken from the change, so the amounts still add up
    tx.updateOutput(1, { amount: change - 1_000n });
    tx.addOutput({ script: bitcoinScriptPubKey('mainnet', attacker), amount: 1_000n });
    expect(code(() => chainDigest('bitcoin', tx.toPSBT(0)))).toBe('authorization_bad_transaction');
    // read as testnet, the same output is another address, so the authorization's destination will not match
    expect(chainDigest('bitcoin-testnet', u.bytes).to).not.toBe(customer);
    expect(code(() => chainDigest('bitcoin', new Uint8Array(32)))).toBe('tx_malformed');
    expect(walletScript(wallet)).toHaveLength(22);
  });
});
