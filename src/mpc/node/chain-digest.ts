/**
 * The digest a signing node derives itself from the unsigned transaction, per chain (the node
 * never signs a digest it was handed). Wired into `custos mpc-node`. Anything that does not parse
 * strictly as a withdrawal is refused.
 *
 * - `solana`: the legacy System-transfer message (src/chains/solana/tx.ts); the signature is over
 *   the message bytes; destination and amount come from the message.
 * - `ethereum`: the unsigned EIP-1559 envelope (src/chains/ethereum/tx.ts: plain ETH transfer or
 *   ERC-20 `transfer`); the digest is its keccak-256; destination and amount come from the
 *   envelope (for ERC-20 from the calldata: recipient and token units); the asset is `ETH` or the
 *   token contract, which the node checks against the withdrawal's asset and its pinned `tokens`;
 *   the chain id, which a node with `chainIds.ethereum` in its configuration checks.
 * - `bitcoin` (mainnet), `bitcoin-testnet`, `bitcoin-regtest`: a PSBT spending one wallet script
 *   (src/chains/bitcoin/tx.ts). The digest is the sighash of the input being signed: BIP-143
 *   (SIGHASH_ALL) for P2WPKH, threshold ECDSA; BIP-341 key path (SIGHASH_DEFAULT) for P2TR, FROST
 *   BIP-340 under the BIP-86 tweaked output key (`taprootMerkleRoot` empty). Which input: the one
 *   whose sighash equals the digest the authorization names (`claimedDigest`); without a claim only
 *   single-input spends are accepted. The spend must pay exactly one destination; every other
 *   output must return to the wallet script. A PSBT that lies about the spent scripts or amounts
 *   only yields signatures that the chain rejects (both sighashes commit to them).
 *
 * @example
 *   const { digest, to, amount } = chainDigest('ethereum', unsignedEnvelope);
 */
import { bytesToHex } from '@noble/hashes/utils.js';
import { parseUnsigned as parseBitcoin, signingDigests as bitcoinDigests } from '../../chains/bitcoin/tx.js';
import { parseForSigning as parseEthereum } from '../../chains/ethereum/tx.js';
import { parseUnsigned as parseSolana, signingDigest as solanaDigest } from '../../chains/solana/tx.js';
import type { Network } from '../../core/chain.js';
import { AuthorizationRefused, type DeriveDigest, type DerivedDigest } from './authorization.js';

const BITCOIN_NETWORKS: Readonly<Record<string, Network>> = { bitcoin: 'mainnet', 'bitcoin-testnet': 'testnet', 'bitcoin-regtest': 'regtest' };

function bitcoin(network: Network, unsignedTx: Uint8Array, claimed: Uint8Array | undefined): DerivedDigest {
  const u = { chain: 'bitcoin' as const, bytes: unsignedTx };
  const parsed = parseBitcoin(u, network);
  if (parsed.payments.length !== 1) throw new AuthorizationRefused('authorization_bad_transaction', 'a withdrawal pays exactly one destination');
  const digests = bitcoinDigests(u, network);
  let digest: Uint8Array | undefined;
  if (claimed === undefined) {
    if (digests.length !== 1) throw new AuthorizationRefused('authorization_bad_transaction', 'name the input to sign (its sighash) for a spend with several inputs');
    digest = digests[0];
  } else {
    const want = bytesToHex(claimed);
    digest = digests.find((d) => bytesToHex(d) === want) ?? digests[0];
  }
  return {
    digest: digest as Uint8Array, to: parsed.to, amount: parsed.amount, asset: parsed.asset,
    ...(parsed.walletType === 'p2tr' ? { taprootMerkleRoot: new Uint8Array(0) } : {}),
  };
}

export const chainDigest: DeriveDigest = (chain, unsignedTx, claimedDigest) => {
  if (chain === 'solana') {
    const u = { chain: 'solana' as const, bytes: unsignedTx };
    const parsed = parseSolana(u);
    return { digest: solanaDigest(u), to: parsed.to, amount: parsed.amount, asset: parsed.asset };
  }
  if (chain === 'ethereum') {
    const { parsed, digest } = parseEthereum({ chain: 'ethereum', bytes: unsignedTx }); // one strict parse for both
    return { digest, to: parsed.to, amount: parsed.amount, asset: parsed.asset, chainId: parsed.chainId };
  }
  const network = BITCOIN_NETWORKS[chain];
  if (network) return bitcoin(network, unsignedTx, claimedDigest);
  throw new AuthorizationRefused('authorization_chain_unsupported', `this node does not sign ${chain} transactions`);
};
