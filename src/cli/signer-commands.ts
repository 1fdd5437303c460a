/**
 * `custos signer`: runs the signer role (src/cli/signer.ts) against the configured database until
 * SIGINT/SIGTERM, printing one line per signed, failed or deferred withdrawal and per broadcast
 * transition; `--once` runs one signing round and one broadcast pass and exits (cron, operators);
 * `--withdrawal ID` limits it to those withdrawals.
 *
 * @example
 *   registerSignerCommands(program, common);
 *   // custos signer --once --withdrawal wd_…
 */
import type { Command } from 'commander';
import { CustosError } from '../core/errors.js';
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
