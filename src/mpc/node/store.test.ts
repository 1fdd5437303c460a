import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { thrownCode as code } from '../../core/test-helpers/thrown-code.js';
import { STORE_FILE, NodeStore } from './store.js';

const rng = (n: number) => new Uint8Array(randomBytes(n));
const kdfCost = { N: 1 << 10, r: 8, p: 1 };
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const fresh = () => {
  const d = mkdtempSync(join(tmpdir(), 'custos-node-store-'));
  dirs.push(d);
  return d;
};
const share = { signingShare: 'c0ffee'.repeat(10) + 'abcd', suite: 'ed25519' };
const record = { keyId: 'k1', protocol: 'frost', suite: 'ed25519', threshold: 2, parties: ['a', 'b'], publicKey: '00', generation: 0, publicPackage: null, createdAt: 1 };

describe('NodeStore', () => {
  it('keeps identity and shares sealed, survives reopening, and refuses a wrong passphrase', () => {
    const dir = fresh();
    const s = NodeStore.open({ dir, nodeId: 'n1', passphrase: 'correct horse', rng, kdfCost });
    s.putKey(record, share);
    const raw = readFileSync(join(dir, STORE_FILE), 'utf8');
    expect(raw).not.toContain(share.signingShare);
    expect(raw).not.toContain(Buffer.from(s.identity.signingSecret).toString('hex'));
    s.close();
    const again = NodeStore.open({ dir, nodeId: 'n1', passphrase: 'correct horse', rng });
    expect(again.identity.signingKey).toBe(s.identity.signingKey);
    expect(again.keyShare('k1')).toEqual(share);
    again.close();
    let err: unknown;
    try {
      NodeStore.open({ dir, nodeId: 'n1', passphrase: 'wrong horse!', rng });
    } catch (e) {
      err = e;
    }
    expect((err as { code: string }).code).toBe('node_unseal_failed');
    expect(JSON.stringify({ m: (err as Error).message, e: err })).not.toContain('horse');
    expect(() => NodeStore.open({ dir, nodeId: 'n2', passphrase: 'correct horse', rng })).toThrow(/belongs to node n1/);
  });

  it('refuses a sealed share moved under another key id (the label is authenticated)', () => {
    const dir = fresh();
    const s = NodeStore.open({ dir, nodeId: 'n1', passphrase: 'correct horse', rng, kdfCost });
    s.putKey(record, share);
    s.putKey({ ...record, keyId: 'k2' }, { ...share, signingShare: 'ff'.repeat(32) });
    const data = JSON.parse(readFileSync(join(dir, STORE_FILE), 'utf8')) as { keys: Record<string, { sealedShare: unknown }> };
    (data.keys.k2 as { sealedShare: unknown }).sealedShare = (data.keys.k1 as { sealedShare: unknown }).sealedShare;
    writeFileSync(join(dir, STORE_FILE), JSON.stringify(data));
    s.close();
    const reopened = NodeStore.open({ dir, nodeId: 'n1', passphrase: 'correct horse', rng });
    expect(() => reopened.keyShare('k2')).toThrow(/does not open/);
  });

  it('records spent nonces and used sessions durably: a reopened store still refuses them', () => {
    const dir = fresh();
    const s = NodeStore.open({ dir, nodeId: 'n1', passphrase: 'correct horse', rng, kdfCost });
    expect(s.startWithdrawal('wd-1', 'aa', 'ab'.repeat(16), 1)).toBe(true);
    expect(s.consumeNonce('nonce-1', { id: 'wd-1', now: 2 })).toBe(true);
    expect(s.consumeNonce('nonce-1')).toBe(false);
    s.close();
    const again = NodeStore.open({ dir, nodeId: 'n1', passphrase: 'correct horse', rng });
    expect(again.consumeNonce('nonce-1')).toBe(false);
    expect(again.useSession('ab'.repeat(16))).toBe(false);
    expect(again.withdrawal('wd-1')).toMatchObject({ digest: 'aa', state: 'share_released', attempts: 1 });
  });

  it('locks its directory: a second open is refused until the first closes; a closed store writes nothing; read-only opens take no lock', () => {
    const dir = fresh();
    const s = NodeStore.open({ dir, nodeId: 'n1', passphrase: 'correct horse', rng, kdfCost });
    s.putKey(record, share);
    let err: unknown;
    try {
      NodeStore.open({ dir, nodeId: 'n1', passphrase: 'correct horse', rng });
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'node_dir_locked', holderPid: process.pid });
    expect((err as Error).message).toContain(dir);
    expect(JSON.stringify({ m: (err as Error).message, e: err })).not.toContain('horse');
    // inspection while the store is open elsewhere: reads work, writes are refused
    const view = NodeStore.open({ dir, nodeId: 'n1', passphrase: 'correct horse', rng, readOnly: true });
    expect(view.keyShare('k1')).toEqual(share);
    expect(code(() => view.useSession('cd'.repeat(16)))).toBe('node_store_read_only');
    expect(code(() => view.consumeNonce('nonce-ro'))).toBe('node_store_read_only');
    expect(code(() => NodeStore.open({ dir: fresh(), nodeId: 'n1', passphrase: 'correct horse', rng, readOnly: true }))).toBe('node_store_missing');
    s.close();
    s.close(); // idempotent
    expect(code(() => s.consumeNonce('nonce-2'))).toBe('node_store_closed');
    expect(code(() => s.putKey({ ...record, keyId: 'k2' }, share))).toBe('node_store_closed');
    const again = NodeStore.open({ dir, nodeId: 'n1', passphrase: 'correct horse', rng });
    expect(again.isNonceSpent('nonce-2')).toBe(false);
    expect(again.isNonceSpent('nonce-ro')).toBe(false);
    expect(again.getKey('k2')).toBeUndefined();
    expect(again.consumeNonce('nonce-2')).toBe(true);
    again.close();
    // a failed open (wrong node) releases the lock it took
    expect(code(() => NodeStore.open({ dir, nodeId: 'n2', passphrase: 'correct horse', rng }))).toBe('node_store_mismatch');
    NodeStore.open({ dir, nodeId: 'n1', passphrase: 'correct horse', rng }).close();
  });

  it('a store sealed under a released key opens only with that key, never with a passphrase, and holds no copy of it', () => {
    const dir = fresh();
    const released = rng(32);
    const s = NodeStore.open({ dir, nodeId: 'n1', releasedKey: released, rng });
    expect(s.sealingLabel).toMatch(/released by the key-release service/);
    s.putKey(record, share);
    const raw = readFileSync(join(dir, STORE_FILE), 'utf8');
    expect(raw).not.toContain(Buffer.from(released).toString('hex'));
    expect(raw).not.toContain(share.signingShare);
    s.close();
    const again = NodeStore.open({ dir, nodeId: 'n1', releasedKey: Uint8Array.from(released), rng });
    expect(again.keyShare('k1')).toEqual(share);
    again.close();

    const other = rng(32);
    expect(() => NodeStore.open({ dir, nodeId: 'n1', releasedKey: other, rng })).toThrow(expect.objectContaining({ code: 'node_unseal_failed' }));
    expect(() => NodeStore.open({ dir, nodeId: 'n1', passphrase: 'correct horse', rng })).toThrow(expect.objectContaining({ code: 'node_store_sealing_mismatch' }));
    expect(() => NodeStore.open({ dir, nodeId: 'n1', rng })).toThrow(expect.objectContaining({ code: 'node_bad_sealing_key' }));
    expect(() => NodeStore.open({ dir, nodeId: 'n1', releasedKey: released, passphrase: 'correct horse', rng })).toThrow(expect.objectContaining({ code: 'node_bad_sealing_key' }));

    const pass = fresh();
    NodeStore.open({ dir: pass, nodeId: 'n1', passphrase: 'correct horse', rng, kdfCost }).close();
    expect(() => NodeStore.open({ dir: pass, nodeId: 'n1', releasedKey: released, rng })).toThrow(expect.objectContaining({ code: 'node_store_sealing_mismatch' }));
  });
});
