import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../core/clock.js';
import { createCredential } from '../gateway/credentials.js';
import { submitWithdrawal } from '../pipeline/intake.js';
import { installIntakeOnlyPolicy } from '../pipeline/test-helpers/policy.js';
import { createCustomer } from './customers.js';
import type { Db } from './db.js';
import { assetFromInput, configureAsset, openAccount, type AssetInput } from './hot-wallets.js';
import { getAsset, listAccounts } from './accounts.js';
import { TEST_DBS } from './test-helpers/db.js';

const DAI: AssetInput = { chain: 'ethereum', symbol: 'DAI', network: 'mainnet', decimals: 18, minFee: '0.000065', maxFee: '0.02', defaultFee: '0.00195' };
const ETH: AssetInput = { chain: 'ethereum', symbol: 'ETH', network: 'mainnet', decimals: 18, minFee: '0.000021', maxFee: '0.01', defaultFee: '0.00063' };
const USDC: AssetInput = { chain: 'ethereum', symbol: 'USDC', network: 'mainnet', decimals: 6, minFee: '0.000065', maxFee: '0.02', defaultFee: '0.00195' };
const ADDRESS = '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed'; // EIP-55 example

describe('assetFromInput', () => {
  it('parses fees exactly in the chain coin\'s decimals by default', () => {
    expect(assetFromInput(DAI)).toEqual({ ...DAI, feeDecimals: 18, minFee: 65_000_000_000_000n, maxFee: 2n * 10n ** 16n, defaultFee: 1_950_000_000_000_000n });
    expect(assetFromInput({ chain: 'bitcoin', symbol: 'BTC', network: 'testnet', decimals: 8, minFee: '0.0000015', maxFee: '0.001', defaultFee: '0.00002' }).minFee).toBe(150n);
  });
  it.each([
    ['chain_unknown', { chain: 'dogecoin' }],
    ['network_unknown', { network: 'goerli' }],
    ['asset_symbol_invalid', { symbol: 'dai' }],
    ['asset_symbol_invalid', { symbol: 'D' }],
    ['decimals_invalid', { decimals: 37 }],
    ['decimals_invalid', { decimals: 1.5 }],
    ['decimals_invalid', { symbol: 'ETH', decimals: 6 }],
    ['min_fee_too_precise', { minFee: '0.0000000000000000001' }],
    ['max_fee_invalid', { maxFee: '-1' }],
    ['default_fee_invalid', { defaultFee: '1e-3' }],
    ['fee_policy_invalid', { minFee: '0.03' }],
    ['fee_policy_invalid', { defaultFee: '0.05' }],
  ] as [string, Partial<AssetInput>][])('refuses %s (%j)', (code, over) => {
    expect(() => assetFromInput({ ...DAI, ...over })).toThrow(expect.objectContaining({ code }));
  });
});

describe.each(TEST_DBS)('configuring assets and hot-wallet accounts on $name', (backend) => {
  let db: Db;
  beforeAll(async () => {
    db = await backend.open();
  }, 120_000);
  afterAll(async () => {
    await db?.close();
  });

  it('a new database gets its assets and accounts from operator input, audited, and takes withdrawals against them', async () => {
    expect(await configureAsset(db, assetFromInput(ETH))).toEqual({ created: true });
    expect(await configureAsset(db, assetFromInput(USDC))).toEqual({ created: true });
    expect(await configureAsset(db, assetFromInput({ ...USDC, maxFee: '0.03' }))).toEqual({ created: false });
    expect((await getAsset(db, 'ethereum', 'USDC'))?.maxFee).toBe(3n * 10n ** 16n);

    const eth = await openAccount(db, { id: 'hot-eth', chain: 'ethereum', asset: 'ETH', address: ADDRESS.toLowerCase(), balance: '10' });
    expect(eth).toMatchObject({ address: ADDRESS, balance: 10n * 10n ** 18n, reserved: 0n, nextNonce: 0n }); // normalised to EIP-55
    await openAccount(db, { id: 'hot-usdc', chain: 'ethereum', asset: 'USDC', address: ADDRESS, balance: '250000.5' });
    expect((await listAccounts(db)).map((a) => [a.id, a.balance])).toEqual([
      ['hot-eth', 10n * 10n ** 18n],
      ['hot-usdc', 250_000_500_000n],
    ]);
    const [audit] = await db.query<{ n: string }>("SELECT count(*)::text AS n FROM audit_entries WHERE action IN ('asset.configured', 'account.created')");
    expect(audit?.n).toBe('5');

    // the intake uses them (the starter policy declares USDC): the withdrawal holds its amount on
    // hot-usdc and its fee, the configured default, on hot-eth
    await installIntakeOnlyPolicy(db);
    await createCustomer(db, { id: 'acme', name: 'Acme' });
    const credentialId = (await createCredential(db, { customerId: 'acme', scopes: ['withdraw'] })).credentialId;
    const { withdrawal } = await submitWithdrawal(db, systemClock, {
      customerId: 'acme', credentialId, idempotencyKey: 'k1',
      request: { chain: 'ethereum', asset: 'USDC', to: '0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359', amount: '100' },
    });
    expect(withdrawal.status, JSON.stringify(withdrawal.decisions)).toBe('approved');
    expect(withdrawal.fee).toBe(1_950_000_000_000_000n);
    expect((await listAccounts(db)).map((a) => [a.id, a.reserved])).toEqual([
      ['hot-eth', 1_950_000_000_000_000n],
      ['hot-usdc', 100_000_000n],
    ]);
  });

  it('refuses accounts it cannot use: unknown asset, bad address, a second account for one asset, a bad id or balance', async () => {
    await configureAsset(db, assetFromInput(DAI));
    const base = { id: 'hot-x', chain: 'ethereum', asset: 'USDC', address: ADDRESS };
    for (const [over, code] of [
      [{ asset: 'USDT' }, 'asset_unknown'],
      [{ asset: 'DAI', balance: '0.1234567890123456789' }, 'balance_too_precise'],
      [{ address: '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD' }, 'address_checksum'],
      [{ address: 'bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4' }, 'address_format'],
      [{}, 'account_exists'],
      [{ id: 'hot-eth', asset: 'ETH' }, 'account_exists'],
      [{ id: 'has space' }, 'account_id_invalid'],
      [{ chain: 'tron' }, 'chain_unknown'],
    ] as [Record<string, string>, string][]) {
      await expect(openAccount(db, { ...base, ...over }), code).rejects.toMatchObject({ code });
    }
    expect((await listAccounts(db)).map((a) => a.id)).toEqual(['hot-eth', 'hot-usdc']);
  });

  it('does not move an asset that has an account to another network', async () => {
    await expect(configureAsset(db, assetFromInput({ ...USDC, network: 'testnet' }))).rejects.toMatchObject({ code: 'asset_in_use' });
    expect((await getAsset(db, 'ethereum', 'USDC'))?.network).toBe('mainnet');
    // an asset without an account may move (DAI was configured above and has none)
    expect(await configureAsset(db, assetFromInput({ ...DAI, network: 'testnet' }))).toEqual({ created: false });
  });
});
