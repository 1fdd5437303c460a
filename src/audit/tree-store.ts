/**
 * Storage of a growing RFC 6962 tree as the hashes of its perfect (complete) subtrees.
 *
 * Node (level, index) is the hash of leaves [index * 2^level, (index + 1) * 2^level); level 0
 * holds the leaf hashes. A node is written once, when its last leaf is appended, and never
 * changes; any root or proof at any size up to the current one is a fold of O(log n) nodes.
 * The interface is batched (one round trip per proof or append batch) and asynchronous so it can
 * be backed by PostgreSQL:
 *
 * (The statements below were checked against PGlite 0.5.)
 *
 * ```sql
 * CREATE TABLE audit_tree_nodes (
 *   level smallint NOT NULL CHECK (level BETWEEN 0 AND 63),
 *   idx   bigint   NOT NULL CHECK (idx >= 0),
 *   hash  bytea    NOT NULL CHECK (octet_length(hash) = 32),
 *   PRIMARY KEY (level, idx)
 * );
 * -- getNodes: one query for all ids of a proof (rows come back in any order: map by level, idx;
 * --   idx arrives as a string from pg's bigint, convert with Number after checking <= 2^53 - 1)
 * SELECT n.level, n.idx, n.hash FROM audit_tree_nodes n
 *   JOIN unnest($1::smallint[], $2::bigint[]) AS q(level, idx) USING (level, idx);
 * -- putNodes: insert, and treat an existing row with a different hash as corruption
 * INSERT INTO audit_tree_nodes (level, idx, hash)
 *   SELECT * FROM unnest($1::smallint[], $2::bigint[], $3::bytea[])
 *   ON CONFLICT (level, idx) DO NOTHING RETURNING level, idx;
 * --   (rows not returned must then be re-read and compared; a mismatch is TreeConflictError)
 * -- same append-only protection as the entry table: INSERT/SELECT only for the app role,
 * -- triggers refusing UPDATE/DELETE/TRUNCATE, ENABLE ALWAYS.
 * ```
 *
 * @example
 *   const store = new MemoryTreeNodeStore();
 *   await store.putNodes([{ level: 0, index: 0, hash: leafHash }]);
 *   const [h] = await store.getNodes([{ level: 0, index: 0 }]);
 */
import { CustosError } from '../core/errors.js';
import { HASH_SIZE, bytesEqual, type NodeId } from './merkle.js';

export interface StoredNode extends NodeId {
  readonly hash: Uint8Array;
}

export interface TreeNodeStore {
  /** Hashes for `ids`, in the same order; `undefined` where a node is not stored. */
  getNodes(ids: readonly NodeId[]): Promise<ReadonlyArray<Uint8Array | undefined>>;
  /**
   * Stores nodes. Writing a node that exists with the same hash is a no-op; with a different
   * hash it must throw TreeConflictError (nodes are immutable).
   */
  putNodes(nodes: readonly StoredNode[]): Promise<void>;
}

/** A stored node would be overwritten with a different hash: the tree is corrupt or forked. */
export class TreeConflictError extends CustosError {
  constructor(level: number, index: number) {
    super('audit_tree_conflict', `tree node (${level}, ${index}) already holds a different hash`, 500, {
      level,
      index,
    });
    this.name = 'TreeConflictError';
  }
}

interface Level {
  buf: Uint8Array;
  count: number;
}

/**
 * In-memory store: one contiguous buffer per level (32 bytes per node, about 64 MB for a
 * million leaves). Nodes of a level must be written in index order without gaps, which is how
 * MerkleTree appends.
 */
export class MemoryTreeNodeStore implements TreeNodeStore {
  private readonly levels: Level[] = [];

  /** Synchronous read, for in-process callers. Returns a copy. */
  get(level: number, index: number): Uint8Array | undefined {
    const l = this.levels[level];
    if (!l || index >= l.count || index < 0) return undefined;
    return l.buf.slice(index * HASH_SIZE, (index + 1) * HASH_SIZE);
  }

  put(level: number, index: number, hash: Uint8Array): void {
    if (hash.length !== HASH_SIZE) throw new CustosError('audit_tree_bad_node', 'tree node hash must be 32 bytes', 500);
    let l = this.levels[level];
    if (!l) {
      while (this.levels.length <= level) this.levels.push({ buf: new Uint8Array(HASH_SIZE * 64), count: 0 });
      l = this.levels[level]!;
    }
    if (index < l.count) {
      if (!bytesEqual(l.buf.subarray(index * HASH_SIZE, (index + 1) * HASH_SIZE), hash)) {
        throw new TreeConflictError(level, index);
      }
      return;
    }
    if (index > l.count) {
      throw new CustosError('audit_tree_gap', `tree node (${level}, ${index}) written before its predecessors`, 500);
    }
    if ((l.count + 1) * HASH_SIZE > l.buf.length) {
      const grown = new Uint8Array(l.buf.length * 2);
      grown.set(l.buf);
      l.buf = grown;
    }
    l.buf.set(hash, l.count * HASH_SIZE);
    l.count++;
  }

  /** Number of nodes stored at `level`. */
  count(level: number): number {
    return this.levels[level]?.count ?? 0;
  }

  async getNodes(ids: readonly NodeId[]): Promise<ReadonlyArray<Uint8Array | undefined>> {
    return ids.map((id) => this.get(id.level, id.index));
  }

  async putNodes(nodes: readonly StoredNode[]): Promise<void> {
    for (const n of nodes) this.put(n.level, n.index, n.hash);
  }
}
