import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { systemClock } from '../core/clock.js';
import { DevelopmentHsm } from '../hsm/development-hsm.js';
import { ensureStandardKeys } from '../hsm/standard-keys.js';
import { DevelopmentAttester } from './development-attester.js';
import { DevelopmentEnclave } from './development-enclave.js';
import { addDevelopmentMeasurement, developmentTrustSources, initDevelopmentTrust, loadDevelopmentCa, loadReleasePolicy } from './development-trust.js';
import { obtainSealingKey } from './key-release-client.js';
import { createKeyReleaseServer } from './key-release-server.js';
import { measureEntries } from './measure.js';
import { NonceBook } from './nonce-book.js';
import { MemorySealingKeyStore } from './sealing-key-store.js';

export interface KeyReleaseBenchResult {
  /** Median of one full release over HTTP on loopback: ephemeral key, nonce, attest, verify, allowlist, HSM unwrap, HPKE both ways. */
  key_release_ms: number;
  key_release_p95_ms: number;
  key_release_iterations: number;
  key_release_hsm: string;
}

/**
 * End-to-end key release timing for `custos bench enclave`, on a throw-away data directory with the
 * development trust material and the development HSM (in-process software keys, so the HSM share
 * of the time is smaller than with a networked HSM). Timing only; nothing is asserted.
 *
 * @example
 *   const r = await benchKeyRelease({ iterations: 50 }); console.log(r.key_release_ms);
 */
export async function benchKeyRelease(options: { iterations?: number } = {}): Promise<KeyReleaseBenchResult> {
  const n = options.iterations ?? 50;
  const dir = mkdtempSync(path.join(tmpdir(), 'custos-bench-key-release-'));
  const now = systemClock.now();
  const measurement = measureEntries([{ name: 'bench-node.js', content: new Uint8Array(4096) }]);
  initDevelopmentTrust(dir, { now });
  addDevelopmentMeasurement(dir, { name: 'bench node', pcr0: measurement, now });
  const hsm = await DevelopmentHsm.open({ dataDir: dir, passphrase: 'benchmark only', scrypt: { N: 2 ** 14, r: 8, p: 1 } });
  const app = createKeyReleaseServer({
    clock: systemClock,
    ...developmentTrustSources(dir),
    nonces: new NonceBook({ clock: systemClock }),
    releasePolicy: loadReleasePolicy(dir),
    allowlistFloor: { version: 0 },
    hsm,
    store: new MemorySealingKeyStore(),
  });
  try {
    await ensureStandardKeys(hsm);
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    const enclave = new DevelopmentEnclave({ attester: new DevelopmentAttester({ ca: loadDevelopmentCa(dir, now), moduleId: 'bench', measurement, clock: systemClock }) });
    (await obtainSealingKey({ url, enclave, nodeId: 'bench-1' })).fill(0); // enrol and warm up
    const times: number[] = [];
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      const key = await obtainSealingKey({ url, enclave, nodeId: 'bench-1' });
      times.push(performance.now() - t);
      key.fill(0);
    }
    times.sort((a, b) => a - b);
    const at = (q: number) => Number(times[Math.min(times.length - 1, Math.floor(q * times.length))]!.toFixed(2));
    return { key_release_ms: at(0.5), key_release_p95_ms: at(0.95), key_release_iterations: n, key_release_hsm: hsm.description };
  } finally {
    await app.close();
    await hsm.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
