/**
 * The demo's key-release service: the development trust material of `custos init` in the data
 * dir (created if missing: attestation root, 2-of-3 release signers, HSM standard keys), the
 * configured HSM (the DEVELOPMENT software backend unless CUSTOS_HSM=pkcs11), and the service on
 * loopback in this process. With a database, wrapped sealing keys live in `enclave_sealing_keys`,
 * every decision is an audit entry and every refusal also an alert in the outbox; without one, the
 * JSON key file of the data dir. `refusalCheck` shows the gate working: one node restarted with
 * one byte of its configuration changed is refused its key and cannot start.
 *
 * @example
 *   const kr = await startDemoKeyRelease({ dataDir: '.custos', db, nodeIds });
 *   const cluster = await startLocalCluster({ …, keyRelease: { url: kr.url, trustDir: kr.trustDir } });
 *   lines.push(...kr.describe(cluster)); lines.push(...await kr.refusalCheck(cluster, 'node-3'));
 *   await kr.close();
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { enqueueAlert, type Alert } from '../alerts/outbox.js';
import { systemClock, type Clock } from '../core/clock.js';
import { CustosError } from '../core/errors.js';
import { keyReleaseDepsFromDataDir } from '../enclave/development-node.js';
import { keyReleaseDbHooks } from '../enclave/key-release-db.js';
import type { KeyReleaseEvent } from '../enclave/key-release.js';
import { createKeyReleaseServer } from '../enclave/key-release-server.js';
import { openHsm } from '../hsm/config.js';
import { hsmEventAlert } from '../hsm/pkcs11-hsm.js';
import type { LocalCluster } from '../mpc/coordinator/local-cluster.js';
import { CONFIG_FILE } from '../mpc/node/measurement.js';
import type { Db } from '../store/db.js';
import { hsmConfigForDataDir, initDataDir } from './enclave-commands.js';

export interface DemoKeyRelease {
  readonly url: string;
  readonly trustDir: string;
  /** Every release so far (node, measurement, PCR0; never a key). */
  readonly releases: readonly KeyReleaseEvent[];
  /** Every refusal's alert so far (and any HSM event's). */
  readonly refusals: readonly Alert[];
  /** Lines saying how the cluster's nodes got their keys. */
  describe(cluster: LocalCluster): string[];
  /** Restart `nodeId` with one byte of its configuration changed: refused, then the file is restored. */
  refusalCheck(cluster: LocalCluster, nodeId: string): Promise<string[]>;
  close(): Promise<void>;
}

export async function startDemoKeyRelease(o: { dataDir: string; db?: Db | undefined; nodeIds: readonly string[]; clock?: Clock; env?: NodeJS.ProcessEnv }): Promise<DemoKeyRelease> {
  const clock = o.clock ?? systemClock;
  const env = o.env ?? process.env;
  const init = await initDataDir(o.dataDir, env, clock.now());
  const releases: KeyReleaseEvent[] = [];
  const refusals: Alert[] = [];
  const hsmConfig = hsmConfigForDataDir(o.dataDir, env);
  const hsm = await openHsm(hsmConfig, {
    onEvent: (e) => {
      const alert = hsmEventAlert(e, hsmConfig.backend === 'pkcs11' ? hsmConfig.tokenLabel : 'development');
      refusals.push(alert);
      if (o.db) void enqueueAlert(o.db, alert).catch(() => undefined);
    },
  });
  const db = o.db ? keyReleaseDbHooks(o.db, { clock }) : undefined;
  const deps = keyReleaseDepsFromDataDir(o.dataDir, {
    hsm, clock, nodeIds: o.nodeIds,
    ...(db ? { store: db.store } : {}),
    recordRelease: async (e) => {
      await db?.recordRelease(e);
      releases.push(e);
    },
    raiseAlert: async (a) => {
      refusals.push(a);
      await db?.raiseAlert(a);
    },
  });
  const app = createKeyReleaseServer(deps);
  let url: string;
  try {
    url = await app.listen({ port: 0, host: '127.0.0.1' });
  } catch (err) {
    await hsm.close();
    throw err;
  }
  const where = o.db ? 'wrapped keys in the database, decisions in the audit log, refusals also in the alerts outbox' : `wrapped keys in ${join(o.dataDir, 'key-release')}`;
  return {
    url,
    trustDir: o.dataDir,
    releases,
    refusals,
    describe(cluster) {
      const lines = [
        `Key release: service on ${url}; HSM ${hsm.description}; ${where}`,
        `  DEVELOPMENT attestation root ${init.attestationRootSha256.slice(0, 16)}… and ${init.releasePolicy.threshold}-of-${init.releasePolicy.signers.length} release signers from custos init in ${o.dataDir}`,
        '  every node attested from its development enclave (PCR0 = SHA-384 of its code graph, node id and configuration), the service checked the signed allowlist,',
        '  the HSM unwrapped the node\'s sealing key and the service sent it HPKE-encrypted to the attested key: no node uses a passphrase',
      ];
      for (const n of cluster.nodes) {
        const mine = releases.filter((r) => r.nodeId === n.id);
        const last = mine.at(-1);
        if (!last) throw new CustosError('mpc_demo_unexpected', `node ${n.id} is running without a recorded key release`);
        lines.push(`  ${n.id}: PCR0 ${last.pcr0.slice(0, 16)}… on allowlist v${last.allowlistVersion} as "${last.measurement}"; ${mine.length} release(s): ${mine.map((r) => r.measurement + (r.enrolled ? ' (new key generated in the HSM)' : '')).join(', ')}`);
      }
      return lines;
    },
    async refusalCheck(cluster, nodeId) {
      const file = join(cluster.dirs.get(nodeId) as string, CONFIG_FILE);
      const original = readFileSync(file);
      const changed = Buffer.from(original);
      changed[changed.indexOf(0x20)] = 0x09; // one indentation space becomes a tab: the same JSON, one byte different
      await cluster.kill(nodeId);
      const before = refusals.length;
      writeFileSync(file, changed);
      let outcome: string;
      try {
        await cluster.restart(nodeId);
        outcome = 'STARTED (unexpected)';
      } catch (err) {
        outcome = refusals.length > before ? String(refusals.at(-1)?.details.code) : `failed without a refusal: ${(err as Error).message}`;
      } finally {
        writeFileSync(file, original);
      }
      if (outcome !== 'attestation_measurement') throw new CustosError('mpc_demo_unexpected', `a node with a changed configuration: ${outcome}`);
      return [
        `  check: ${nodeId} restarted with one byte of its node-config.json changed: key release refused (${outcome}), the node exits with its shares sealed;`,
        `         alert "${refusals.at(-1)?.summary}" (${refusals.at(-1)?.severity})${o.db ? ' in the alerts outbox, with its audit entry' : ''}`,
      ];
    },
    async close() {
      await app.close();
      await hsm.close();
    },
  };
}
