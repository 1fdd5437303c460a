/**
 * `custos signer`: runs the signer role (src/cli/signer.ts) against the configured database until
 * SIGINT/SIGTERM, printing one line per signed, failed or deferred withdrawal and per broadcast
 * transition; `--once` runs one signing round and one broadcast pass and exits (cron, operators);
 * `--withdrawal ID` limits it to those withdrawals. `custos accounts bind-key` puts a hot-wallet
 * account under a threshold key (its address becomes the key's wallet address; audited), which is
 * what makes the account's approved withdrawals signable.
 *
 * @example
 *   registerSignerCommands(program, common);
 *   // custos accounts bind-key --account hot-sol --key-id ed25519-…   then   custos signer --once
 */
import { hexToBytes } from '@noble/hashes/utils.js';
import type { Command } from 'commander';
import { appendAudit } from '../audit/chain.js';
import { thresholdWallet } from '../chains/wallet.js';
import { CustosError } from '../core/errors.js';
import { Coordinator } from '../mpc/coordinator/coordinator.js';
import { formatAmount, parseAmount } from '../core/money.js';
import { getAsset, listAccounts, listAssets, setAccountBalance } from '../store/accounts.js';
import { openAccount } from '../store/hot-wallets.js';
import { bindAccountKey, listAccountKeys } from '../store/outbound.js';
import { readClusterFile } from './mpc-commands.js';
import { dataDir, describeStore, openConfiguredDb, type CommonOptions } from './env.js';
import { signerClusterFile, startSigner, type Signer } from './signer.js';

/** Fault tests only: CUSTOS_SIGNER_TEST_HOOK=pause-after-nodes-signed stops the worker there (the test kills it). */
function testHookFromEnv(env: NodeJS.ProcessEnv) {
  const hook = env.CUSTOS_SIGNER_TEST_HOOK;
  if (hook === undefined) return undefined;
  if (hook !== 'pause-after-nodes-signed') throw new CustosError('signer_bad_test_hook', 'unknown CUSTOS_SIGNER_TEST_HOOK');
  return async (point: string, withdrawalId: string): Promise<void> => {
    if (point !== 'signed-by-nodes') return;
    console.log(`TEST HOOK: paused after the nodes signed ${withdrawalId}`);
    await new Promise<never>(() => {});
  };
}

