import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DevelopmentHsm } from './development-hsm.js';
import { HSM_KEY_LABELS, ensureStandardKeys } from './standard-keys.js';

describe('ensureStandardKeys', () => {
  it('creates the root KEK, approval and checkpoint keys once and keeps them afterwards', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'custos-stdkeys-'));
    const hsm = await DevelopmentHsm.open({ dataDir: dir, passphrase: 'standard keys passphrase' });
    try {
      const first = await ensureStandardKeys(hsm);
      expect(first.created.sort()).toEqual(Object.values(HSM_KEY_LABELS).sort());
      expect(first.rootKek).toMatchObject({ kind: 'aes-256', extractable: false });
      expect(first.approval.publicKey.length).toBe(32);
      const second = await ensureStandardKeys(hsm);
      expect(second.created).toEqual([]);
      expect(Buffer.from(second.approval.publicKey).equals(Buffer.from(first.approval.publicKey))).toBe(true);
      await hsm.deleteKey(HSM_KEY_LABELS.approval);
      await hsm.generateAesKek(HSM_KEY_LABELS.approval);
      await expect(ensureStandardKeys(hsm)).rejects.toMatchObject({ code: 'hsm_key_kind_mismatch' });
    } finally {
      await hsm.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
