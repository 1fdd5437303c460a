/**
 * TreeNodeStore over the `audit_tree_nodes` table (migration 004), bound to one Queryable: a
 * transaction (the sequencer appends inside the transaction that chains the entries) or the pool
 * (proofs). Works on PGlite and PostgreSQL alike.
 *
 * @example
 *   await db.tx(async (q) => {
 *     const tree = await MerkleTree.open(new SqlTreeNodeStore(q), size);
 *     await tree.append(leaves);
 *   });
 */
import { CustosError } from '../core/errors.js';
import type { Queryable } from '../store/db.js';
import { bytesEqual, type NodeId } from './merkle.js';
import { TreeConflictError, type StoredNode, type TreeNodeStore } from './tree-store.js';

const key = (level: number, index: number) => `${level}:${index}`;

function toIndex(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0) throw new CustosError('audit_tree_bad_node', `tree node index ${text} is beyond 2^53 - 1`, 500);
  return n;
}

/**
 * Stored nodes never change (putNodes refuses a different hash), so the upper levels, which every
 * proof reads and which are few (one node per 2^level leaves), can be kept in memory: a proof then
 * reads only its few low-level nodes, which lie close together on disk. On first use the cache
 * loads the stored nodes of its levels, top level first, up to `maxNodes` (about 100 bytes each);
 * later nodes are added as proofs read them, until it is full. One per database.
 */
export class UpperNodeCache {
  private readonly nodes = new Map<string, Uint8Array>();
  private warming: Promise<void> | null = null;
  constructor(
    readonly minLevel = 4,
    private readonly maxNodes = 400_000,
  ) {}
  get(level: number, index: number): Uint8Array | undefined {
    return level >= this.minLevel ? this.nodes.get(key(level, index)) : undefined;
  }
  put(level: number, index: number, hash: Uint8Array): void {
    if (level < this.minLevel || this.nodes.size >= this.maxNodes) return;
    this.nodes.set(key(level, index), hash);
  }
  get size(): number {
    return this.nodes.size;
  }
  /** Loads the stored upper levels once (concurrent callers share the load). */
  warm(q: Queryable): Promise<void> {
    this.warming ??= (async () => {
      const rows = await q.query<{ level: number; idx: string; hash: Uint8Array }>(
        'SELECT level, idx::text AS idx, hash FROM audit_tree_nodes WHERE level >= $1 ORDER BY level DESC, idx LIMIT $2',
        [this.minLevel, this.maxNodes],
      );
      for (const r of rows) this.put(Number(r.level), toIndex(r.idx), new Uint8Array(r.hash));
    })().catch((err: unknown) => {
      this.warming = null; // try again on the next proof
      throw err;
    });
    return this.warming;
  }
}

export class SqlTreeNodeStore implements TreeNodeStore {
  /** `cache`: for readers serving proofs; never for the verifier, which must read what is stored. */
  constructor(
    private readonly q: Queryable,
    private readonly cache?: UpperNodeCache,
  ) {}

  async getNodes(ids: readonly NodeId[]): Promise<ReadonlyArray<Uint8Array | undefined>> {
    if (ids.length === 0) return [];
    if (this.cache) await this.cache.warm(this.q);
    const cached = ids.map((i) => this.cache?.get(i.level, i.index));
    const missing = ids.filter((_, k) => cached[k] === undefined);
    if (missing.length === 0) return cached;
    const rows = await this.q.query<{ level: number; idx: string; hash: Uint8Array }>(
      `SELECT n.level, n.idx::text AS idx, n.hash FROM audit_tree_nodes n
       JOIN unnest($1::smallint[], $2::bigint[]) AS q(level, idx) USING (level, idx)`,
      [missing.map((i) => i.level), missing.map((i) => String(i.index))],
    );
    const found = new Map<string, Uint8Array>();
    for (const r of rows) {
      const level = Number(r.level);
      const index = toIndex(r.idx);
      const hash = new Uint8Array(r.hash);
      found.set(key(level, index), hash);
      this.cache?.put(level, index, hash);
    }
    return ids.map((i, k) => cached[k] ?? found.get(key(i.level, i.index)));
  }

  async putNodes(nodes: readonly StoredNode[]): Promise<void> {
    if (nodes.length === 0) return;
    const inserted = await this.q.query<{ level: number; idx: string }>(
      `INSERT INTO audit_tree_nodes (level, idx, hash)
       SELECT * FROM unnest($1::smallint[], $2::bigint[], $3::bytea[])
       ON CONFLICT (level, idx) DO NOTHING RETURNING level, idx::text AS idx`,
      [nodes.map((n) => n.level), nodes.map((n) => String(n.index)), nodes.map((n) => Buffer.from(n.hash))],
    );
    if (inserted.length === nodes.length) return;
    // Some nodes existed: they must hold exactly the same hash (nodes are immutable).
    const fresh = new Set(inserted.map((r) => key(Number(r.level), toIndex(r.idx))));
    const existing = nodes.filter((n) => !fresh.has(key(n.level, n.index)));
    const stored = await this.getNodes(existing);
    existing.forEach((n, i) => {
      const h = stored[i];
      if (!h || !bytesEqual(h, n.hash)) throw new TreeConflictError(n.level, n.index);
    });
  }
}
