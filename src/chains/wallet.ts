/**
 * The hot wallet a threshold key controls, per chain: its address (what an account row holds) and
 * the shape the chain module needs to spend from it. Solana: the Ed25519 group key is the address.
 * Ethereum: the secp256k1 group key's EIP-55 address. Bitcoin: P2TR key path (BIP-86: the BIP-340
 * group key tweaked with an empty merkle root) for a schnorr key, P2WPKH for an ecdsa key.
 *
 * @example
 *   const w = thresholdWallet('solana', 'mainnet', { suite: 'ed25519', publicKey });
 *   await bindAccountKey(q, 'hot-sol', { keyId, address: w.address });
 */
import { Address, NETWORK, OutScript, TEST_NETWORK } from '@scure/btc-signer';
import { base58 } from '@scure/base';
import type { Chain, Network } from '../core/chain.js';
import { CustosError } from '../core/errors.js';
import { taprootOutputKey } from '../mpc/protocols/frost/taproot.js';
import { walletScript, type BitcoinWallet } from './bitcoin/tx.js';
import { addressOfPublicKey } from './ethereum/tx.js';

export interface ThresholdPublicKey {
  /** `ed25519` (FROST), `bip340` (FROST, BIP-340) or `secp256k1` (threshold ECDSA). */
  readonly suite: string;
  /** 32-byte Ed25519, or 33-byte compressed secp256k1 (BIP-340 keys: x-only is bytes 1..33). */
  readonly publicKey: Uint8Array;
}

export interface ThresholdWallet {
  readonly chain: Chain;
  readonly address: string;
  /** Bitcoin only: the wallet the PSBT spends from. */
  readonly bitcoin?: BitcoinWallet;
}

function btcNetwork(network: Network): typeof NETWORK {
  if (network === 'mainnet') return NETWORK;
  if (network === 'regtest') return { ...TEST_NETWORK, bech32: 'bcrt' };
  return TEST_NETWORK;
}

const unsuited = (chain: Chain, suite: string): never => {
  throw new CustosError('wallet_unsuited_key', `a ${suite} key cannot control a ${chain} wallet`, 422);
};

export function thresholdWallet(chain: Chain, network: Network, key: ThresholdPublicKey): ThresholdWallet {
  const pk = key.publicKey;
  switch (chain) {
    case 'solana':
      if (key.suite !== 'ed25519' || pk.length !== 32) unsuited(chain, key.suite);
      return { chain, address: base58.encode(pk) };
    case 'ethereum':
      if (key.suite === 'ed25519' || key.suite === 'bip340' || pk.length !== 33) unsuited(chain, key.suite);
      return { chain, address: addressOfPublicKey(pk) };
    case 'bitcoin': {
      let wallet: BitcoinWallet;
      if (key.suite === 'bip340' && (pk.length === 33 || pk.length === 32)) {
        wallet = { type: 'p2tr', outputKey: taprootOutputKey(pk, new Uint8Array(0)) };
      } else if (key.suite !== 'ed25519' && key.suite !== 'bip340' && pk.length === 33) {
        wallet = { type: 'p2wpkh', publicKey: pk };
      } else {
        return unsuited(chain, key.suite);
      }
      const address = Address(btcNetwork(network)).encode(OutScript.decode(walletScript(wallet)));
      return { chain, address, bitcoin: wallet };
    }
    default:
      throw new CustosError('wallet_unsuited_key', 'unknown chain', 422);
  }
}
