/**
 * The right border of a growing RFC 6962 tree: the perfect subtrees that make up its current
 * size (at most 63 hashes). Enough to append and to compute the current root in O(log n)
 * memory, which is what the streaming verifier and MerkleTree.append use.
 *
 * @example
 *   const range = new CompactRange();
 *   for (const e of entries) range.push(hashLeaf(e), (level, index, hash) => store.put(level, index, hash));
 *   range.root(); // MTH of all entries
 */
import { HASH_SIZE, MerkleProofError, assertTreeSize, foldRangeNodes, hashChildren, rangeNodes } from './merkle.js';

/** Receives every perfect-subtree node as it completes (level 0 = the leaf itself). */
export type NodeSink = (level: number, index: number, hash: Uint8Array) => void;

export class CompactRange {
  private readonly levels: number[];
  private readonly hashes: Uint8Array[];
  private count: number;

  /** Starts from `size` leaves whose border nodes (largest first, as rangeNodes gives) are `border`. */
  constructor(size = 0, border: ReadonlyArray<{ level: number; hash: Uint8Array }> = []) {
    assertTreeSize(size);
    const expected = rangeNodes({ start: 0, end: size }).map((n) => n.level);
    if (expected.length !== border.length || expected.some((level, i) => border[i]!.level !== level)) {
      throw new MerkleProofError(`border does not match tree size ${size}`);
    }
    if (border.some((b) => b.hash.length !== HASH_SIZE)) throw new MerkleProofError('border hash must be 32 bytes');
    this.count = size;
    this.levels = border.map((b) => b.level);
    this.hashes = border.map((b) => b.hash);
  }

  get size(): number {
    return this.count;
  }

  clone(): CompactRange {
    return new CompactRange(
      this.count,
      this.levels.map((level, i) => ({ level, hash: this.hashes[i]! })),
    );
  }

  /** Appends one leaf hash; `sink` sees the leaf and each node it completes. */
  push(leafHash: Uint8Array, sink?: NodeSink): void {
    if (leafHash.length !== HASH_SIZE) throw new MerkleProofError('leaf hash must be 32 bytes');
    if (this.count >= Number.MAX_SAFE_INTEGER) throw new MerkleProofError('tree size would exceed 2^53 - 1');
    const index = this.count;
    let level = 0;
    let hash = leafHash;
    sink?.(0, index, hash);
    while (this.levels.length > 0 && this.levels[this.levels.length - 1] === level) {
      this.levels.pop();
      hash = hashChildren(this.hashes.pop()!, hash);
      level += 1;
      sink?.(level, Math.floor(index / 2 ** level), hash);
    }
    this.levels.push(level);
    this.hashes.push(hash);
    this.count = index + 1;
  }

  /** MTH of the leaves pushed so far. */
  root(): Uint8Array {
    return foldRangeNodes(this.hashes);
  }

  /** The border nodes, largest first. */
  border(): Array<{ level: number; hash: Uint8Array }> {
    return this.levels.map((level, i) => ({ level, hash: this.hashes[i]! }));
  }
}
