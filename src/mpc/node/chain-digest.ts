/**
 * The digest a signing node derives itself from the unsigned transaction, per chain (the node
 * never signs a digest it was handed). Wired into `custos mpc-node`.
 *
 * - solana: the legacy System-transfer message is parsed strictly (src/chains/solana/tx.ts);
 *   the signature is over the message bytes; destination and amount are returned so the node
 *   checks them against the authorization.
 * - other chains: refused until their signing path is wired here (Ethereum and Bitcoin P2WPKH
 *   need the CGGMP21 driver; Bitcoin P2TR needs per-input sighashes).
 *
 * @example
 *   const { digest, to, amount } = chainDigest('solana', messageBytes);
 */
import { parseUnsigned, signingDigest } from '../../chains/solana/tx.js';
import { AuthorizationRefused, type DeriveDigest } from './authorization.js';

export const chainDigest: DeriveDigest = (chain, unsignedTx) => {
  if (chain === 'solana') {
    const u = { chain: 'solana' as const, bytes: unsignedTx };
    const parsed = parseUnsigned(u);
    return { digest: signingDigest(u), to: parsed.to, amount: parsed.amount };
  }
  throw new AuthorizationRefused('authorization_chain_unsupported', `this node does not sign ${chain} transactions yet`);
};
