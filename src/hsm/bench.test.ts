import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { benchHsmSigning, benchSoftHsmSigning } from './bench.js';
import { DevelopmentHsm } from './development-hsm.js';
import { softHsmStatus } from './softhsm.js';

const status = softHsmStatus();
const skipSoft = !status.available && process.env.CI !== 'true';

describe('HSM signing benchmark (runs briefly; rates are reported, never asserted)', () => {
  it('measures both algorithms on the development backend and removes its keys', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'custos-bench-'));
    const hsm = await DevelopmentHsm.open({ dataDir: dir, passphrase: 'bench test passphrase' });
    try {
      const r = await benchHsmSigning(hsm, { durationMs: 100, concurrency: 2 });
      expect(r.backend).toBe('development');
      expect(r.hsm_ecdsa_sign_per_s).toBeGreaterThan(0);
      expect(r.hsm_ed25519_sign_per_s).toBeGreaterThan(0);
      expect(await hsm.listKeys()).toEqual([]);
    } finally {
      await hsm.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.skipIf(skipSoft)(`measures SoftHSM2 on a throw-away token${skipSoft ? ` (skipped: ${status.reason})` : ''}`, async () => {
    const r = await benchSoftHsmSigning({ durationMs: 100, concurrency: 2 });
    expect(r.backend).toBe('pkcs11');
    expect(r.description).toMatch(/SoftHSM/);
    expect(r.hsm_ecdsa_sign_per_s).toBeGreaterThan(0);
    expect(r.hsm_ed25519_sign_per_s).toBeGreaterThan(0);
    expect(r.raw?.ecdsa_sign_per_s).toBeGreaterThan(0);
    expect(r.raw?.ed25519_sign_per_s).toBeGreaterThan(0);
  });
});
