/**
 * Assets (decimals and fee policy) and hot-wallet accounts from an operator's input, as
 * `custos assets set` and `custos accounts create` configure them: amounts are decimal strings
 * parsed exactly into base units, an account's address is validated (and normalised) for its
 * asset's chain and network, and every change is audited in the same transaction.
 *
 * @example
 *   const asset = assetFromInput({ chain: 'ethereum', symbol: 'DAI', network: 'mainnet', decimals: 18, minFee: '0.000065', maxFee: '0.02', defaultFee: '0.00195' });
 *   await configureAsset(db, asset);
 *   await openAccount(db, { id: 'hot-dai', chain: 'ethereum', asset: 'DAI', address: '0x…', balance: '250000' });
 */
import { appendAudit } from '../audit/chain.js';
import { validateAddress } from '../chains/address.js';
import { isChain, NATIVE_ASSET, NETWORKS, type Chain, type Network } from '../core/chain.js';
import { CustosError } from '../core/errors.js';
import { parseAmount } from '../core/money.js';
import { createAccount, getAccountFor, getAsset, listAccounts, upsertAsset, type Account, type Asset } from './accounts.js';
import type { Db } from './db.js';

/** Decimals of each chain's own coin, in which fees are counted. */
const NATIVE_DECIMALS: Readonly<Record<Chain, number>> = { ethereum: 18, bitcoin: 8, solana: 9 };
const SYMBOL = /^[A-Z0-9]{2,12}$/;
const ACCOUNT_ID = /^[A-Za-z0-9_.-]{1,64}$/;

export interface AssetInput {
  chain: string;
  symbol: string;
  network: string;
  decimals: number;
  /** Decimals of the fee amounts; default: those of the chain's own coin. */
  feeDecimals?: number | undefined;
  /** Fees as decimal strings in the chain's own coin (ETH, BTC, SOL): a total per withdrawal. */
  minFee: string;
  maxFee: string;
  defaultFee: string;
}

const invalid = (code: string, message: string) => new CustosError(code, message, 422);

/** The asset an input describes, or a CustosError naming what is wrong. Pure. */
export function assetFromInput(i: AssetInput): Asset {
  if (!isChain(i.chain)) throw invalid('chain_unknown', `chain must be one of ethereum, bitcoin, solana (got ${JSON.stringify(i.chain)})`);
  const chain = i.chain;
  if (!(NETWORKS as readonly string[]).includes(i.network)) throw invalid('network_unknown', `network must be one of ${NETWORKS.join(', ')}`);
  if (!SYMBOL.test(i.symbol)) throw invalid('asset_symbol_invalid', 'an asset symbol is 2–12 characters of A–Z and 0–9');
  const decimals = i.decimals;
  const feeDecimals = i.feeDecimals ?? NATIVE_DECIMALS[chain];
  for (const [name, d] of [['decimals', decimals], ['fee decimals', feeDecimals]] as const) {
    if (!Number.isInteger(d) || d < 0 || d > 36) throw invalid('decimals_invalid', `${name} must be an integer from 0 to 36`);
  }
  if (i.symbol === NATIVE_ASSET[chain] && (decimals !== NATIVE_DECIMALS[chain] || feeDecimals !== NATIVE_DECIMALS[chain])) {
    throw invalid('decimals_invalid', `${i.symbol} has ${NATIVE_DECIMALS[chain]} decimals on ${chain}`);
  }
  const minFee = parseAmount(i.minFee, feeDecimals, 'min_fee');
  const maxFee = parseAmount(i.maxFee, feeDecimals, 'max_fee');
  const defaultFee = parseAmount(i.defaultFee, feeDecimals, 'default_fee');
  if (!(minFee <= defaultFee && defaultFee <= maxFee)) throw invalid('fee_policy_invalid', 'the fees must satisfy min ≤ default ≤ max');
  return { chain, symbol: i.symbol, network: i.network as Network, decimals, feeDecimals, minFee, maxFee, defaultFee };
}

/** Creates or replaces an asset's configuration (audited `asset.configured`); says whether it was new. */
export async function configureAsset(db: Db, a: Asset, now = Date.now()): Promise<{ created: boolean }> {
  return db.tx(async (q) => {
    const before = await getAsset(q, a.chain, a.symbol);
    if (before && before.network !== a.network && (await getAccountFor(q, a.chain, a.symbol))) {
      throw new CustosError('asset_in_use', `${a.symbol} on ${a.chain} has a hot-wallet account on ${before.network}; its network cannot change`, 409);
    }
    await upsertAsset(q, a);
    await appendAudit(q, { at: now, actor: 'operator', action: 'asset.configured', subject: `asset:${a.chain}:${a.symbol}`, data: { ...a, previous: before } });
    return { created: before === null };
  });
}

export interface AccountInput {
  id: string;
  chain: string;
  asset: string;
  address: string;
  /** Decimal string in the asset's units (default 0). */
  balance?: string | undefined;
}

/** Opens the hot-wallet account of a configured asset (one per chain and asset; audited `account.created`). */
export async function openAccount(db: Db, i: AccountInput, now = Date.now()): Promise<Account> {
  if (!ACCOUNT_ID.test(i.id)) throw invalid('account_id_invalid', 'an account id is 1–64 characters of A–Z a–z 0–9 _ . -');
  if (!isChain(i.chain)) throw invalid('chain_unknown', `chain must be one of ethereum, bitcoin, solana (got ${JSON.stringify(i.chain)})`);
  const chain = i.chain;
  return db.tx(async (q) => {
    const asset = await getAsset(q, chain, i.asset);
    if (!asset) throw new CustosError('asset_unknown', `${i.asset} is not a configured asset on ${chain} (custos assets set)`, 404);
    const addr = validateAddress(chain, asset.network, i.address);
    if (!addr.ok) throw invalid(addr.code, addr.message);
    const balance = parseAmount(i.balance ?? '0', asset.decimals, 'balance');
    const taken = (await listAccounts(q)).find((a) => a.id === i.id || (a.chain === chain && a.asset === asset.symbol));
    if (taken) throw new CustosError('account_exists', `account ${taken.id} already holds ${taken.asset} on ${taken.chain}`, 409);
    const account = { id: i.id, chain, asset: asset.symbol, address: addr.normalized, balance };
    await createAccount(q, account);
    await appendAudit(q, { at: now, actor: 'operator', action: 'account.created', subject: `account:${i.id}`, data: { ...account } });
    return { ...account, reserved: 0n, nextNonce: 0n };
  });
}
