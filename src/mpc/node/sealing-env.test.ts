import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parseAttestationDocument } from '../../enclave/attestation-document.js';
import { parseCoseSign1 } from '../../enclave/cose-sign1.js';
import { initDevelopmentTrust } from '../../enclave/development-trust.js';
import { measureNodeImage } from './measurement.js';
import { nodeSealingFromEnv } from './process.js';

const dir = mkdtempSync(join(tmpdir(), 'custos-sealing-env-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const entry = fileURLToPath(new URL('./measurement.ts', import.meta.url)); // any file of this package: its graph is measured
const node = { id: 'node-1', dataDir: join(dir, 'node-1'), entry };
const url = 'http://127.0.0.1:1';

describe('nodeSealingFromEnv', () => {
  it('without a key-release URL: the passphrase, as the development fallback', async () => {
    expect(await nodeSealingFromEnv({ CUSTOS_NODE_PASSPHRASE: 'dev only pass' }, node)).toEqual({ passphrase: 'dev only pass' });
  });

  it('development runtime: needs the trust dir; attests with the measurement of the node image', async () => {
    await expect(nodeSealingFromEnv({ CUSTOS_KEY_RELEASE_URL: url }, node)).rejects.toMatchObject({ code: 'node_bad_config' });
    await expect(nodeSealingFromEnv({ CUSTOS_KEY_RELEASE_URL: url, CUSTOS_ENCLAVE: 'sgx' }, node)).rejects.toMatchObject({ code: 'node_bad_config' });
    initDevelopmentTrust(dir, { now: Date.now() });
    const s = await nodeSealingFromEnv({ CUSTOS_KEY_RELEASE_URL: url, CUSTOS_ENCLAVE_TRUST_DIR: dir, CUSTOS_NODE_PASSPHRASE: 'ignored' }, node);
    expect(s.runtime).toBe('development');
    expect(s.passphrase).toBeUndefined();
    expect(s.keyRelease?.url).toBe(url);
    expect(s.measurement).toEqual(measureNodeImage({ entry, nodeId: 'node-1', dataDir: node.dataDir }));
    expect(s.keyRelease?.enclave.runtime).toBe('development');
  });

  it('nitro runtime: needs the NSM helper; with one, PCR0 is what the NSM reports', async () => {
    await expect(nodeSealingFromEnv({ CUSTOS_KEY_RELEASE_URL: url, CUSTOS_ENCLAVE: 'nitro' }, node)).rejects.toMatchObject({ code: 'enclave_unavailable' });
    // The helper answering with a recorded NSM document (src/enclave/testdata/fake-nsm-helper.mjs).
    const fake = fileURLToPath(new URL('../../enclave/testdata/fake-nsm-helper.mjs', import.meta.url));
    const helper = join(dir, 'nsm-helper');
    writeFileSync(helper, `#!/bin/sh\nexec "${process.execPath}" "${fake}" "$@"\n`);
    chmodSync(helper, 0o755);
    const s = await nodeSealingFromEnv({ CUSTOS_KEY_RELEASE_URL: url, CUSTOS_ENCLAVE: 'nitro', CUSTOS_NSM_HELPER: helper }, node);
    try {
      const doc = new Uint8Array(Buffer.from(readFileSync(new URL('../../enclave/testdata/nitrite-attestation.b64', import.meta.url), 'utf8').trim(), 'base64'));
      expect(s.runtime).toBe('nitro');
      expect(s.keyRelease?.enclave.runtime).toBe('nitro');
      expect(s.measurement).toEqual(parseAttestationDocument(parseCoseSign1(doc).payload).pcrs.get(0));
    } finally {
      s.close?.();
    }
    await expect(nodeSealingFromEnv({ CUSTOS_KEY_RELEASE_URL: url, CUSTOS_ENCLAVE: 'nitro', CUSTOS_NSM_HELPER: join(dir, 'missing') }, node)).rejects.toMatchObject({ code: 'enclave_nsm' });
  });
});