export function registerSignerCommands(program: Command, common: () => CommonOptions): void {
  const accounts = program.command('accounts').description('hot-wallet accounts and the threshold keys that control them');
  accounts
    .command('list')
    .description('each account with its balance, what withdrawals in flight hold of it, what is available, and its threshold key')
    .option('--json', 'one JSON array (amounts as decimal strings in the asset\'s units)')
    .action(async (o: { json?: boolean }) => {
      const db = await openConfiguredDb(common());
      try {
        const keys = new Map((await listAccountKeys(db)).map((k) => [k.accountId, k.keyId]));
        const decimalsOf = new Map((await listAssets(db)).map((a) => [`${a.chain}:${a.symbol}`, a.decimals]));
        const rows = (await listAccounts(db)).map((a) => {
          const decimals = decimalsOf.get(`${a.chain}:${a.asset}`) ?? 0;
          const available = a.balance > a.reserved ? a.balance - a.reserved : 0n;
          return {
            accountId: a.id, chain: a.chain, asset: a.asset, address: a.address,
            balance: formatAmount(a.balance, decimals), held: formatAmount(a.reserved, decimals), available: formatAmount(available, decimals),
            keyId: keys.get(a.id) ?? null,
          };
        });
        if (o.json) console.log(JSON.stringify(rows));
        else
          for (const r of rows)
            console.log(`${r.accountId}  ${r.chain}/${r.asset}  ${r.address}  balance ${r.balance}, held ${r.held}, available ${r.available}  key ${r.keyId ?? '(none: withdrawals wait approved)'}`);
      } finally {
        await db.close();
      }
    });
  accounts
    .command('create')
    .description('open the hot-wallet account of a configured asset (custos assets set): one per chain and asset, the address checked for its network (audited)')
    .requiredOption('--id <id>', 'account id, e.g. hot-eth (A–Z a–z 0–9 _ . -)')
    .requiredOption('--chain <chain>', 'ethereum, bitcoin or solana')
    .requiredOption('--asset <symbol>', 'the asset it holds, e.g. ETH')
    .requiredOption('--address <address>', 'the wallet address (replaced by the threshold key\'s with accounts bind-key)')
    .option('--balance <amount>', 'what it holds on its chain, in the asset\'s units', '0')
    .action(async (o: { id: string; chain: string; asset: string; address: string; balance: string }) => {
      const db = await openConfiguredDb(common());
      try {
        const a = await openAccount(db, o);
        const decimals = (await getAsset(db, a.chain, a.asset))?.decimals ?? 0;
        console.log(`account ${a.id} created: ${a.chain}/${a.asset} at ${a.address}, balance ${formatAmount(a.balance, decimals)}`);
      } finally {
        await db.close();
      }
    });
  accounts
    .command('set-balance')
    .description('record what a hot wallet holds on its chain (after a top-up or a reconciliation; audited); what withdrawals in flight hold stays held')
    .requiredOption('--account <id>', 'account id (custos accounts list)')
    .requiredOption('--balance <amount>', 'decimal amount in the asset\'s units, e.g. 12.5')
    .action(async (o: { account: string; balance: string }) => {
      const db = await openConfiguredDb(common());
      try {
        const account = (await listAccounts(db)).find((a) => a.id === o.account);
        if (!account) throw new CustosError('account_unknown', `no account ${o.account}`);
        const decimals = (await getAsset(db, account.chain, account.asset))?.decimals;
        if (decimals === undefined) throw new CustosError('asset_unknown', `account ${account.id} holds ${account.asset}, which is not a configured asset`);
        const balance = parseAmount(o.balance, decimals, 'balance');
        const before = await db.tx(async (q) => {
          const prior = await setAccountBalance(q, account.id, balance);
          await appendAudit(q, {
            at: Date.now(), actor: 'operator', action: 'account.balance_set', subject: `account:${account.id}`,
            data: { from: prior.balance, to: balance, held: prior.reserved },
          });
          return prior;
        });
        const available = balance > before.reserved ? balance - before.reserved : 0n;
        console.log(
          `account ${account.id} (${account.chain}/${account.asset}): balance ${formatAmount(before.balance, decimals)} → ${formatAmount(balance, decimals)}, held ${formatAmount(before.reserved, decimals)}, available ${formatAmount(available, decimals)}`,
        );
      } finally {
        await db.close();
      }
    });
  accounts
    .command('bind-key')
    .description('control a hot-wallet account with a threshold key: its address becomes the key\'s wallet address for the chain (audited)')
    .requiredOption('--account <id>', 'account id (custos accounts list)')
    .requiredOption('--key-id <id>', 'threshold key held by the nodes (custos keys list)')
    .option('--cluster <file>', 'cluster file (default CUSTOS_MPC_CLUSTER or <data-dir>/mpc/cluster.json)')
    .action(async (o: { account: string; keyId: string; cluster?: string }) => {
      const file = o.cluster ?? signerClusterFile(dataDir(common()), process.env);
      if (!file) throw new CustosError('signer_no_cluster', 'no signing nodes configured: start them with `custos mpc-cluster` or pass --cluster');
      const key = (await new Coordinator({ nodes: readClusterFile(file) }).listKeys()).find((k) => k.keyId === o.keyId);
      if (!key) throw new CustosError('mpc_unknown_key', `no reachable node holds key ${o.keyId}`);
      const db = await openConfiguredDb(common());
      try {
        const account = (await listAccounts(db)).find((a) => a.id === o.account);
        if (!account) throw new CustosError('account_unknown', `no account ${o.account}`);
        const asset = await getAsset(db, account.chain, account.asset);
        const wallet = thresholdWallet(account.chain, asset?.network ?? 'mainnet', { suite: key.suite, publicKey: hexToBytes(key.publicKey) });
        await db.tx(async (q) => {
          await bindAccountKey(q, account.id, { keyId: key.keyId, address: wallet.address });
          await appendAudit(q, {
            at: Date.now(), actor: 'operator', action: 'account.key_bound', subject: `account:${account.id}`,
            data: { keyId: key.keyId, suite: key.suite, publicKey: key.publicKey, address: wallet.address, previousAddress: account.address },
          });
        });
        console.log(`account ${account.id} (${account.chain}/${account.asset}) is controlled by key ${key.keyId}: address ${wallet.address}`);
      } finally {
        await db.close();
      }
    });

  program
    .command('signer')
    .description('sign approved withdrawals with the signing nodes, broadcast them where an endpoint is configured, refresh key shares on schedule')
    .option('--cluster <file>', 'cluster file (default CUSTOS_MPC_CLUSTER or <data-dir>/mpc/cluster.json)')
    .option('--once', 'one signing round and one broadcast pass, then exit')
    .option('--withdrawal <id...>', 'only these withdrawals')
    .action(async (o: { cluster?: string; once?: boolean; withdrawal?: string[] }) => {
      const db = await openConfiguredDb(common());
      const hook = testHookFromEnv(process.env);
      const signer = await startSigner({
        db, dataDir: dataDir(common()), env: process.env, loops: !o.once, onLine: (l) => console.log(l),
        ...(o.cluster ? { clusterFile: o.cluster } : {}), ...(o.withdrawal ? { only: o.withdrawal } : {}), ...(hook ? { testHook: hook } : {}),
        onSigned: (e) => console.log(`  raw transaction (base64): ${Buffer.from(e.raw).toString('base64')}`),
      });
      console.log(`custos signer (store: ${describeStore(db, common())})`);
      for (const l of signer.describe) console.log(`  ${l}`);
      if (o.once) {
        const s = await signer.signing.runOnce();
        const b = await signer.broadcast.runOnce();
        console.log(`signing: ${s.signed.length} signed, ${s.failed.length} failed, ${s.deferred.length} deferred; broadcast: ${b.broadcast.length} sent, ${b.confirmed.length} confirmed, ${b.failed.length} failed`);
      } else {
        await new Promise<void>((resolve) => {
          process.once('SIGINT', () => resolve());
          process.once('SIGTERM', () => resolve());
        });
      }
      await signer.stop();
      await db.close();
    });
}

/**
 * The signer inside `custos server`: started when signing nodes are configured (a cluster file),
 * else null with the line that says why nothing signs. `nodes` feeds `GET /v1/admin/nodes`.
 */
export async function serverSigner(
  db: Parameters<typeof startSigner>[0]['db'], opts: CommonOptions, enabled: boolean,
): Promise<{ nodes?: () => ReturnType<Signer['coordinator']['nodeStatus']>; lines: string[]; stop(): Promise<void> }> {
  const file = enabled ? signerClusterFile(dataDir(opts), process.env) : null;
  if (!file) {
    return { lines: [`signing: ${enabled ? 'no signing nodes configured (custos mpc-cluster, CUSTOS_MPC_CLUSTER)' : 'off (--no-signer)'}; approved withdrawals wait`], stop: async () => {} };
  }
  const signer = await startSigner({ db, dataDir: dataDir(opts), env: process.env, clusterFile: file, onLine: (l) => console.log(`signer: ${l}`) });
  return { nodes: () => signer.coordinator.nodeStatus(), lines: signer.describe.map((l) => `signer: ${l}`), stop: () => signer.stop() };
}
