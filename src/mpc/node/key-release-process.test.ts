/**
 * Key release end to end with real processes: three `mpc-node` processes (dist/mpc/node/bin.js)
 * get their sealing keys only through attestation from the development enclave and the
 * key-release service running here; then one byte of a node's configuration, and one byte of its
 * code, are changed: its measurement changes, release is refused, the node cannot open its sealed
 * store (it exits before listening, so it cannot sign), and an alert is raised. Needs
 * `npm run build` first (skipped otherwise).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Alert } from '../../alerts/outbox.js';
import { systemClock } from '../../core/clock.js';
import { keyReleaseDepsFromDataDir } from '../../enclave/development-node.js';
import { initDevelopmentTrust } from '../../enclave/development-trust.js';
import type { KeyReleaseEvent } from '../../enclave/key-release.js';
import { createKeyReleaseServer } from '../../enclave/key-release-server.js';
import { DevelopmentHsm } from '../../hsm/development-hsm.js';
import { ensureStandardKeys } from '../../hsm/standard-keys.js';
import { Coordinator } from '../coordinator/coordinator.js';
import { defaultNodeEntry, startLocalCluster, type LocalCluster } from '../coordinator/local-cluster.js';
import { packageRoot } from '../../enclave/module-graph.js';
import { CONFIG_FILE } from './measurement.js';
import { STORE_FILE } from './store.js';

const built = existsSync(defaultNodeEntry());
if (!built) console.warn('src/mpc/node/key-release-process.test.ts: dist/ is missing; run `npm run build` first (skipped)');

function runOnce(entry: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [entry, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe.skipIf(!built)('node processes get their sealing key only through attestation and key release (needs dist/)', () => {
  let base: string;
  let hsm: DevelopmentHsm;
  let app: ReturnType<typeof createKeyReleaseServer>;
  let url: string;
  let cluster: LocalCluster;
  const alerts: Alert[] = [];
  const releases: KeyReleaseEvent[] = [];
  const lines: string[] = [];

  beforeAll(async () => {
    base = mkdtempSync(join(tmpdir(), 'custos-kr-nodes-'));
    const trustDir = join(base, 'custos');
    initDevelopmentTrust(trustDir, { now: systemClock.now() });
    hsm = await DevelopmentHsm.open({ dataDir: trustDir, passphrase: 'process test only', scrypt: { N: 2 ** 14, r: 8, p: 1 } });
    await ensureStandardKeys(hsm);
    const deps = keyReleaseDepsFromDataDir(trustDir, {
      hsm, nodeIds: ['node-1', 'node-2', 'node-3'], raiseAlert: (a) => void alerts.push(a), recordRelease: (e) => void releases.push(e),
    });
    app = createKeyReleaseServer(deps);
    url = await app.listen({ port: 0, host: '127.0.0.1' });
    cluster = await startLocalCluster({
      baseDir: join(base, 'nodes'), n: 3, policyPublicKey: bytesToHex(ed25519.getPublicKey(new Uint8Array(randomBytes(32)))),
      keyRelease: { url, trustDir }, onLine: (_id, line) => void lines.push(line),
    });
  }, 60_000);

  afterAll(async () => {
    await cluster?.stop();
    await app?.close();
    await hsm?.close();
    rmSync(base, { recursive: true, force: true });
  });

  it('every node enrolled and started with a released key: no passphrase, stores sealed under key release, one release per start', async () => {
    expect(cluster.passphrase).toBeUndefined();
    for (const n of cluster.nodes) {
      const store = JSON.parse(readFileSync(join(cluster.dirs.get(n.id) as string, STORE_FILE), 'utf8')) as { kdf: { kind?: string } };
      expect(store.kdf.kind).toBe('key-release');
      const health = (await (await fetch(`${n.url}/v1/health`)).json()) as { sealing: string };
      expect(health.sealing).toMatch(/released by the key-release service after attestation/);
    }
    // enrolment (no configuration yet) and start (with it): two releases per node, two measurements
    for (const id of ['node-1', 'node-2', 'node-3']) {
      const mine = releases.filter((r) => r.nodeId === id);
      expect(mine.map((r) => r.measurement)).toEqual([`${id}/enrol`, id]);
      expect(mine[0]!.enrolled).toBe(true);
      expect(mine[1]!.enrolled).toBe(false);
      expect(mine[1]!.pcr0).toBe(cluster.measurements.get(id));
    }
    expect(new Set(cluster.measurements.values()).size).toBe(3);
    expect(lines.filter((l) => / listening on .*key release from the development enclave/.test(l))).toHaveLength(3);
    expect(alerts).toEqual([]);
  });

  it('a node whose configuration or code differs by one byte is refused its key, cannot start or sign, and an alert is raised; the unchanged node starts again', async () => {
    const coordinator = new Coordinator({ nodes: cluster.nodes, healthTtlMs: 60_000 });
    const key = await coordinator.keygen({ scheme: 'ed25519', threshold: 2 });
    expect(key.parties).toHaveLength(3);

    await cluster.kill('node-3');
    const dir = cluster.dirs.get('node-3') as string;
    const configPath = join(dir, CONFIG_FILE);
    const config = readFileSync(configPath);
    const changed = Buffer.from(config);
    changed[changed.indexOf(0x20)] = 0x09; // one indentation space becomes a tab: same JSON, one byte different
    writeFileSync(configPath, changed);
    await expect(cluster.restart('node-3')).rejects.toThrow(/attestation_measurement/);
    expect(alerts.at(-1)).toMatchObject({ kind: 'key_release.refused', severity: 'critical', details: { code: 'attestation_measurement', nodeId: 'node-3' } });
    const refusedConfig = alerts.length;

    // One byte of code: a copy of the installed package whose node module differs by one byte.
    writeFileSync(configPath, config);
    const root = packageRoot(join(defaultNodeEntry(), '..'));
    const copy = join(base, 'install');
    cpSync(join(root, 'dist'), join(copy, 'dist'), { recursive: true });
    cpSync(join(root, 'package.json'), join(copy, 'package.json'));
    symlinkSync(join(root, 'node_modules'), join(copy, 'node_modules'));
    const sealJs = join(copy, 'dist', 'mpc', 'node', 'seal.js');
    writeFileSync(sealJs, `${readFileSync(sealJs, 'utf8')} `);
    const env: NodeJS.ProcessEnv = { ...process.env, CUSTOS_KEY_RELEASE_URL: url, CUSTOS_ENCLAVE: 'development', CUSTOS_ENCLAVE_TRUST_DIR: join(base, 'custos') };
    delete env.CUSTOS_NODE_PASSPHRASE;
    const run = await runOnce(join(copy, 'dist', 'mpc', 'node', 'bin.js'), ['--id', 'node-3', '--data-dir', dir, '--port', '0'], env);
    expect(run.code).toBe(1);
    expect(run.stdout).not.toMatch(/listening/);
    expect(run.stderr).toMatch(/^attestation_measurement: node node-3 got no sealing key/m);
    expect(alerts).toHaveLength(refusedConfig + 1);
    expect(alerts.at(-1)).toMatchObject({ kind: 'key_release.refused', details: { code: 'attestation_measurement', nodeId: 'node-3' } });

    // Without the key the store stays sealed; the passphrase fallback does not open it either.
    const withPassphrase = await runOnce(defaultNodeEntry(), ['--id', 'node-3', '--data-dir', dir, '--port', '0'], { ...process.env, CUSTOS_KEY_RELEASE_URL: '', CUSTOS_NODE_PASSPHRASE: 'any passphrase at all' });
    expect(withPassphrase.code).toBe(1);
    expect(withPassphrase.stderr).toMatch(/node_store_sealing_mismatch/);

    // The original bytes measure as allowed again: the same key is released and the store opens.
    const back = await cluster.restart('node-3');
    const health = (await (await fetch(`${back.url}/v1/health`)).json()) as { keys: { keyId: string }[] };
    expect(health.keys.map((k) => k.keyId)).toContain(key.keyId);
  }, 60_000);
});
