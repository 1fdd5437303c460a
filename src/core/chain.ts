/** Chains and networks custos knows. One name per concept: a `Chain` is never a "network" elsewhere. */
export const CHAINS = ['ethereum', 'bitcoin', 'solana'] as const;
export type Chain = (typeof CHAINS)[number];

export const NETWORKS = ['mainnet', 'testnet', 'regtest', 'devnet'] as const;
export type Network = (typeof NETWORKS)[number];

export function isChain(value: unknown): value is Chain {
  return typeof value === 'string' && (CHAINS as readonly string[]).includes(value);
}

/** Account-based chains carry a per-account nonce that custos allocates. */
export function isAccountBased(chain: Chain): boolean {
  return chain === 'ethereum';
}

/** The chain's own coin, in which its fees are paid: ETH, BTC, SOL. */
export const NATIVE_ASSET: Readonly<Record<Chain, string>> = { ethereum: 'ETH', bitcoin: 'BTC', solana: 'SOL' };

/**
 * What a withdrawal holds on its hot-wallet account while it is in flight: the amount, plus the
 * fee where the asset is the chain's own coin (a token's fee is paid from another account).
 */
export function heldAmount(chain: Chain, asset: string, amount: bigint, fee: bigint | null): bigint {
  return amount + (asset === NATIVE_ASSET[chain] && fee !== null ? fee : 0n);
}
