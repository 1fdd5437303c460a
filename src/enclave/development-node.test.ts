import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../core/clock.js';
import { DevelopmentHsm } from '../hsm/development-hsm.js';
import { ensureStandardKeys } from '../hsm/standard-keys.js';
import { keyReleaseDepsFromDataDir, openDevelopmentEnclave } from './development-node.js';
import { addDevelopmentMeasurement, initDevelopmentTrust } from './development-trust.js';
import { obtainSealingKey } from './key-release-client.js';
import { handleReleaseRequest, issueReleaseNonce } from './key-release.js';
import { measureFiles } from './measure.js';

const clock = manualClock(Date.UTC(2026, 10, 24, 5));
let dir: string;
let hsm: DevelopmentHsm;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'custos-dev-node-'));
  writeFileSync(path.join(dir, 'node.js'), 'export const node = 1;\n');
  writeFileSync(path.join(dir, 'node-1.json'), '{"nodeId":"node-1"}\n');
  initDevelopmentTrust(dir, { now: clock.now() });
  hsm = await DevelopmentHsm.open({ dataDir: dir, passphrase: 'dev node test', scrypt: { N: 2 ** 14, r: 8, p: 1 } });
  await ensureStandardKeys(hsm);
});
afterAll(async () => {
  await hsm?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('development node helpers', () => {
  it('a node enclave measured from its files gets its key from deps built from the data dir; the store file is 0600', async () => {
    const files = ['node.js', 'node-1.json'];
    addDevelopmentMeasurement(dir, { name: 'node-1', pcr0: await measureFiles(files, { root: dir }), now: clock.now() });
    const alerts: unknown[] = [];
    const deps = keyReleaseDepsFromDataDir(dir, { hsm, clock, raiseAlert: (a) => void alerts.push(a), nodeIds: ['node-1'] });
    const transport = { nonce: async () => issueReleaseNonce(deps), release: (r: Parameters<typeof handleReleaseRequest>[0]) => handleReleaseRequest(r, deps) };
    const enclave = await openDevelopmentEnclave({ dataDir: dir, moduleId: 'node-1', root: dir, files, clock });
    const key = await obtainSealingKey({ transport, enclave, nodeId: 'node-1' });
    expect(key).toHaveLength(32);
    expect(statSync(path.join(dir, 'key-release', 'sealing-keys.json')).mode & 0o777).toBe(0o600);

    writeFileSync(path.join(dir, 'node-1.json'), '{"nodeId":"node-1","debug":true}\n');
    const changed = await openDevelopmentEnclave({ dataDir: dir, moduleId: 'node-1', root: dir, files, clock });
    await expect(obtainSealingKey({ transport, enclave: changed, nodeId: 'node-1' })).rejects.toMatchObject({ code: 'attestation_measurement' });
    expect(alerts).toHaveLength(1);
  });
});
