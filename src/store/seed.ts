/**
 * A starter configuration: assets with their fee policies and funded hot-wallet accounts, used
 * by `custos demo` and by tests. Fee figures are totals in the chain's native unit:
 * Ethereum 21,000 gas × 1–476 gwei, Bitcoin about 141 vB × 1–700 sat/vB, Solana 5,000 lamports base fee.
 *
 * @example
 *   await seedStarter(db, { customerId: 'demo' });
 */
import { appendAudit } from '../audit/chain.js';
import type { Db } from './db.js';
import { createAccount, getAccountFor, upsertAsset, type Asset } from './accounts.js';
import { createCustomer, getCustomer } from './customers.js';

export const STARTER_ASSETS: Asset[] = [
  { chain: 'ethereum', symbol: 'ETH', network: 'mainnet', decimals: 18, feeDecimals: 18, minFee: 21_000n * 10n ** 9n, maxFee: 10n ** 16n, defaultFee: 21_000n * 30n * 10n ** 9n },
  { chain: 'ethereum', symbol: 'USDC', network: 'mainnet', decimals: 6, feeDecimals: 18, minFee: 65_000n * 10n ** 9n, maxFee: 2n * 10n ** 16n, defaultFee: 65_000n * 30n * 10n ** 9n },
  { chain: 'bitcoin', symbol: 'BTC', network: 'mainnet', decimals: 8, feeDecimals: 8, minFee: 150n, maxFee: 100_000n, defaultFee: 2_000n },
  { chain: 'solana', symbol: 'SOL', network: 'mainnet', decimals: 9, feeDecimals: 9, minFee: 5_000n, maxFee: 10_000_000n, defaultFee: 5_000n },
];

/** Starter hot wallets. Their addresses are placeholders until threshold keys are generated (see README). */
export const STARTER_ACCOUNTS = [
  { id: 'hot-eth', chain: 'ethereum', asset: 'ETH', address: '0x52908400098527886E0F7030069857D2E4169EE7', balance: 500n * 10n ** 18n },
  { id: 'hot-usdc', chain: 'ethereum', asset: 'USDC', address: '0x8617E340B3D01FA5F11F306F4090FD50E238070D', balance: 2_000_000n * 10n ** 6n },
  { id: 'hot-btc', chain: 'bitcoin', asset: 'BTC', address: 'bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4', balance: 25n * 10n ** 8n },
  { id: 'hot-sol', chain: 'solana', asset: 'SOL', address: '83astBRguLMdt2h5U1Tpdq5tjFoJ6noeGwaY3mDLVcri', balance: 10_000n * 10n ** 9n },
] as const;

export async function seedStarter(db: Db, opts: { customerId: string; customerName?: string; now?: number }): Promise<void> {
  const now = opts.now ?? Date.now();
  await db.tx(async (q) => {
    for (const a of STARTER_ASSETS) await upsertAsset(q, a);
    for (const acc of STARTER_ACCOUNTS) {
      if (await getAccountFor(q, acc.chain, acc.asset)) continue;
      await createAccount(q, { ...acc });
      await appendAudit(q, { at: now, actor: 'operator', action: 'account.created', subject: `account:${acc.id}`, data: { ...acc } });
    }
    if (!(await getCustomer(q, opts.customerId))) {
      await createCustomer(q, { id: opts.customerId, name: opts.customerName ?? opts.customerId });
      await appendAudit(q, { at: now, actor: 'operator', action: 'customer.created', subject: `customer:${opts.customerId}`, data: {} });
    }
  });
}
