/**
 * A growing RFC 6962 Merkle tree over a TreeNodeStore: appends write O(log n) perfect-subtree
 * nodes per leaf (amortised 2), roots at any earlier size and inclusion / consistency proofs
 * each read O(log n) nodes in one batched store call.
 *
 * The tree keeps its right border (the perfect subtrees that make up the current size, at most
 * 64 hashes) in memory. Appends must not run concurrently (one sequencer, as in chain.ts);
 * proofs may run while an append is in flight and see the size before it.
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
  hashChildren,
  inclusionProofRanges,
  rangeNodes,
  type LeafRange,
  type NodeId,
} from './merkle.js';
import type { StoredNode, TreeNodeStore } from './tree-store.js';

interface BorderNode {
  level: number;
  hash: Uint8Array;
}

export class MerkleTree {
  private border: BorderNode[];
  private treeSize: number;
  private appending = false;

  private constructor(
    private readonly store: TreeNodeStore,
    size: number,
    border: BorderNode[],
  ) {
    this.treeSize = size;
    this.border = border;
  }

  /** A new, empty tree (the store must hold no nodes). */
  static empty(store: TreeNodeStore): MerkleTree {
    return new MerkleTree(store, 0, []);
  }

  /** Re-opens a tree of `size` leaves whose nodes are already in `store`. */
  static async open(store: TreeNodeStore, size: number): Promise<MerkleTree> {
    assertTreeSize(size);
    const ids = rangeNodes({ start: 0, end: size });
    const hashes = await readAll(store, ids);
    return new MerkleTree(
      store,
      size,
      ids.map((id, i) => ({ level: id.level, hash: hashes[i]! })),
    );
  }

  get size(): number {
    return this.treeSize;
  }

  /** Root at the current size. */
  root(): Uint8Array {
    return foldRangeNodes(this.border.map((b) => b.hash));
  }

  /** Root at any size up to the current one. */
  async rootAt(size: number): Promise<Uint8Array> {
    this.assertWithin(size);
    if (size === this.treeSize) return this.root();
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
      const border = this.border.slice();
      const nodes: StoredNode[] = [];
      let size = this.treeSize;
      for (const leaf of leafHashes) {
        if (!(leaf instanceof Uint8Array) || leaf.length !== HASH_SIZE) {
          throw new CustosError('audit_tree_bad_node', 'leaf hash must be 32 bytes', 500);
        }
        if (size + 1 > Number.MAX_SAFE_INTEGER) throw new MerkleProofError('tree size would exceed 2^53 - 1');
        let cur: BorderNode = { level: 0, hash: leaf };
        nodes.push({ level: 0, index: size, hash: leaf });
        for (let top = border[border.length - 1]; top && top.level === cur.level; top = border[border.length - 1]) {
          border.pop();
          const level = cur.level + 1;
          cur = { level, hash: hashChildren(top.hash, cur.hash) };
          nodes.push({ level, index: Math.floor(size / 2 ** level), hash: cur.hash });
        }
        border.push(cur);
        size += 1;
      }
      if (nodes.length > 0) await this.store.putNodes(nodes);
      this.border = border;
      this.treeSize = size;
      return size;
    } finally {
      this.appending = false;
    }
  }

  /** Inclusion proof of leaf `index` in the tree of `size` (default: current). */
  async inclusionProof(index: number, size: number = this.treeSize): Promise<Uint8Array[]> {
    this.assertWithin(size);
    return this.rangeHashes(inclusionProofRanges(index, size));
  }

  /** Consistency proof from `size1` to `size2` (default: current); 0 < size1 <= size2. */
  async consistencyProof(size1: number, size2: number = this.treeSize): Promise<Uint8Array[]> {
    this.assertWithin(size2);
    return this.rangeHashes(consistencyProofRanges(size1, size2));
  }

  private assertWithin(size: number): void {
    assertTreeSize(size);
    if (size > this.treeSize) throw new MerkleProofError(`tree size ${size} is beyond the log (${this.treeSize})`);
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
