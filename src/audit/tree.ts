/**
 * A growing RFC 6962 Merkle tree over a TreeNodeStore: appends write O(log n) perfect-subtree
 * nodes per leaf (amortised 2), roots at any earlier size and inclusion / consistency proofs
 * each read O(log n) nodes in one batched store call.
 *
 * The tree keeps its right border (the perfect subtrees that make up the current size, at most
 * 64 hashes) in memory. Appends must not run concurrently (one sequencer, as in chain.ts);
 * proofs may run while an append is in flight and see the size before it.
 *
 * Crash safety with a database store: persist the tree size (the tree head) only after
 * `append` resolves. Nodes are immutable and deterministic, so after a crash between the node
 * write and the size update, `MerkleTree.open(store, persistedSize)` and appending the same
 * leaves again rewrites identical nodes (a no-op); different leaves raise TreeConflictError.
 *
 * @example
 *   const tree = MerkleTree.empty(new MemoryTreeNodeStore());
 *   await tree.append([hashLeaf(entryBytes)]);
 *   const proof = await tree.inclusionProof(0, tree.size);
 *   verifyInclusion(hashLeaf(entryBytes), 0, tree.size, proof, tree.root());
 */
import { CustosError } from '../core/errors.js';
import {
  HASH_SIZE,
  MerkleProofError,
  assertTreeSize,
  consistencyProofRanges,
  emptyRoot,
  foldRangeNodes,
  inclusionProofRanges,
  rangeNodes,
  type LeafRange,
  type NodeId,
} from './merkle.js';
import { CompactRange } from './compact-range.js';
import type { StoredNode, TreeNodeStore } from './tree-store.js';

export class MerkleTree {
  private range: CompactRange;
  private appending = false;

  private constructor(
    private readonly store: TreeNodeStore,
    range: CompactRange,
  ) {
    this.range = range;
  }

  /** A new, empty tree (the store must hold no nodes). */
  static empty(store: TreeNodeStore): MerkleTree {
    return new MerkleTree(store, new CompactRange());
  }

  /** Re-opens a tree of `size` leaves whose nodes are already in `store`. */
  static async open(store: TreeNodeStore, size: number): Promise<MerkleTree> {
    assertTreeSize(size);
    const ids = rangeNodes({ start: 0, end: size });
    const hashes = await readAll(store, ids);
    return new MerkleTree(store, new CompactRange(size, ids.map((id, i) => ({ level: id.level, hash: hashes[i]! }))));
  }

  get size(): number {
    return this.range.size;
  }

  /** Root at the current size. */
  root(): Uint8Array {
    return this.range.root();
  }

  /** Root at any size up to the current one. */
  async rootAt(size: number): Promise<Uint8Array> {
    this.assertWithin(size);
    if (size === this.size) return this.root();
    if (size === 0) return emptyRoot();
    const [root] = await this.rangeHashes([{ start: 0, end: size }]);
    return root!;
  }

  /**
   * Appends leaf hashes (already SHA-256(0x00 || entry)); writes every completed node in one
   * `putNodes` call and only then advances the size. Returns the new size.
   */
  async append(leafHashes: readonly Uint8Array[]): Promise<number> {
    if (this.appending) throw new CustosError('audit_tree_busy', 'another append is in progress', 409);
    this.appending = true;
    try {
      const next = this.range.clone();
      const nodes: StoredNode[] = [];
      const sink = (level: number, index: number, hash: Uint8Array) => nodes.push({ level, index, hash });
      for (const leaf of leafHashes) {
        if (!(leaf instanceof Uint8Array) || leaf.length !== HASH_SIZE) {
          throw new CustosError('audit_tree_bad_node', 'leaf hash must be 32 bytes', 500);
        }
        next.push(leaf, sink);
      }
      if (nodes.length > 0) await this.store.putNodes(nodes);
      this.range = next;
      return next.size;
    } finally {
      this.appending = false;
    }
  }

  /** Inclusion proof of leaf `index` in the tree of `size` (default: current). */
  async inclusionProof(index: number, size: number = this.size): Promise<Uint8Array[]> {
    this.assertWithin(size);
    return this.rangeHashes(inclusionProofRanges(index, size));
  }

  /** Consistency proof from `size1` to `size2` (default: current); 0 < size1 <= size2. */
  async consistencyProof(size1: number, size2: number = this.size): Promise<Uint8Array[]> {
    this.assertWithin(size2);
    return this.rangeHashes(consistencyProofRanges(size1, size2));
  }

  private assertWithin(size: number): void {
    assertTreeSize(size);
    if (size > this.size) throw new MerkleProofError(`tree size ${size} is beyond the log (${this.size})`);
  }

  /** MTH of each range, from one batched read. */
  private async rangeHashes(ranges: readonly LeafRange[]): Promise<Uint8Array[]> {
    const perRange = ranges.map(rangeNodes);
    const hashes = await readAll(this.store, perRange.flat());
    let at = 0;
    return perRange.map((ids) => {
      const part = hashes.slice(at, at + ids.length);
      at += ids.length;
      return foldRangeNodes(part);
    });
  }
}

async function readAll(store: TreeNodeStore, ids: readonly NodeId[]): Promise<Uint8Array[]> {
  if (ids.length === 0) return [];
  const got = await store.getNodes(ids);
  return ids.map((id, i) => {
    const h = got[i];
    if (!h || h.length !== HASH_SIZE) {
      throw new CustosError('audit_tree_missing_node', `tree node (${id.level}, ${id.index}) is missing`, 500);
    }
    return h;
  });
}
