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
import { bytesEqual } from './merkle.js';
import type { NoteVerifier } from './note.js';
import { SqlTreeNodeStore } from './sql-tree-store.js';
import { verifyLog, type VerifyReport } from './verify.js';

export interface AuditDbReport {
  ok: boolean;
  chain: ChainReport;
  log: VerifyReport | null;
  /** The stored tree head agrees with the entries (null when not reached). */
  treeHead: { ok: boolean; size: number; message?: string } | null;
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
  const ok = chain.ok && log.ok && (treeHead?.ok ?? false);
  const firstBad = !log.ok ? log.firstBadSeq : undefined;
  const chainBad = !chain.ok ? Number(chain.brokenSeq) : undefined;
  const firstBadSeq = firstBad !== undefined && chainBad !== undefined ? Math.min(firstBad, chainBad) : (firstBad ?? chainBad);
  const parts: string[] = [];
  if (!chain.ok) parts.push(`hash chain broken at seq ${chain.brokenSeq}: ${chain.reason}`);
  if (!log.ok) parts.push(`Merkle log: ${log.message}`);
  if (treeHead && !treeHead.ok) parts.push(`tree head: ${treeHead.message}`);
  const message = ok
    ? `audit log intact: ${log!.entries} entries, ${(log as { checkpoints: number }).checkpoints} checkpoints verified`
    : parts.join('; ');
  return { ok, chain, log, treeHead, ...(firstBadSeq !== undefined ? { firstBadSeq } : {}), message };
}
