import { describe, expect, it } from 'vitest';
import { canonicalJsonBytes } from './canonical.js';
import { signCheckpoint } from './checkpoint.js';
import { hashLeaf } from './merkle.js';
import { formatVerifierKey, parseVerifierKey } from './note.js';
import { ed25519SignerFromSeed } from './signer.js';
import { MerkleTree } from './tree.js';
import { MemoryTreeNodeStore } from './tree-store.js';
import { verifyLog, type VerifyLogInput } from './verify.js';

const ORIGIN = 'custos.test/audit';
const signer = ed25519SignerFromSeed(ORIGIN, new Uint8Array(32).fill(3));
const verifier = parseVerifierKey(formatVerifierKey(signer.name, signer.publicKey));
const intruder = ed25519SignerFromSeed(ORIGIN, new Uint8Array(32).fill(4));

const entry = (seq: number, amount = BigInt(seq) * 1000n) =>
  canonicalJsonBytes({ seq, action: 'withdrawal.approved', subject: `withdrawal:${seq}`, amount });

/** A log of 25 entries with signed checkpoints at sizes 0, 5, 13 and 20, and its node table. */
async function buildLog() {
  const entries = Array.from({ length: 25 }, (_, i) => entry(i + 1));
  const store = new MemoryTreeNodeStore();
  const tree = MerkleTree.empty(store);
  const checkpoints: string[] = [await signCheckpoint({ origin: ORIGIN, size: 0, rootHash: tree.root() }, [signer])];
  for (const size of [5, 13, 20, 25]) {
    await tree.append(entries.slice(tree.size, size).map(hashLeaf));
    if (size < 25) checkpoints.push(await signCheckpoint({ origin: ORIGIN, size, rootHash: tree.root() }, [signer]));
  }
  return { entries, store, tree, checkpoints };
}

const base = (over: Partial<VerifyLogInput> & Pick<VerifyLogInput, 'entries' | 'checkpoints'>): VerifyLogInput => ({
  verifiers: [verifier],
  origin: ORIGIN,
  firstSeq: 1,
  ...over,
});

