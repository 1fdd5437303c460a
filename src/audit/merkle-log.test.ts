/**
 * The database-backed Merkle log on both backends: the sequencer's tree equals the in-memory
 * tree over the same bodies, proofs from the stored nodes verify, checkpoints are signed and
 * copied outside the database, and a superuser's rewrite (even with the chain recomputed) is
 * caught against an earlier checkpoint, naming the entry.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../core/clock.js';
import type { Db, Queryable } from '../store/db.js';
import { TEST_DBS } from '../store/test-helpers/db.js';
import { GENESIS_HASH, appendAudit, chainHash, openAuditTree, readTreeState, sealPending, verifyChain, type AuditEntry } from './chain.js';
import { openCheckpoint } from './checkpoint.js';
import { AuditCheckpointer, latestCheckpoint, listCheckpoints } from './checkpointer.js';
import { exportAuditLog, verifyExport } from './export.js';
import { hashLeaf, verifyConsistency, verifyInclusion } from './merkle.js';
import { formatVerifierKey, parseVerifierKey } from './note.js';
import { ed25519SignerFromSeed } from './signer.js';
import { SqlTreeNodeStore } from './sql-tree-store.js';
import { MemoryTreeNodeStore, TreeConflictError } from './tree-store.js';
import { MerkleTree } from './tree.js';
import { verifyAuditDb } from './verify-db.js';

const ORIGIN = 'custos.test/audit';
const signer = ed25519SignerFromSeed(ORIGIN, new Uint8Array(32).fill(7));
const verifier = parseVerifierKey(formatVerifierKey(ORIGIN, signer.publicKey));
const otherVerifier = parseVerifierKey(formatVerifierKey(ORIGIN, ed25519SignerFromSeed(ORIGIN, new Uint8Array(32).fill(8)).publicKey));

const entry = (i: number): AuditEntry => ({
  at: 1_732_417_200_000 + i,
  actor: 'operator',
  action: 'test.event',
  subject: `test:${i}`,
  data: { i, amount: 10n ** 20n + BigInt(i), note: i % 3 === 0 ? undefined : 'x' },
});

const ALWAYS: Record<string, string[]> = {
  audit_entries: ['audit_entries_append_only', 'audit_entries_no_truncate'],
  audit_chain: ['audit_chain_append_only', 'audit_chain_no_truncate'],
  audit_tree_nodes: ['audit_tree_nodes_append_only', 'audit_tree_nodes_no_truncate'],
};

async function asSuperuser(db: Db, tables: string[], fn: (q: Queryable) => Promise<unknown>): Promise<void> {
  await db.tx(async (q) => {
    for (const t of tables) await q.query(`ALTER TABLE ${t} DISABLE TRIGGER ALL`);
    await fn(q);
    for (const t of tables) {
      await q.query(`ALTER TABLE ${t} ENABLE TRIGGER ALL`);
      for (const trig of ALWAYS[t] ?? []) await q.query(`ALTER TABLE ${t} ENABLE ALWAYS TRIGGER ${trig}`);
    }
  });
}

async function sealAll(db: Db): Promise<void> {
  while ((await sealPending(db, 7)) > 0);
}

async function bodies(q: Queryable): Promise<string[]> {
  const rows = await q.query<{ body: string }>('SELECT e.body FROM audit_chain c JOIN audit_entries e ON e.id = c.entry_id ORDER BY c.seq');
  return rows.map((r) => r.body);
}

async function memoryTree(list: string[]): Promise<MerkleTree> {
  const t = MerkleTree.empty(new MemoryTreeNodeStore());
  await t.append(list.map((b) => hashLeaf(new TextEncoder().encode(b))));
  return t;
}

describe.each(TEST_DBS)('Merkle audit log on $name', (backend) => {
  let db: Db;
  let dir: string;
  const clock = manualClock(1_732_417_200_000);
  const witnessed: string[] = [];
  let checkpointer: AuditCheckpointer;

  beforeAll(async () => {
    db = await backend.open();
    dir = mkdtempSync(join(tmpdir(), 'custos-audit-'));
    checkpointer = new AuditCheckpointer(db, {
      origin: ORIGIN,
      signer,
      clock,
      file: join(dir, 'checkpoints.log'),
      witnessUrl: 'https://witness.test/add',
      fetch: (async (_url: string | URL | Request, init?: RequestInit) => {
        witnessed.push(String(init?.body));
        return new Response('ok', { status: 200 });
      }) as typeof fetch,
    });
    for (let i = 0; i < 20; i += 4) {
      await db.tx(async (q) => {
        for (let k = i; k < i + 4; k++) await appendAudit(q, entry(k));
      });
    }
  }, 120_000);
  afterAll(async () => {
    await db?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the tree in the database equals the in-memory tree over the chained bodies, batch after batch', async () => {
    expect(await readTreeState(db)).toMatchObject({ size: 0 });
    expect(await sealPending(db, 7)).toBe(7);
    expect((await readTreeState(db)).size).toBe(7); // the tree moves in the sequencer's transaction
    await sealAll(db);
    const list = await bodies(db);
    expect(list).toHaveLength(20);
    // bodies are canonical JSON with sorted members, no undefined member
    expect(list[0]).toBe('{"action":"test.event","actor":"operator","data":{"amount":"100000000000000000000","i":0},"subject":"test:0","time":"2024-11-24T03:00:00.000Z"}');
    const mem = await memoryTree(list);
    const state = await readTreeState(db);
    expect(state.size).toBe(20);
    expect(Buffer.from(state.root).toString('hex')).toBe(Buffer.from(mem.root()).toString('hex'));
    const tree = await openAuditTree(db);
    for (const size of [1, 2, 7, 13, 20]) {
      expect(Buffer.from(await tree.rootAt(size)).equals(Buffer.from(await mem.rootAt(size)))).toBe(true);
    }
    const nodes = await db.query<{ n: string }>('SELECT count(*)::text AS n FROM audit_tree_nodes');
    expect(Number(nodes[0]!.n)).toBe(20 + 10 + 5 + 2 + 1); // every perfect subtree, once
  });

  it('inclusion and consistency proofs from the stored nodes verify against the roots', async () => {
    const list = await bodies(db);
    const tree = await openAuditTree(db);
    for (const size of [1, 5, 20]) {
      const root = await tree.rootAt(size);
      for (let i = 0; i < size; i++) {
        const proof = await tree.inclusionProof(i, size);
        verifyInclusion(hashLeaf(new TextEncoder().encode(list[i]!)), i, size, proof, root);
      }
    }
    for (const [a, b] of [[1, 20], [7, 13], [8, 16], [20, 20]] as const) {
      verifyConsistency(a, b, await tree.consistencyProof(a, b), await tree.rootAt(a), await tree.rootAt(b));
    }
    // a proof for a changed leaf fails
    const proof = await tree.inclusionProof(3, 20);
    expect(() => verifyInclusion(hashLeaf(new TextEncoder().encode(list[4]!)), 3, 20, proof, tree.root())).toThrow();
  });

  it('checkpoints are signed notes over the tree head, issued only when the tree grew, copied to the file and the witness', async () => {
    const first = await checkpointer.issue();
    expect(first.created).toBe(true);
    const opened = openCheckpoint(first.checkpoint.note, [verifier], ORIGIN);
    expect(opened.checkpoint.size).toBe(20);
    expect(Buffer.from(opened.checkpoint.rootHash).equals(Buffer.from((await readTreeState(db)).root))).toBe(true);
    expect(() => openCheckpoint(first.checkpoint.note, [otherVerifier], ORIGIN)).toThrow();
    expect((await checkpointer.issue()).created).toBe(false); // no growth, no new checkpoint
    expect((await checkpointer.issue({ force: true })).created).toBe(true);
    expect(await listCheckpoints(db)).toHaveLength(2);
    const lines = readFileSync(join(dir, 'checkpoints.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { size: number; note: string });
    expect(lines.map((l) => l.size)).toEqual([20, 20]);
    expect(lines[0]!.note).toBe(first.checkpoint.note);
    expect(witnessed).toEqual(lines.map((l) => l.note));
    // a witness that is down does not stop checkpoints
    const errors: Error[] = [];
    const down = new AuditCheckpointer(db, { origin: ORIGIN, signer, clock, witnessUrl: 'https://witness.test/', fetch: (async () => { throw new Error('connection refused'); }) as typeof fetch });
    await db.tx((q) => appendAudit(q, entry(20)));
    await sealAll(db);
    const third = await down.issue({ onError: (e) => errors.push(e) });
    expect(third.created).toBe(true);
    expect(errors.map((e) => e.message)).toEqual(['connection refused']);
    expect((await latestCheckpoint(db))?.size).toBe(21);
  });

  it('verifyAuditDb passes on the intact log, and the export verifies offline', async () => {
    for (let k = 21; k < 25; k++) await db.tx((q) => appendAudit(q, entry(k)));
    await sealAll(db);
    await checkpointer.issue();
    const r = await verifyAuditDb(db, { verifiers: [verifier], origin: ORIGIN });
    expect(r).toMatchObject({ ok: true, chain: { ok: true, entries: 25 }, log: { ok: true, entries: 25, verifiedSize: 25 }, treeHead: { ok: true, size: 25 }, nodes: { ok: true, checked: 25 + 12 + 6 + 3 + 1 } });
    expect((await verifyAuditDb(db, { verifiers: [otherVerifier], origin: ORIGIN })).ok).toBe(false); // untrusted key
    const out = join(dir, 'export');
    const m = await exportAuditLog(db, out, { origin: ORIGIN, verifierKey: formatVerifierKey(ORIGIN, signer.publicKey) });
    expect(m).toMatchObject({ entries: 25, checkpoints: 4, firstSeq: 1 });
    expect(await verifyExport(out)).toMatchObject({ ok: true, entries: 25, verifiedSize: 25 });
  });

  it('stored nodes are immutable: a different hash for an existing node is a TreeConflictError; a tampered node table is reported', async () => {
    const store = new SqlTreeNodeStore(db);
    const [orig] = await store.getNodes([{ level: 1, index: 2 }]);
    expect(orig).toBeDefined();
    await store.putNodes([{ level: 1, index: 2, hash: orig! }]); // same hash: no-op
    const other = orig!.slice();
    other[0] = (other[0] ?? 0) ^ 1;
    await expect(store.putNodes([{ level: 1, index: 2, hash: other }])).rejects.toBeInstanceOf(TreeConflictError);
    await expect(db.query('UPDATE audit_tree_nodes SET hash = hash WHERE level = 0')).rejects.toThrow(/append-only: UPDATE on audit_tree_nodes refused/);
    // A superuser rewrites an interior node: entries still match every checkpoint (no consistency
    // proof between them uses that node), but the table that serves proofs is re-derived in full.
    await checkpointer.issue({ force: true });
    await asSuperuser(db, ['audit_tree_nodes'], (q) => q.query('UPDATE audit_tree_nodes SET hash = $1 WHERE level = 1 AND idx = 2', [Buffer.from(other)]));
    const r = await verifyAuditDb(db, { verifiers: [verifier], origin: ORIGIN });
    expect(r.ok).toBe(false);
    expect(r.log).toMatchObject({ ok: true });
    expect(r.nodes).toMatchObject({ ok: false, level: 1, index: 2 });
    expect(r.message).toContain('stored node (1, 2) over entries 5..6 does not match its children');
    await asSuperuser(db, ['audit_tree_nodes'], (q) => q.query('UPDATE audit_tree_nodes SET hash = $1 WHERE level = 1 AND idx = 2', [Buffer.from(orig!)]));
    expect((await verifyAuditDb(db, { verifiers: [verifier], origin: ORIGIN })).ok).toBe(true);
  });

  it('the tree catches up with entries chained before it existed (migration from the chain-only log)', async () => {
    // Simulate a log chained before migration 004: no nodes, tree head at 0.
    const before = await readTreeState(db);
    await asSuperuser(db, ['audit_tree_nodes'], async (q) => {
      await q.query('DELETE FROM audit_tree_nodes');
      await q.query("UPDATE audit_tree_state SET size = 0, root = sha256(''::bytea)");
    });
    await db.tx((q) => appendAudit(q, entry(30)));
    await sealAll(db);
    const list = await bodies(db);
    const state = await readTreeState(db);
    expect(state.size).toBe(before.size + 1);
    expect(Buffer.from(state.root).equals(Buffer.from((await memoryTree(list)).root()))).toBe(true);
  });

  it('a superuser who rewrites an entry and recomputes the chain is caught against the earlier checkpoint, naming the entry', async () => {
    await checkpointer.issue();
    const seq: number = 9;
    const rows = await db.query<{ seq: string; entry_id: string; body: string }>(
      'SELECT c.seq::text AS seq, c.entry_id::text AS entry_id, e.body FROM audit_chain c JOIN audit_entries e ON e.id = c.entry_id ORDER BY c.seq',
    );
    const forged = rows[seq - 1]!.body.replace('"amount":"100000000000000000008"', '"amount":"1"');
    expect(forged).not.toBe(rows[seq - 1]!.body);
    await asSuperuser(db, ['audit_entries', 'audit_chain'], async (q) => {
      await q.query('UPDATE audit_entries SET body = $1 WHERE id = $2', [forged, rows[seq - 1]!.entry_id]);
      let prev = chainHashOf(rows, seq - 1);
      for (let s = seq; s <= rows.length; s++) {
        const body = s === seq ? forged : rows[s - 1]!.body;
        const h = chainHash(BigInt(s), prev, body);
        await q.query('UPDATE audit_chain SET prev_hash = $1, hash = $2 WHERE seq = $3', [Buffer.from(prev), Buffer.from(h), s]);
        prev = h;
      }
    });
    expect(await verifyChain(db)).toMatchObject({ ok: true }); // the chain alone is fooled
    const r = await verifyAuditDb(db, { verifiers: [verifier], origin: ORIGIN });
    expect(r.ok).toBe(false);
    expect(r.chain.ok).toBe(true);
    expect(r.log).toMatchObject({ ok: false, reason: 'root_mismatch', firstBadSeq: seq });
    expect(r.firstBadSeq).toBe(seq);
    expect(r.message).toContain(`entry ${seq} is the first that differs`);
  });
});

/** The chain hash at `seq` recomputed from the bodies (the forger's view). */
function chainHashOf(rows: { body: string }[], seq: number): Uint8Array {
  let prev: Uint8Array = GENESIS_HASH;
  for (let s = 1; s <= seq; s++) prev = chainHash(BigInt(s), prev, rows[s - 1]!.body);
  return prev;
}
