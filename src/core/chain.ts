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
