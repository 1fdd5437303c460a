import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONFIG_FILE, readNodeConfig } from './process.js';

const policyPublicKey = 'ab'.repeat(32);

describe('node-config.json: pinned chain ids', () => {
  it('reads chainIds, and refuses one that is not a positive integer per chain name', () => {
    const dir = mkdtempSync(join(tmpdir(), 'custos-node-config-'));
    try {
      const write = (extra: Record<string, unknown>) => writeFileSync(join(dir, CONFIG_FILE), JSON.stringify({ peers: [], policyPublicKey, minApprovals: 1, ...extra }));
      write({ chainIds: { ethereum: 1 } });
      expect(readNodeConfig(dir)?.chainIds).toEqual({ ethereum: 1 });
      write({});
      expect(readNodeConfig(dir)?.chainIds).toBeUndefined();
      for (const bad of [{ ethereum: 0 }, { ethereum: '1' }, { ethereum: 1.5 }, { Ethereum: 1 }, [1], 'ethereum']) {
        write({ chainIds: bad });
        expect(() => readNodeConfig(dir)).toThrow(expect.objectContaining({ code: 'node_bad_config' }));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
