import path from 'node:path';
import type { Alert } from '../alerts/outbox.js';
import { systemClock, type Clock } from '../core/clock.js';
import type { Hsm } from '../hsm/hsm.js';
import { awsNitroRoot } from './aws-nitro-root.js';
import { DevelopmentAttester } from './development-attester.js';
import { DevelopmentEnclave } from './development-enclave.js';
import { developmentTrustSources, loadDevelopmentCa, loadReleasePolicy } from './development-trust.js';
import type { KeyReleaseDeps } from './key-release.js';
import { measureFiles } from './measure.js';
import { NonceBook } from './nonce-book.js';
import { JsonFileSealingKeyStore, type SealingKeyStore } from './sealing-key-store.js';

/**
 * The development enclave of one signing node: PCR0 = `measureFiles(files, { root })` (the node's
 * code and configuration), attesting with the development root in `<dataDir>/enclave/`. What the
 * node does next is key release:
 *
 * @example
 *   const enclave = await openDevelopmentEnclave({ dataDir, moduleId: 'node-1', root: installDir, files: ['dist/mpc/node/index.js', 'node-1.json'] });
 *   enclave.useSealingKey(await obtainSealingKey({ url: keyReleaseUrl, enclave, nodeId: 'node-1' }));
 */
export async function openDevelopmentEnclave(options: { dataDir: string; moduleId: string; root: string; files: readonly string[]; clock?: Clock }): Promise<DevelopmentEnclave> {
  const measurement = await measureFiles(options.files, { root: options.root });
  return developmentEnclaveWithMeasurement({ dataDir: options.dataDir, moduleId: options.moduleId, measurement, ...(options.clock ? { clock: options.clock } : {}) });
}

/**
 * The development enclave for a measurement the caller computed (e.g. `measureNodeImage` of a
 * signing node), attesting with the development root of `dataDir` (made by `custos init`).
 *
 * @example
 *   const enclave = developmentEnclaveWithMeasurement({ dataDir: '.custos', moduleId: 'node-1', measurement: pcr0 });
 */
export function developmentEnclaveWithMeasurement(options: { dataDir: string; moduleId: string; measurement: Uint8Array; clock?: Clock }): DevelopmentEnclave {
  const clock = options.clock ?? systemClock;
  return new DevelopmentEnclave({ attester: new DevelopmentAttester({ ca: loadDevelopmentCa(options.dataDir, clock.now()), moduleId: options.moduleId, measurement: options.measurement, clock }) });
}

/**
 * Key-release service dependencies from a data directory made by `custos init`: the development
 * roots (plus the AWS Nitro root when asked), the signed allowlist and 2-of-3 policy, the wrapped
 * sealing keys in `<dataDir>/key-release/sealing-keys.json`, and the given HSM. What
 * `custos key-release serve` runs; a demo can run `createKeyReleaseServer` on these in its own
 * process and share one open HSM.
 *
 * @example
 *   const app = createKeyReleaseServer(keyReleaseDepsFromDataDir('.custos', { hsm, raiseAlert: (a) => enqueueAlert(db, a) }));
 */
export function keyReleaseDepsFromDataDir(
  dataDir: string,
  options: {
    hsm: Hsm;
    clock?: Clock;
    raiseAlert?: (alert: Alert) => void | Promise<void>;
    recordRelease?: KeyReleaseDeps['recordRelease'];
    nodeIds?: readonly string[];
    awsRoot?: boolean;
    /** Where wrapped sealing keys live (default the JSON file; with a database: `SqlSealingKeyStore`). */
    store?: SealingKeyStore;
  },
): KeyReleaseDeps {
  const clock = options.clock ?? systemClock;
  const sources = developmentTrustSources(dataDir);
  const aws = options.awsRoot ? [awsNitroRoot()] : [];
  return {
    clock,
    roots: () => [...sources.roots(), ...aws],
    nonces: new NonceBook({ clock }),
    signedAllowlist: sources.signedAllowlist,
    releasePolicy: loadReleasePolicy(dataDir),
    allowlistFloor: { version: 0 },
    hsm: options.hsm,
    store: options.store ?? new JsonFileSealingKeyStore(path.join(dataDir, 'key-release', 'sealing-keys.json')),
    ...(options.nodeIds ? { nodeIds: options.nodeIds } : {}),
    ...(options.raiseAlert ? { raiseAlert: options.raiseAlert } : {}),
    ...(options.recordRelease ? { recordRelease: options.recordRelease } : {}),
  };
}
