/**
 * `custos key-release serve` as a process on the embedded database: a release and a refusal over
 * HTTP, then, with the service stopped, the database holds the wrapped key (never the key), one
 * audit entry per decision and the refusal's alert in the outbox. Needs `npm run build` (skipped otherwise).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { systemClock } from '../core/clock.js';
import { developmentEnclaveWithMeasurement } from '../enclave/development-node.js';
import { addDevelopmentMeasurement } from '../enclave/development-trust.js';
import { obtainSealingKey } from '../enclave/key-release-client.js';
import { measureEntries } from '../enclave/measure.js';
import { openDb } from '../store/db.js';

const bin = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'custos.js');
const built = existsSync(join(dirname(bin), '..', 'dist', 'cli', 'main.js'));
if (!built) console.warn('src/cli/key-release-serve.test.ts: dist/ is missing; run `npm run build` first (skipped)');

const dataDir = mkdtempSync(join(tmpdir(), 'custos-kr-serve-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));
const env = { ...process.env, CUSTOS_DATA_DIR: dataDir, DATABASE_URL: '', CUSTOS_HSM: 'development', CUSTOS_DEV_HSM_PASSPHRASE: '' };
const measure = (text: string) => measureEntries([{ name: 'node.js', content: new TextEncoder().encode(text) }]);

describe.skipIf(!built)('custos key-release serve with the embedded database (needs dist/)', () => {
  it('writes the wrapped key, an audit entry per decision and the refusal alert to the database', async () => {
    const init = spawnSync(process.execPath, [bin, 'init'], { env, encoding: 'utf8' });
    expect(init.status, init.stderr).toBe(0);
    addDevelopmentMeasurement(dataDir, { name: 'node-a v1', pcr0: measure('v1'), now: systemClock.now() });

    const serve = spawn(process.execPath, [bin, 'key-release', 'serve', '--port', '0', '--nodes', 'node-a'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    serve.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      serve.stdout.setEncoding('utf8').on('data', (c: string) => {
        out += c;
        const m = /listening on (http:\/\/127\.0\.0\.1:\d+) .*wrapped keys, audit entries and alerts in PGlite/.exec(out);
        if (m) resolve(m[1] as string);
      });
      serve.once('exit', (code) => reject(new Error(`serve exited (${code}): ${err}`)));
    });
    const exited = new Promise((r) => serve.once('exit', r));
    let key: Uint8Array;
    try {
      const enclave = (code: string) => developmentEnclaveWithMeasurement({ dataDir, moduleId: 'custos-development-node-a', measurement: measure(code) });
      key = await obtainSealingKey({ url, enclave: enclave('v1'), nodeId: 'node-a' });
      await expect(obtainSealingKey({ url, enclave: enclave('v2'), nodeId: 'node-a' })).rejects.toMatchObject({ code: 'attestation_measurement' });
    } finally {
      serve.kill('SIGTERM');
      await exited;
    }

    const db = await openDb({ dataDir: join(dataDir, 'db') });
    try {
      const [row] = await db.query<{ wrapped: Uint8Array }>("SELECT wrapped FROM enclave_sealing_keys WHERE node_id = 'node-a'");
      expect(row).toBeDefined();
      expect(Buffer.from(row!.wrapped).includes(Buffer.from(key))).toBe(false);
      const audit = await db.query<{ action: string; body: string }>("SELECT action, body FROM audit_entries WHERE action LIKE 'key_release.%' ORDER BY id");
      expect(audit.map((a) => a.action)).toEqual(['key_release.released', 'key_release.refused']);
      expect(JSON.parse(audit[1]!.body).data).toMatchObject({ code: 'attestation_measurement', nodeId: 'node-a', pcr0: Buffer.from(measure('v2')).toString('hex') });
      const alerts = await db.query<{ kind: string; severity: string }>("SELECT kind, severity FROM alerts_outbox WHERE kind = 'key_release.refused'");
      expect(alerts).toEqual([{ kind: 'key_release.refused', severity: 'critical' }]);
      expect(JSON.stringify(audit)).not.toContain(Buffer.from(key).toString('hex'));
    } finally {
      await db.close();
    }
  }, 60_000);
});