describe('verifyLog', () => {
  it('accepts an intact log, with checkpoints in any order, sync or async entries', async () => {
    const { entries, checkpoints, store, tree } = await buildLog();
    const report = await verifyLog(base({ entries, checkpoints: [...checkpoints].reverse(), storedNodes: store }));
    expect(report).toMatchObject({ ok: true, entries: 25, checkpoints: 4, verifiedSize: 20, unverifiedTail: 5 });
    if (report.ok) expect(Buffer.from(report.root).equals(Buffer.from(tree.root()))).toBe(true);
    async function* stream() {
      for (const e of entries) yield e;
    }
    expect((await verifyLog(base({ entries: stream(), checkpoints }))).ok).toBe(true);
  });

  it('catches a rewritten entry against an earlier checkpoint and names the range', async () => {
    const { entries, checkpoints } = await buildLog();
    const tampered = entries.slice();
    tampered[7] = entry(8, 1n); // seq 8: amount rewritten
    const report = await verifyLog(base({ entries: tampered, checkpoints }));
    expect(report).toMatchObject({ ok: false, reason: 'root_mismatch', checkpoint: 2, checkpointSize: 13, suspectSeqs: [6, 13] });
    expect(report.ok || report.firstBadSeq).toBeUndefined();
  });

  it('names the exact entry when the stored node table is intact', async () => {
    const { entries, checkpoints, store } = await buildLog();
    for (const bad of [0, 7, 12, 19]) {
      const tampered = entries.slice();
      tampered[bad] = entry(bad + 1, 42n);
      const report = await verifyLog(base({ entries: tampered, checkpoints, storedNodes: store }));
      expect(report).toMatchObject({ ok: false, reason: 'root_mismatch', firstBadSeq: bad + 1 });
      expect(report.ok ? '' : report.message).toContain(`entry ${bad + 1} is the first`);
    }
  });

  it('still catches a superuser who rewrote an entry and rebuilt the node table', async () => {
    const { entries, checkpoints } = await buildLog();
    const tampered = entries.slice();
    tampered[3] = entry(4, 999n);
    const forged = new MemoryTreeNodeStore();
    await MerkleTree.empty(forged).append(tampered.map(hashLeaf));
    const report = await verifyLog(base({ entries: tampered, checkpoints, storedNodes: forged }));
    expect(report).toMatchObject({ ok: false, reason: 'root_mismatch', checkpoint: 1, checkpointSize: 5, suspectSeqs: [1, 5] });
  });

  it('catches a deleted, an inserted and a reordered entry, and a truncated log', async () => {
    const { entries, checkpoints, store } = await buildLog();
    const deleted = [...entries.slice(0, 9), ...entries.slice(10)];
    expect(await verifyLog(base({ entries: deleted, checkpoints, storedNodes: store }))).toMatchObject({
      reason: 'root_mismatch',
      firstBadSeq: 10,
    });
    const inserted = [...entries.slice(0, 2), entry(99), ...entries.slice(2)];
    expect(await verifyLog(base({ entries: inserted, checkpoints }))).toMatchObject({
      reason: 'root_mismatch',
      checkpointSize: 5,
    });
    const swapped = entries.slice();
    [swapped[15], swapped[16]] = [swapped[16]!, swapped[15]!];
    expect(await verifyLog(base({ entries: swapped, checkpoints, storedNodes: store }))).toMatchObject({
      reason: 'root_mismatch',
      firstBadSeq: 16,
    });
    expect(await verifyLog(base({ entries: entries.slice(0, 17), checkpoints }))).toMatchObject({
      ok: false,
      reason: 'entries_missing',
      checkpointSize: 20,
      entries: 17,
    });
  });

  it('does not vouch for entries after the last checkpoint', async () => {
    const { entries, checkpoints } = await buildLog();
    const tampered = entries.slice();
    tampered[22] = entry(23, 5n);
    expect(await verifyLog(base({ entries: tampered, checkpoints }))).toMatchObject({
      ok: true,
      verifiedSize: 20,
      unverifiedTail: 5,
    });
  });

  it('rejects a checkpoint signed by another key, a tampered one, and one of another log', async () => {
    const { entries, checkpoints, tree } = await buildLog();
    const foreign = await signCheckpoint({ origin: ORIGIN, size: 25, rootHash: tree.root() }, [intruder]);
    expect(await verifyLog(base({ entries, checkpoints: [...checkpoints, foreign] }))).toMatchObject({
      ok: false,
      reason: 'checkpoint_invalid',
      checkpoint: 4,
    });
    const edited = checkpoints[2]!.replace(`${ORIGIN}\n13\n`, `${ORIGIN}\n14\n`);
    const r = await verifyLog(base({ entries, checkpoints: [checkpoints[0]!, edited] }));
    expect(r).toMatchObject({ ok: false, reason: 'checkpoint_invalid', checkpoint: 1 });
    expect(r.ok ? '' : r.message).toContain('audit_note_bad_signature');
    const otherLog = await signCheckpoint({ origin: 'other.test/log', size: 5, rootHash: tree.root() }, [signer]);
    expect(await verifyLog(base({ entries, checkpoints: [otherLog] }))).toMatchObject({ reason: 'checkpoint_invalid' });
  });

  it('rejects a signed size-0 checkpoint whose root is not the empty root', async () => {
    const { entries, checkpoints, tree } = await buildLog();
    const bogus = await signCheckpoint({ origin: ORIGIN, size: 0, rootHash: tree.root() }, [signer]);
    expect(await verifyLog(base({ entries, checkpoints: [...checkpoints.slice(1), bogus] }))).toMatchObject({
      ok: false,
      reason: 'checkpoint_invalid',
      checkpoint: 3,
    });
  });

  it('reports two signed checkpoints of one size with different roots as a fork', async () => {
    const { entries, checkpoints } = await buildLog();
    const alt = entries.slice(0, 5);
    alt[0] = entry(1, 7n);
    const t = MerkleTree.empty(new MemoryTreeNodeStore());
    await t.append(alt.map(hashLeaf));
    const fork = await signCheckpoint({ origin: ORIGIN, size: 5, rootHash: t.root() }, [signer]);
    expect(await verifyLog(base({ entries, checkpoints: [...checkpoints, fork] }))).toMatchObject({
      ok: false,
      reason: 'checkpoint_fork',
      checkpointSize: 5,
    });
  });

  it('reports a corrupted node table even when the entries are intact', async () => {
    const { entries, checkpoints, store } = await buildLog();
    // copy the store, replacing one interior node that the 13 -> 20 consistency proof uses
    const corrupt = new MemoryTreeNodeStore();
    for (let level = 0; level < 6; level++) {
      for (let i = 0; i < store.count(level); i++) {
        const h = store.get(level, i)!;
        if (level === 1 && i === 7) h[0]! ^= 1; // leaves 14..15
        corrupt.put(level, i, h);
      }
    }
    expect(await verifyLog(base({ entries, checkpoints, storedNodes: corrupt }))).toMatchObject({
      ok: false,
      reason: 'stored_tree_inconsistent',
      checkpointSize: 20,
    });
  });
});
