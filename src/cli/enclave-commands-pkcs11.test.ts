import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { manualClock } from '../core/clock.js';
import { DevelopmentAttester } from '../enclave/development-attester.js';
import { DevelopmentEnclave } from '../enclave/development-enclave.js';
import { addDevelopmentMeasurement, developmentTrustSources, initDevelopmentTrust, loadDevelopmentCa, loadReleasePolicy } from '../enclave/development-trust.js';
import { obtainSealingKey } from '../enclave/key-release-client.js';
import { handleReleaseRequest, issueReleaseNonce } from '../enclave/key-release.js';
import { measureEntries } from '../enclave/measure.js';
import { NonceBook } from '../enclave/nonce-book.js';
import { MemorySealingKeyStore } from '../enclave/sealing-key-store.js';
import { Pkcs11Hsm } from '../hsm/pkcs11-hsm.js';
import { initToken } from '../hsm/pkcs11-token.js';
import { softHsmStatus, useTemporarySoftHsm, type TemporarySoftHsm } from '../hsm/softhsm.js';
import { HSM_KEY_LABELS } from '../hsm/standard-keys.js';
import { registerEnclaveCommands } from './enclave-commands.js';

const status = softHsmStatus();
// Under CI=true this must run: a missing SoftHSM2 or pkcs11js then fails loudly.
const skip = !status.available && process.env.CI !== 'true';
if (skip) console.warn(`SoftHSM2 CLI tests skipped: ${status.reason}`);
const PIN = 'user-pin-5521';
const SO_PIN = 'so-pin-9034';

describe.skipIf(skip)(`custos hsm on SoftHSM2 (PKCS#11)${skip ? ` (skipped: ${status.reason})` : ''}`, () => {
  let home: TemporarySoftHsm;
  let dir: string;
  const out: string[] = [];

  beforeAll(() => {
    if (!status.available) throw new Error(`CI=true but SoftHSM2 is not usable: ${status.reason}`);
    home = useTemporarySoftHsm();
    dir = mkdtempSync(path.join(tmpdir(), 'custos-cli-pkcs11-'));
    vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
      out.push(args.map(String).join(' '));
    });
  });
  afterAll(() => {
    vi.restoreAllMocks();
    home?.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  async function run(token: string, ...args: string[]): Promise<string> {
    const env = { CUSTOS_HSM: 'pkcs11', CUSTOS_HSM_LIBRARY: status.library, CUSTOS_HSM_TOKEN: token, CUSTOS_HSM_PIN: PIN, CUSTOS_HSM_SO_PIN: SO_PIN };
    const program = new Command('custos').option('--data-dir <dir>').exitOverride();
    registerEnclaveCommands(program, () => program.opts<{ dataDir?: string }>(), { env });
    out.length = 0;
    await program.parseAsync(['node', 'custos', '--data-dir', dir, ...args]);
    return out.join('\n');
  }

  it('hsm init creates the token and keys once; backup receiver/trust/export/restore moves the KEK; key release unwraps on the restored HSM', async () => {
    const first = await run('source', 'hsm', 'init', '--backupable-kek');
    expect(first).toContain('(token created)');
    expect(first).toContain(`created: ${HSM_KEY_LABELS.rootKek}`);
    expect(await run('source', 'hsm', 'init')).toContain('nothing changed');
    const st = JSON.parse(await run('source', 'hsm', 'status', '--json')) as { keys: { label: string; extractable: boolean; sensitive: boolean; wrapWithTrusted: boolean }[]; missingStandardKeys: string[] };
    expect(st.missingStandardKeys).toEqual([]);
    expect(st.keys.find((k) => k.label === HSM_KEY_LABELS.rootKek)).toMatchObject({ sensitive: true, wrapWithTrusted: true });
    expect(st.keys.find((k) => k.label === HSM_KEY_LABELS.approval)).toMatchObject({ extractable: false });

    // A node's sealing key wrapped on the source HSM.
    const source = await Pkcs11Hsm.open({ library: status.library, tokenLabel: 'source', pin: PIN });
    const wrapped = await source.generateWrappedSecret(HSM_KEY_LABELS.rootKek, 32);
    const secret = await source.unwrapSecret(HSM_KEY_LABELS.rootKek, wrapped);
    await source.close();

    // Ceremony: target receiver, SO trust on the source (fingerprint checked), export, restore.
    initToken({ library: status.library, tokenLabel: 'target', soPin: SO_PIN, userPin: PIN });
    const receiverFile = path.join(dir, 'receiver.json');
    const fp = /fingerprint[^:]*: ([0-9a-f]{64})/.exec(await run('target', 'hsm', 'backup', 'receiver', '--label', 'kek-receiver', '--out', receiverFile))![1]!;
    await expect(run('source', 'hsm', 'backup', 'trust', '--receiver', receiverFile, '--fingerprint', 'ab'.repeat(32), '--label', 'trusted-target')).rejects.toMatchObject({ code: 'hsm_backup_wrong_receiver' });
    expect(await run('source', 'hsm', 'backup', 'trust', '--receiver', receiverFile, '--fingerprint', fp, '--label', 'trusted-target')).toContain('installed');
    const backupFile = path.join(dir, 'kek-backup.json');
    await run('source', 'hsm', 'backup', 'export', '--trusted-label', 'trusted-target', '--out', backupFile);
    expect(readFileSync(backupFile, 'utf8').includes(Buffer.from(secret).toString('base64'))).toBe(false);
    expect(await run('target', 'hsm', 'backup', 'restore', '--in', backupFile, '--receiver-label', 'kek-receiver')).toContain(`restored ${HSM_KEY_LABELS.rootKek}`);

    // Key release served by the target HSM: the sealing key wrapped on the source comes back to the attested enclave.
    const target = await Pkcs11Hsm.open({ library: status.library, tokenLabel: 'target', pin: PIN });
    try {
      const clock = manualClock(Date.UTC(2026, 10, 24, 5));
      const trustDir = path.join(dir, 'trust');
      initDevelopmentTrust(trustDir, { now: clock.now() });
      const measurement = measureEntries([{ name: 'node.js', content: new Uint8Array([42]) }]);
      addDevelopmentMeasurement(trustDir, { name: 'node', pcr0: measurement, now: clock.now() });
      const store = new MemorySealingKeyStore();
      await store.putIfAbsent('node-1', wrapped, clock.now());
      const deps = { clock, ...developmentTrustSources(trustDir), nonces: new NonceBook({ clock }), releasePolicy: loadReleasePolicy(trustDir), hsm: target, store };
      const enclave = new DevelopmentEnclave({ attester: new DevelopmentAttester({ ca: loadDevelopmentCa(trustDir, clock.now()), moduleId: 'node-1', measurement, clock }) });
      const key = await obtainSealingKey({ transport: { nonce: async () => issueReleaseNonce(deps), release: (r) => handleReleaseRequest(r, deps) }, enclave, nodeId: 'node-1' });
      expect(Buffer.from(key).equals(Buffer.from(secret))).toBe(true);
    } finally {
      await target.close();
    }
  });
});
