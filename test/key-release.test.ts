/**
 * Issue 7's end-to-end claim: a node whose code changes by one byte gets no sealing key, so it
 * cannot unseal its key share (and cannot sign), and an alert is raised. Real pieces throughout:
 * the development attestation root and 2-of-3 release signers made like `custos init` makes them,
 * the development HSM holding the root KEK, the key-release HTTP service on loopback, and a
 * development enclave whose PCR0 is `measureFiles` over a copy of node code files and a config.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Alert } from '../src/alerts/outbox.js';
import { manualClock } from '../src/core/clock.js';
import { CustosError } from '../src/core/errors.js';
import { DevelopmentHsm } from '../src/hsm/development-hsm.js';
import { ensureStandardKeys } from '../src/hsm/standard-keys.js';
import { DevelopmentAttester } from '../src/enclave/development-attester.js';
import { DevelopmentEnclave } from '../src/enclave/development-enclave.js';
import { addDevelopmentMeasurement, initDevelopmentTrust, loadDevelopmentCa, loadDevelopmentRoots, loadReleasePolicy, readSignedAllowlist } from '../src/enclave/development-trust.js';
import { obtainSealingKey } from '../src/enclave/key-release-client.js';
import { createKeyReleaseServer } from '../src/enclave/key-release-server.js';
import { measureFiles } from '../src/enclave/measure.js';
import { NonceBook } from '../src/enclave/nonce-book.js';
import { JsonFileSealingKeyStore } from '../src/enclave/sealing-key-store.js';

const T0 = Date.UTC(2026, 10, 24, 4, 0, 0);
const clock = manualClock(T0);
// Node code files copied into a temporary install directory, plus the node's configuration.
const CODE = ['src/enclave/sealer.ts', 'src/enclave/development-enclave.ts', 'src/enclave/key-release-client.ts'];
const FILES = [...CODE, 'node.json'];

let work: string;
let dataDir: string;
let install: string;
let hsm: DevelopmentHsm;
let url: string;
let close: () => Promise<void>;
const alerts: Alert[] = [];

function enclaveFor(measurement: Uint8Array): DevelopmentEnclave {
  return new DevelopmentEnclave({ attester: new DevelopmentAttester({ ca: loadDevelopmentCa(dataDir, clock.now()), moduleId: 'node-1', measurement, clock }) });
}

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'custos-issue7-'));
  dataDir = path.join(work, '.custos');
  install = path.join(work, 'node');
  for (const f of CODE) {
    mkdirSync(path.dirname(path.join(install, f)), { recursive: true });
    copyFileSync(path.resolve(f), path.join(install, f));
  }
  writeFileSync(path.join(install, 'node.json'), JSON.stringify({ nodeId: 'node-1', threshold: 3, parties: 5 }));

  initDevelopmentTrust(dataDir, { now: T0 });
  addDevelopmentMeasurement(dataDir, { name: 'custos node-1 release', pcr0: await measureFiles(FILES, { root: install }), now: T0 });
  hsm = await DevelopmentHsm.open({ dataDir, passphrase: 'issue 7 test passphrase', scrypt: { N: 2 ** 14, r: 8, p: 1 } });
  await ensureStandardKeys(hsm);
  const app = createKeyReleaseServer({
    clock,
    roots: () => loadDevelopmentRoots(dataDir),
    nonces: new NonceBook({ clock }),
    signedAllowlist: () => readSignedAllowlist(dataDir),
    releasePolicy: loadReleasePolicy(dataDir),
    allowlistFloor: { version: 0 },
    hsm,
    store: new JsonFileSealingKeyStore(path.join(dataDir, 'key-release', 'sealing-keys.json')),
    raiseAlert: (a) => {
      alerts.push(a);
    },
  });
  url = await app.listen({ port: 0, host: '127.0.0.1' });
  close = () => app.close();
});

afterAll(async () => {
  await close?.();
  await hsm?.close();
  rmSync(work, { recursive: true, force: true });
});

describe('issue 7: one changed byte of node code means no sealing key, no share, an alert', () => {
  it('releases to the measured code, refuses the changed code, and the changed node cannot unseal its share', async () => {
    const share = new TextEncoder().encode('threshold key share of node-1 (stands in for the CGGMP21 share)');
    const aad = new TextEncoder().encode('custos share node-1');

    // 1. The node as released: attests, gets its sealing key, seals its share to disk.
    const measured = await measureFiles(FILES, { root: install });
    const node = enclaveFor(measured);
    node.useSealingKey(await obtainSealingKey({ url, enclave: node, nodeId: 'node-1' }));
    const sealedOnDisk = await node.seal(share, aad);
    expect(alerts).toEqual([]);

    // A restart of the same code gets the same key back and unseals.
    const restarted = enclaveFor(await measureFiles(FILES, { root: install }));
    restarted.useSealingKey(await obtainSealingKey({ url, enclave: restarted, nodeId: 'node-1' }));
    expect(Buffer.from(await restarted.unseal(sealedOnDisk, aad)).equals(Buffer.from(share))).toBe(true);

    // 2. Change ONE byte of one code file.
    const target = path.join(install, CODE[0]!);
    const bytes = readFileSync(target);
    bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
    writeFileSync(target, bytes);
    const changed = await measureFiles(FILES, { root: install });
    expect(Buffer.from(changed).equals(Buffer.from(measured))).toBe(false);

    // 3. Release is refused with the measurement code.
    const tampered = enclaveFor(changed);
    let refusal: unknown;
    try {
      await obtainSealingKey({ url, enclave: tampered, nodeId: 'node-1' });
    } catch (err) {
      refusal = err;
    }
    expect(refusal).toBeInstanceOf(CustosError);
    expect((refusal as CustosError).code).toBe('attestation_measurement');

    // 4. Without a sealing key the node cannot unseal its share, so it has nothing to sign with.
    await expect(tampered.unseal(sealedOnDisk, aad)).rejects.toMatchObject({ code: 'enclave_no_sealing_key' });

    // 5. An alert was raised, naming the node, the code and the measurement that asked.
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ kind: 'key_release.refused', severity: 'critical', details: { code: 'attestation_measurement', nodeId: 'node-1', pcr0: Buffer.from(changed).toString('hex') } });

    // Even a host that copied the released key into the changed enclave cannot unseal: sealing is bound to PCR0.
    const stolen = await obtainSealingKey({ url, enclave: enclaveFor(measured), nodeId: 'node-1' });
    tampered.useSealingKey(stolen);
    await expect(tampered.unseal(sealedOnDisk, aad)).rejects.toMatchObject({ code: 'enclave_unseal' });

    // The wrapped sealing key is on disk only wrapped: the released key's bytes are not in the store.
    const storeText = readFileSync(path.join(dataDir, 'key-release', 'sealing-keys.json'), 'utf8');
    expect(storeText.includes(Buffer.from(stolen).toString('base64'))).toBe(false);
    expect(storeText.includes(Buffer.from(stolen).toString('hex'))).toBe(false);
  });
});
