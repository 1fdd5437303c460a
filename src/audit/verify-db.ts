/**
 * Full verification of the audit log in a database: the hash chain (issue 2's form, names the
 * first broken seq), then every entry re-hashed into the RFC 6962 tree and checked against every
 * stored checkpoint (signature by a trusted key, origin, root), the consistency between
 * consecutive checkpoints from the stored nodes, and the stored tree head. A rewrite that also
 * recomputes the chain hashes is still caught by the earlier checkpoint; with the stored nodes
 * the first changed entry is named exactly.
 *
 * @example
 *   const r = await verifyAuditDb(db, { verifiers: [parseVerifierKey(vkey)], origin: 'custos.local/audit' });
 *   if (!r.ok) console.error(r.message, r.firstBadSeq);
 */
import type { Queryable } from '../store/db.js';
import { readTreeState, verifyChain, type ChainReport } from './chain.js';
import { listCheckpoints } from './checkpointer.js';
import { bytesEqual, hashChildren, hashLeaf } from './merkle.js';
import type { NoteVerifier } from './note.js';
import { SqlTreeNodeStore } from './sql-tree-store.js';
import { verifyLog, type VerifyReport } from './verify.js';

export interface AuditDbReport {
  ok: boolean;
  chain: ChainReport;
  log: VerifyReport | null;
  /** The stored tree head agrees with the entries (null when not reached). */
  treeHead: { ok: boolean; size: number; message?: string } | null;
  /** Every stored node re-derived: level 0 from the entry bodies, each level from the one below (null when not reached). */
  nodes: { ok: boolean; checked: number; message?: string; level?: number; index?: number } | null;
  /** First entry (seq) known to be bad, when one was named. */
  firstBadSeq?: number;
  message: string;
}

/** Chained entry bodies in seq order, paged. */
export async function* chainedBodies(q: Queryable, page = 10_000, onProgress?: (n: number) => void): AsyncGenerator<Uint8Array> {
  const enc = new TextEncoder();
  let after = 0n;
  let n = 0;
  for (;;) {
    const rows = await q.query<{ seq: string; body: string | null }>(
      `SELECT c.seq::text AS seq, e.body FROM audit_chain c LEFT JOIN audit_entries e ON e.id = c.entry_id
       WHERE c.seq > $1 ORDER BY c.seq LIMIT $2`,
      [after.toString(), page],
    );
    for (const r of rows) {
      yield enc.encode(r.body ?? '');
      after = BigInt(r.seq);
    }
    n += rows.length;
    onProgress?.(n);
    if (rows.length < page) return;
  }
}

export async function verifyAuditDb(
  q: Queryable,
  opts: { verifiers: readonly NoteVerifier[]; origin: string; onProgress?: (phase: string, n: number) => void },
): Promise<AuditDbReport> {
  const chain = await verifyChain(q, (n) => opts.onProgress?.('chain', n));
  const checkpoints = await listCheckpoints(q);
  const log = await verifyLog({
    entries: chainedBodies(q, 10_000, (n) => opts.onProgress?.('tree', n)),
    checkpoints: checkpoints.map((c) => c.note),
    verifiers: opts.verifiers,
    origin: opts.origin,
    firstSeq: 1,
    storedNodes: new SqlTreeNodeStore(q),
  });
  let treeHead: AuditDbReport['treeHead'] = null;
  if (log.ok) {
    const state = await readTreeState(q);
    if (state.size > log.entries) {
      treeHead = { ok: false, size: state.size, message: `the stored tree head has ${state.size} leaves but only ${log.entries} entries are chained` };
    } else if (state.size === log.entries && !bytesEqual(state.root, log.root)) {
      treeHead = { ok: false, size: state.size, message: 'the stored tree head root differs from the root of the chained entries' };
    } else {
      treeHead = { ok: true, size: state.size };
    }
  }
  const nodes = treeHead?.ok ? await verifyStoredNodes(q, treeHead.size, (n) => opts.onProgress?.('nodes', n)) : null;
  const ok = chain.ok && log.ok && (treeHead?.ok ?? false) && (nodes?.ok ?? false);
  const firstBad = !log.ok ? log.firstBadSeq : undefined;
  const chainBad = !chain.ok ? Number(chain.brokenSeq) : undefined;
  const firstBadSeq = firstBad !== undefined && chainBad !== undefined ? Math.min(firstBad, chainBad) : (firstBad ?? chainBad);
  const parts: string[] = [];
  if (!chain.ok) parts.push(`hash chain broken at seq ${chain.brokenSeq}: ${chain.reason}`);
  if (!log.ok) parts.push(`Merkle log: ${log.message}`);
  if (treeHead && !treeHead.ok) parts.push(`tree head: ${treeHead.message}`);
  if (nodes && !nodes.ok) parts.push(`stored tree: ${nodes.message}`);
  const message = ok
    ? `audit log intact: ${log!.entries} entries, ${(log as { checkpoints: number }).checkpoints} checkpoints verified`
    : parts.join('; ');
  return { ok, chain, log, treeHead, nodes, ...(firstBadSeq !== undefined ? { firstBadSeq } : {}), message };
}

