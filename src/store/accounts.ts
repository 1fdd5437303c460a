/**
 * Assets (decimals and fee policy per chain) and hot-wallet accounts (balance, next nonce).
 *
 * @example
 *   await upsertAsset(q, { chain: 'ethereum', symbol: 'ETH', network: 'mainnet', decimals: 18, feeDecimals: 18, minFee: 21_000n * 10n ** 9n, maxFee: 10n ** 16n, defaultFee: 21_000n * 30n * 10n ** 9n });
 *   const nonce = await allocateNonce(q, 'eth-hot', null); // 0n, then 1n, …
 */
import type { Chain, Network } from '../core/chain.js';
import { CustosError } from '../core/errors.js';
import type { Queryable } from './db.js';

export interface Asset {
  chain: Chain;
  symbol: string;
  network: Network;
  decimals: number;
  feeDecimals: number;
  minFee: bigint;
  maxFee: bigint;
  defaultFee: bigint;
}

export interface Account {
  id: string;
  chain: Chain;
  asset: string;
  address: string;
  balance: bigint;
  /** Held by withdrawals in flight (migration 011); available = balance − reserved. */
  reserved: bigint;
  nextNonce: bigint;
}

export async function upsertAsset(q: Queryable, a: Asset): Promise<void> {
  await q.query(
    `INSERT INTO assets (chain, symbol, network, decimals, fee_decimals, min_fee, max_fee, default_fee)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT (chain, symbol) DO UPDATE SET network = EXCLUDED.network, decimals = EXCLUDED.decimals,
       fee_decimals = EXCLUDED.fee_decimals, min_fee = EXCLUDED.min_fee, max_fee = EXCLUDED.max_fee,
       default_fee = EXCLUDED.default_fee`,
    [a.chain, a.symbol, a.network, a.decimals, a.feeDecimals, a.minFee.toString(), a.maxFee.toString(), a.defaultFee.toString()],
  );
}

interface AssetRow {
  chain: Chain;
  symbol: string;
  network: Network;
  decimals: number;
  fee_decimals: number;
  min_fee: string;
  max_fee: string;
  default_fee: string;
}

const ASSET_COLS = 'chain, symbol, network, decimals, fee_decimals, min_fee::text AS min_fee, max_fee::text AS max_fee, default_fee::text AS default_fee';

function toAsset(r: AssetRow): Asset {
  return {
    chain: r.chain,
    symbol: r.symbol,
    network: r.network,
    decimals: Number(r.decimals),
    feeDecimals: Number(r.fee_decimals),
    minFee: BigInt(r.min_fee),
    maxFee: BigInt(r.max_fee),
    defaultFee: BigInt(r.default_fee),
  };
}

export async function getAsset(q: Queryable, chain: Chain, symbol: string): Promise<Asset | null> {
  const [r] = await q.query<AssetRow>(`SELECT ${ASSET_COLS} FROM assets WHERE chain = $1 AND symbol = $2`, [chain, symbol]);
  return r ? toAsset(r) : null;
}

export async function listAssets(q: Queryable): Promise<Asset[]> {
  return (await q.query<AssetRow>(`SELECT ${ASSET_COLS} FROM assets ORDER BY chain, symbol`)).map(toAsset);
}

export async function createAccount(q: Queryable, a: Omit<Account, 'nextNonce' | 'reserved'> & { nextNonce?: bigint }): Promise<void> {
  await q.query('INSERT INTO accounts (id, chain, asset, address, balance, next_nonce) VALUES ($1, $2, $3, $4, $5, $6)', [
    a.id,
    a.chain,
    a.asset,
    a.address,
    a.balance.toString(),
    (a.nextNonce ?? 0n).toString(),
  ]);
}

interface AccountRow {
  id: string;
  chain: Chain;
  asset: string;
  address: string;
  balance: string;
  reserved: string;
  next_nonce: string;
}
const ACCOUNT_COLS = 'id, chain, asset, address, balance::text AS balance, reserved::text AS reserved, next_nonce::text AS next_nonce';
const toAccount = (r: AccountRow): Account => ({
  id: r.id,
  chain: r.chain,
  asset: r.asset,
  address: r.address,
  balance: BigInt(r.balance),
  reserved: BigInt(r.reserved),
  nextNonce: BigInt(r.next_nonce),
});

/**
 * Sets an account's balance (the operator's record of what the wallet holds on its chain, after a
 * top-up or a reconciliation); returns the account before the change. What withdrawals in flight
 * hold is kept: a balance below it leaves nothing available until they settle.
 */
export async function setAccountBalance(q: Queryable, accountId: string, balance: bigint): Promise<Account> {
  if (balance < 0n) throw new CustosError('balance_invalid', 'a balance cannot be negative', 400);
  const [before] = await q.query<AccountRow>(`SELECT ${ACCOUNT_COLS} FROM accounts WHERE id = $1 FOR UPDATE`, [accountId]);
  if (!before) throw new CustosError('account_unknown', `no account ${accountId}`, 404);
  await q.query('UPDATE accounts SET balance = $2 WHERE id = $1', [accountId, balance.toString()]);
  return toAccount(before);
}

/** The hot-wallet account for a chain and asset; `forUpdate` locks the row for the transaction. */
export async function getAccountFor(q: Queryable, chain: Chain, asset: string, forUpdate = false): Promise<Account | null> {
  const [r] = await q.query<AccountRow>(
    `SELECT ${ACCOUNT_COLS} FROM accounts WHERE chain = $1 AND asset = $2${forUpdate ? ' FOR UPDATE' : ''}`,
    [chain, asset],
  );
  return r ? toAccount(r) : null;
}

export async function listAccounts(q: Queryable): Promise<Account[]> {
  return (await q.query<AccountRow>(`SELECT ${ACCOUNT_COLS} FROM accounts ORDER BY chain, asset`)).map(toAccount);
}

/**
 * Takes the account's next nonce inside the caller's transaction (the row stays locked until
 * commit, so concurrent allocations neither skip nor repeat). A client-supplied nonce must be
 * exactly the next one.
 */
export async function allocateNonce(q: Queryable, accountId: string, requested: bigint | null): Promise<bigint> {
  const [r] = await q.query<{ next_nonce: string }>('SELECT next_nonce::text AS next_nonce FROM accounts WHERE id = $1 FOR UPDATE', [accountId]);
  if (!r) throw new CustosError('account_unknown', `no account ${accountId}`, 404);
  const next = BigInt(r.next_nonce);
  if (requested !== null && requested !== next) {
    throw new CustosError('nonce_out_of_sequence', `nonce ${requested} is not the account's next nonce (${next})`, 422, {
      expected: next.toString(),
    });
  }
  await q.query('UPDATE accounts SET next_nonce = next_nonce + 1 WHERE id = $1', [accountId]);
  return next;
}
