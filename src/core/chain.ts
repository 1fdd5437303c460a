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
 * What a withdrawal holds while it is in flight: on its own account the amount, plus the fee where
 * the asset is the chain's own coin; a token's fee is held on the chain's native account instead
 * (`fee`, 0n for a native asset).
 */
export function holdsOf(chain: Chain, asset: string, amount: bigint, fee: bigint | null): { own: bigint; fee: bigint } {
  const native = asset === NATIVE_ASSET[chain];
  return { own: amount + (native && fee !== null ? fee : 0n), fee: !native && fee !== null ? fee : 0n };
}
