import { ed25519 } from '@noble/curves/ed25519.js';
import { schnorr, secp256k1 } from '@noble/curves/secp256k1.js';
import { keccak_256 } from '@noble/hashes/sha3.js';
import { hexToBytes } from '@noble/hashes/utils.js';
import { base58 } from '@scure/base';
import { describe, expect, it } from 'vitest';
import { addressOfPublicKey, assemble as ethAssemble, buildUnsigned as ethBuild } from './ethereum/tx.js';
import { chainSignature } from './signature.js';
import { thresholdWallet } from './wallet.js';

// Key and address pair from the web3.js documentation (web3.eth.accounts.privateKeyToAccount example).
const secret = hexToBytes('4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318');
const pub = secp256k1.getPublicKey(secret, true);

describe('chainSignature', () => {
  it('turns r || s into {r, s, recovery} that recovers the threshold key, whichever recovery id it needs', () => {
    const recoveries = new Set<number>();
    for (let i = 0; i < 8; i++) {
      const digest = keccak_256(new Uint8Array([i]));
      const sig = secp256k1.Signature.fromBytes(secp256k1.sign(digest, secret, { prehash: false }), 'compact');
      const rs = sig.toBytes('compact');
      const out = chainSignature('ethereum', rs, pub, digest) as { r: bigint; s: bigint; recovery: number };
      expect(out.r).toBe(sig.r);
      recoveries.add(out.recovery);
      expect(new secp256k1.Signature(out.r, out.s, out.recovery).recoverPublicKey(digest).toBytes(true)).toEqual(pub);
    }
    expect(recoveries.size).toBe(2); // both recovery ids occurred and were found
  });

  it('gives a signature that makes a transaction whose sender is the threshold key address', () => {
    const unsigned = ethBuild({ to: '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed', amount: 10n ** 15n }, { chainId: 31337, nonce: 0n, maxFeePerGas: 10n ** 10n, maxPriorityFeePerGas: 10n ** 9n });
    const digest = keccak_256(unsigned.bytes);
    const rs = secp256k1.sign(digest, secret, { prehash: false });
    const sig = chainSignature('ethereum', rs, pub, digest) as { r: bigint; s: bigint; recovery: number };
    expect(ethAssemble(unsigned, sig).from).toBe(addressOfPublicKey(pub));
  });

  it('refuses a signature by another key, a wrong length, and a key that is not a point', () => {
    const digest = keccak_256(new Uint8Array([1]));
    const other = secp256k1.sign(digest, hexToBytes('11'.repeat(32)), { prehash: false });
    expect(() => chainSignature('ethereum', other, pub, digest)).toThrow(expect.objectContaining({ code: 'tx_bad_signature' }));
    expect(() => chainSignature('ethereum', new Uint8Array(63), pub, digest)).toThrow(expect.objectContaining({ code: 'tx_bad_signature' }));
    expect(() => chainSignature('ethereum', other, new Uint8Array(33).fill(7), digest)).toThrow(expect.objectContaining({ code: 'tx_bad_signature' }));
    expect(() => chainSignature('solana', new Uint8Array(65), pub, digest)).toThrow(expect.objectContaining({ code: 'tx_bad_signature' }));
  });
});

describe('thresholdWallet', () => {
  it('derives each chain address from the group key and refuses unsuited keys', () => {
    const ed = ed25519.getPublicKey(new Uint8Array(32).fill(3));
    expect(thresholdWallet('solana', 'mainnet', { suite: 'ed25519', publicKey: ed }).address).toBe(base58.encode(ed));
    expect(thresholdWallet('ethereum', 'mainnet', { suite: 'secp256k1', publicKey: pub }).address).toBe('0x2c7536E3605D9C16a7a3D7b1898e529396a65c23');
    const p2wpkh = thresholdWallet('bitcoin', 'mainnet', { suite: 'secp256k1', publicKey: pub });
    expect(p2wpkh.address.startsWith('bc1q')).toBe(true);
    const bip = secp256k1.getPublicKey(new Uint8Array(32).fill(5), true);
    const p2tr = thresholdWallet('bitcoin', 'regtest', { suite: 'bip340', publicKey: bip });
    expect(p2tr.address.startsWith('bcrt1p')).toBe(true);
    expect(p2tr.bitcoin?.type).toBe('p2tr');
    // The output key is the BIP-86 tweak of the group key, not the group key itself.
    expect((p2tr.bitcoin as { outputKey: Uint8Array }).outputKey).not.toEqual(schnorr.getPublicKey(new Uint8Array(32).fill(5)));
    expect(() => thresholdWallet('solana', 'mainnet', { suite: 'bip340', publicKey: bip })).toThrow(expect.objectContaining({ code: 'wallet_unsuited_key' }));
    expect(() => thresholdWallet('ethereum', 'mainnet', { suite: 'ed25519', publicKey: ed })).toThrow(expect.objectContaining({ code: 'wallet_unsuited_key' }));
  });
});
