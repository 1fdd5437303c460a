/**
 * Backup and recovery of a signing node: unit checks of the file format, and with real node
 * processes (needs `npm run build`): a wiped node restored from its backup has the same identity
 * and key and takes part in a 3-of-3 signature again.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signApprovalsFor } from '../../approvals/authorization.js';
import { Coordinator } from '../coordinator/coordinator.js';
import { defaultNodeEntry, startLocalCluster, type LocalCluster } from '../coordinator/local-cluster.js';
import { signAuthorization } from './authorization.js';
import { BACKUP_FORMAT, completeRestore, createNodeBackup, RESTORE_MARKER, restoreNodeBackup } from './backup.js';
import { NodeStore, STORE_FILE } from './store.js';
import { thrownCode as code } from '../../core/test-helpers/thrown-code.js';


describe('node backup files', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'custos-backup-'));
    NodeStore.open({ dir: join(dir, 'n1'), nodeId: 'n1', passphrase: 'test passphrase', rng: (n) => new Uint8Array(randomBytes(n)), kdfCost: { N: 1 << 10, r: 8, p: 1 } });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('round-trips the store byte for byte, refuses to overwrite a store, another node, and foreign files', () => {
    const b = createNodeBackup(join(dir, 'n1'), 123);
    expect(b).toMatchObject({ format: BACKUP_FORMAT, nodeId: 'n1', createdAt: 123, keys: [] });
    expect(code(() => restoreNodeBackup(b, join(dir, 'n1')))).toBe('node_backup_would_overwrite');
    expect(code(() => restoreNodeBackup(b, join(dir, 'n1'), { force: true }))).toBe('node_dir_locked'); // its store is open (beforeAll)
    restoreNodeBackup(b, join(dir, 'restored'));
    expect(readFileSync(join(dir, 'restored', STORE_FILE))).toEqual(readFileSync(join(dir, 'n1', STORE_FILE)));
    expect(existsSync(join(dir, 'restored', RESTORE_MARKER))).toBe(true);
    expect(code(() => restoreNodeBackup({ ...b, nodeId: 'n2' }, join(dir, 'other')))).toBe('node_backup_invalid');
    expect(code(() => restoreNodeBackup({ ...b, files: { ...b.files, '../evil': 'AA==' } }, join(dir, 'other')))).toBe('node_backup_invalid');
    expect(code(() => restoreNodeBackup({ ...b, format: 'x' }, join(dir, 'other')))).toBe('node_backup_invalid');
    expect(code(() => createNodeBackup(join(dir, 'nothing')))).toBe('node_backup_no_store');
    // the restored store opens under the same sealing key; the first open completes the restore
    const store = NodeStore.open({ dir: join(dir, 'restored'), nodeId: 'n1', passphrase: 'test passphrase', rng: (n) => new Uint8Array(randomBytes(n)) });
    expect(completeRestore(store, join(dir, 'restored'))).toEqual({ presignatures: 0, primePairs: 0 });
    expect(existsSync(join(dir, 'restored', RESTORE_MARKER))).toBe(false);
    expect(completeRestore(store, join(dir, 'restored'))).toBeNull();
  });

  it('a presignature stored before the backup is dropped when the restored node opens: it can never be used twice', () => {
    const rng = (n: number) => new Uint8Array(randomBytes(n));
    const src = NodeStore.open({ dir: join(dir, 'p1'), nodeId: 'p1', passphrase: 'test passphrase', rng, kdfCost: { N: 1 << 10, r: 8, p: 1 } });
    src.putPresignature({ id: 'ps-1', keyId: 'k', generation: 0, signers: ['p1', 'p2'], R: '02'.padEnd(66, '1'), createdAt: 1 }, { k: 'secret' });
    const b = createNodeBackup(join(dir, 'p1'));
    expect(src.consumePresignature('ps-1')).toEqual({ k: 'secret' }); // used after the backup was taken
    restoreNodeBackup(b, join(dir, 'p1-restored'));
    const restored = NodeStore.open({ dir: join(dir, 'p1-restored'), nodeId: 'p1', passphrase: 'test passphrase', rng });
    expect(restored.listPresignatures().map((p) => p.id)).toEqual(['ps-1']); // the old state came back…
    expect(completeRestore(restored, join(dir, 'p1-restored'))).toEqual({ presignatures: 1, primePairs: 0 });
    expect(restored.listPresignatures()).toEqual([]); // …and is dropped before the node serves
    expect(restored.consumePresignature('ps-1')).toBeUndefined();
    restored.close();
    const reopened = NodeStore.open({ dir: join(dir, 'p1-restored'), nodeId: 'p1', passphrase: 'test passphrase', rng });
    expect(reopened.listPresignatures()).toEqual([]);
  });
});

const built = existsSync(defaultNodeEntry());
describe.skipIf(!built)('a wiped node restored from its backup signs again (3 node processes; needs dist/)', () => {
  let base: string;
  let cluster: LocalCluster;
  const policySecret = new Uint8Array(randomBytes(32));
  const coordinatorSecret = new Uint8Array(randomBytes(32));
  const alice = { approver: 'alice', secretKey: new Uint8Array(randomBytes(32)) };

  beforeAll(async () => {
    base = mkdtempSync(join(tmpdir(), 'custos-backup-cluster-'));
    cluster = await startLocalCluster({
      baseDir: base, n: 3, policyPublicKey: bytesToHex(ed25519.getPublicKey(policySecret)), minApprovals: 1,
      coordinatorKeys: [bytesToHex(ed25519.getPublicKey(coordinatorSecret))],
      approverKeys: [{ approver: 'alice', publicKey: bytesToHex(ed25519.getPublicKey(alice.secretKey)) }],
    });
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
    if (base) rmSync(base, { recursive: true, force: true });
  });

  const authorize = (message: Uint8Array) => {
    const withdrawalId = `wd-${bytesToHex(randomBytes(6))}`;
    const withdrawal = { id: withdrawalId, customerId: 'acme', chain: 'solana', asset: 'SOL', to: 'Dest', amount: '1', fee: '5000', memo: null, createdAt: Date.now() };
    return signAuthorization({
      withdrawalId, keyId: 'k', chain: 'solana', unsignedTx: bytesToHex(message), digest: bytesToHex(message), to: 'Dest', amount: '1', policyVersion: 1,
      withdrawal, approvals: signApprovalsFor(withdrawal, 1, [alice], { at: Date.now() - 100, expiresAt: Date.now() + 600_000 }), expiresAt: Date.now() + 60_000,
    }, policySecret);
  };

  it('keygen 3-of-3, back up node-2, wipe it, restore, restart: same identity and key, and the 3-of-3 signature verifies', async () => {
    let coordinator = new Coordinator({ nodes: cluster.nodes, secretKey: coordinatorSecret });
    const key = await coordinator.keygen({ scheme: 'ed25519', threshold: 3, keyId: 'k' });
    const dir2 = cluster.dirs.get('node-2') as string;
    const file = join(base, 'node-2.backup.json');
    writeFileSync(file, JSON.stringify(createNodeBackup(dir2)));
    const backup = JSON.parse(readFileSync(file, 'utf8')) as ReturnType<typeof createNodeBackup>;
    expect(backup.keys).toEqual([expect.objectContaining({ keyId: 'k', publicKey: key.publicKey, threshold: 3 })]);
    expect(readFileSync(file, 'utf8')).not.toContain(cluster.passphrase as string);
    const identityBefore = cluster.nodes.find((n) => n.id === 'node-2')?.identity.signingKey;

    await cluster.kill('node-2');
    rmSync(dir2, { recursive: true, force: true });
    // wiped: a 3-of-3 signature is impossible now
    const msg1 = new Uint8Array(randomBytes(64));
    await expect(coordinator.sign({ keyId: 'k', authorization: authorize(msg1) })).rejects.toMatchObject({ code: expect.stringMatching(/mpc_/) });

    restoreNodeBackup(backup, dir2);
    const back = await cluster.restart('node-2');
    expect(back.identity.signingKey).toBe(identityBefore);
    coordinator = new Coordinator({ nodes: [...cluster.nodes.filter((n) => n.id !== 'node-2'), back], secretKey: coordinatorSecret });
    const msg2 = new Uint8Array(randomBytes(64));
    const r = await coordinator.sign({ keyId: 'k', authorization: authorize(msg2) });
    expect(r.signers).toContain('node-2');
    expect(bytesToHex(r.publicKey)).toBe(key.publicKey);
    expect(ed25519.verify(r.signature, msg2, r.publicKey)).toBe(true);
    expect(existsSync(join(dir2, RESTORE_MARKER))).toBe(false); // the node completed the restore at start
  });
});
