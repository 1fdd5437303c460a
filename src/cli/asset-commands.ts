/**
 * `custos assets set|list`: the assets custos handles, with their decimals and fee policy (the
 * minimum, cap and default fee stage 1 applies), configured by the operator and audited.
 * `custos accounts create` (signer-commands.ts) then opens an asset's hot-wallet account.
 *
 * @example
 *   registerAssetCommands(program, common);
 *   // custos assets set --chain ethereum --symbol ETH --network mainnet --decimals 18 --min-fee 0.000021 --max-fee 0.01 --default-fee 0.00063
 */
import type { Command } from 'commander';
import { formatAmount } from '../core/money.js';
import { listAssets } from '../store/accounts.js';
import { assetFromInput, configureAsset } from '../store/hot-wallets.js';
import { openConfiguredDb, type CommonOptions } from './env.js';

const integer = (v: string) => (/^\d{1,3}$/.test(v) ? Number(v) : NaN);

export function registerAssetCommands(program: Command, common: () => CommonOptions): void {
  const assets = program.command('assets').description('assets custos handles: decimals and fee policy per chain (audited)');
  assets
    .command('set')
    .description('configure an asset, or change its fee policy: fees are totals per withdrawal in the chain\'s own coin (ETH, BTC, SOL)')
    .requiredOption('--chain <chain>', 'ethereum, bitcoin or solana')
    .requiredOption('--symbol <symbol>', 'e.g. ETH, USDC (2–12 of A–Z 0–9)')
    .requiredOption('--network <network>', 'mainnet, testnet, regtest or devnet')
    .requiredOption('--decimals <n>', 'decimals of the asset', integer)
    .option('--fee-decimals <n>', 'decimals of the fee amounts (default: the chain coin\'s)', integer)
    .requiredOption('--min-fee <amount>', 'lowest fee accepted (below: fee_too_low)')
    .requiredOption('--max-fee <amount>', 'highest fee accepted (above: fee_too_high, the fee-drain guard)')
    .requiredOption('--default-fee <amount>', 'fee used when a request has none')
    .action(async (o: { chain: string; symbol: string; network: string; decimals: number; feeDecimals?: number; minFee: string; maxFee: string; defaultFee: string }) => {
      const asset = assetFromInput(o);
      const db = await openConfiguredDb(common());
      try {
        const { created } = await configureAsset(db, asset);
        console.log(`asset ${asset.symbol} on ${asset.chain} (${asset.network}) ${created ? 'created' : 'updated'}: ${asset.decimals} decimals, fees ${formatAmount(asset.minFee, asset.feeDecimals)} ≤ ${formatAmount(asset.defaultFee, asset.feeDecimals)} ≤ ${formatAmount(asset.maxFee, asset.feeDecimals)}`);
      } finally {
        await db.close();
      }
    });
  assets
    .command('list')
    .option('--json', 'one JSON array (fees as decimal strings)')
    .action(async (o: { json?: boolean }) => {
      const db = await openConfiguredDb(common());
      try {
        const rows = (await listAssets(db)).map((a) => ({
          chain: a.chain, symbol: a.symbol, network: a.network, decimals: a.decimals, feeDecimals: a.feeDecimals,
          minFee: formatAmount(a.minFee, a.feeDecimals), defaultFee: formatAmount(a.defaultFee, a.feeDecimals), maxFee: formatAmount(a.maxFee, a.feeDecimals),
        }));
        if (o.json) console.log(JSON.stringify(rows));
        else for (const r of rows) console.log(`${r.chain}/${r.symbol}  ${r.network}  ${r.decimals} decimals  fees ${r.minFee} ≤ ${r.defaultFee} ≤ ${r.maxFee}`);
      } finally {
        await db.close();
      }
    });
}