/**
 * Re-derives every stored node of a tree of `size` leaves: level 0 must be the leaf hash of the
 * chained entry, each higher node the hash of its two children, and each level must hold exactly
 * floor(size / 2^level) nodes. Proofs served from a table that passes are the proofs of the
 * entries' own tree.
 */
export async function verifyStoredNodes(
  q: Queryable,
  size: number,
  onProgress?: (n: number) => void,
  page = 10_000,
): Promise<NonNullable<AuditDbReport['nodes']>> {
  const enc = new TextEncoder();
  let checked = 0;
  for (let level = 0; level < 64; level++) {
    const expected = Math.floor(size / 2 ** level);
    if (expected === 0) break;
    const [c] = await q.query<{ n: string }>('SELECT count(*)::text AS n FROM audit_tree_nodes WHERE level = $1', [level]);
    if (Number(c?.n ?? 0) !== expected) {
      return { ok: false, checked, level, message: `level ${level} holds ${c?.n ?? 0} nodes, a tree of ${size} leaves has ${expected}` };
    }
    for (let from = 0; from < expected; from += page) {
      const rows =
        level === 0
          ? await q.query<{ idx: string; hash: Uint8Array; body: string | null }>(
              `SELECT n.idx::text AS idx, n.hash, e.body FROM audit_tree_nodes n
               LEFT JOIN audit_chain c ON c.seq = n.idx + 1 LEFT JOIN audit_entries e ON e.id = c.entry_id
               WHERE n.level = 0 AND n.idx >= $1 AND n.idx < $2 ORDER BY n.idx`,
              [from, Math.min(expected, from + page)],
            )
          : await q.query<{ idx: string; hash: Uint8Array; l: Uint8Array | null; r: Uint8Array | null }>(
              `SELECT p.idx::text AS idx, p.hash, l.hash AS l, r.hash AS r FROM audit_tree_nodes p
               LEFT JOIN audit_tree_nodes l ON l.level = p.level - 1 AND l.idx = 2 * p.idx
               LEFT JOIN audit_tree_nodes r ON r.level = p.level - 1 AND r.idx = 2 * p.idx + 1
               WHERE p.level = $1 AND p.idx >= $2 AND p.idx < $3 ORDER BY p.idx`,
              [level, from, Math.min(expected, from + page)],
            );
      for (const row of rows) {
        const index = Number(row.idx);
        const want =
          'body' in row
            ? row.body === null
              ? undefined
              : hashLeaf(enc.encode(row.body))
            : row.l && row.r
              ? hashChildren(new Uint8Array(row.l), new Uint8Array(row.r))
              : undefined;
        if (!want || !bytesEqual(want, new Uint8Array(row.hash))) {
          const first = index * 2 ** level + 1;
          return {
            ok: false,
            checked,
            level,
            index,
            message: `stored node (${level}, ${index}) over entries ${first}..${first + 2 ** level - 1} does not match ${level === 0 ? 'the entry' : 'its children'}`,
          };
        }
        checked++;
      }
      onProgress?.(checked);
    }
  }
  return { ok: true, checked };
}
