/**
 * RFC 6962 / RFC 9162 Merkle tree hashing, proof shapes, and proof verification.
 *
 * Leaf hash = SHA-256(0x00 || data), interior node = SHA-256(0x01 || left || right), the empty
 * tree hashes to SHA-256(""). Tree sizes and indices are JavaScript numbers that must be safe
 * integers (up to 2^53 - 1); all size arithmetic is done with `Math.floor(x / 2)` and `x % 2`,
 * never with 32-bit bit operators.
 *
 * A proof is described by its *ranges*: the leaf intervals `[start, end)` whose subtree hashes
 * (MTH(D[start:end]) in RFC 9162 terms) the proof lists, in order. `inclusionProofRanges` and
 * `consistencyProofRanges` compute them with arithmetic only, so a store can fetch exactly the
 * nodes it needs (see tree.ts); `verifyInclusion` / `verifyConsistency` are the RFC 9162
 * §2.1.3.2 and §2.1.4.2 algorithms.
 *
 * @example
 *   const leaves = ['a', 'b', 'c'].map((s) => hashLeaf(new TextEncoder().encode(s)));
 *   const root = rootOfLeafHashes(leaves);
 *   const proof = inclusionProofFromLeafHashes(leaves, 1);
 *   verifyInclusion(leaves[1]!, 1, 3, proof, root); // throws MerkleProofError if it does not hold
 */
import { hash } from 'node:crypto';
import { CustosError } from '../core/errors.js';

export const HASH_SIZE = 32;

/** A half-open interval of leaf indices `[start, end)`. */
export interface LeafRange {
  readonly start: number;
  readonly end: number;
}

/** A perfect (complete) subtree: leaves `[index * 2^level, (index + 1) * 2^level)`. */
export interface NodeId {
  readonly level: number;
  readonly index: number;
}

/** Raised when a proof does not verify or its parameters are impossible. Carries no secrets. */
export class MerkleProofError extends CustosError {
  constructor(message: string) {
    super('audit_proof_invalid', message, 422);
    this.name = 'MerkleProofError';
  }
}

// crypto.hash (one-shot, Node >= 20.12) is about twice as fast as createHash for short inputs.
function sha256(data: Uint8Array): Uint8Array {
  const out = hash('sha256', data, 'buffer');
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

// Reused input buffers: hashing is synchronous, so no call can observe another's contents.
let leafScratch = new Uint8Array(1024);
const nodeScratch = new Uint8Array(1 + 2 * HASH_SIZE);

/** SHA-256(0x00 || data). */
export function hashLeaf(data: Uint8Array): Uint8Array {
  if (data.length + 1 > leafScratch.length) leafScratch = new Uint8Array(Math.max(data.length + 1, leafScratch.length * 2));
  leafScratch[0] = 0x00;
  leafScratch.set(data, 1);
  return sha256(leafScratch.subarray(0, data.length + 1));
}

/** SHA-256(0x01 || left || right). */
export function hashChildren(left: Uint8Array, right: Uint8Array): Uint8Array {
  if (left.length !== HASH_SIZE || right.length !== HASH_SIZE) {
    const buf = new Uint8Array(1 + left.length + right.length);
    buf[0] = 0x01;
    buf.set(left, 1);
    buf.set(right, 1 + left.length);
    return sha256(buf);
  }
  nodeScratch[0] = 0x01;
  nodeScratch.set(left, 1);
  nodeScratch.set(right, 1 + HASH_SIZE);
  return sha256(nodeScratch);
}

/** Root of the empty tree: SHA-256 of the empty string. Returns a fresh copy. */
export function emptyRoot(): Uint8Array {
  return sha256(new Uint8Array(0));
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

// ---------------------------------------------------------------------------------------------
// Size arithmetic (no bit operators: sizes go beyond 2^32)

/** Throws unless `n` is a safe non-negative integer. */
export function assertTreeSize(n: number, what = 'tree size'): void {
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new MerkleProofError(`${what} must be a non-negative safe integer`);
  }
}

/** Parses a tree size or leaf index from text (e.g. a query parameter): decimal, no sign, no leading zeros. */
export function parseTreeSize(text: string, what = 'tree size'): number {
  if (!/^(0|[1-9][0-9]{0,15})$/.test(text)) throw new MerkleProofError(`${what} must be a decimal integer`);
  const n = Number(text);
  assertTreeSize(n, what);
  return n;
}

/** Largest power of two that is <= n (n >= 1). */
export function largestPowerOfTwoAtMost(n: number): number {
  let p = 1;
  while (p * 2 <= n) p *= 2;
  return p;
}

/** Largest power of two strictly below n (n >= 2): the split point k of RFC 9162 §2.1.1. */
export function splitPoint(n: number): number {
  return largestPowerOfTwoAtMost(n - 1);
}

/** log2 of a power of two. */
export function log2Exact(p: number): number {
  let l = 0;
  let q = 1;
  while (q < p) {
    q *= 2;
    l++;
  }
  if (q !== p) throw new RangeError('not a power of two');
  return l;
}

/**
 * The perfect subtrees whose fold gives MTH(D[start:end]) for a range that occurs in an RFC 6962
 * tree (start aligned to a power of two >= end - start), largest first.
 */
export function rangeNodes(range: LeafRange): NodeId[] {
  const out: NodeId[] = [];
  let pos = range.start;
  let rest = range.end - range.start;
  while (rest > 0) {
    const p = largestPowerOfTwoAtMost(rest);
    if (pos % p !== 0) throw new RangeError('range is not a subtree of an RFC 6962 tree');
    out.push({ level: log2Exact(p), index: pos / p });
    pos += p;
    rest -= p;
  }
  return out;
}

/** Folds the hashes of `rangeNodes(range)` (same order) into MTH(D[start:end]). */
export function foldRangeNodes(hashes: readonly Uint8Array[]): Uint8Array {
  if (hashes.length === 0) return emptyRoot();
  let acc = hashes[hashes.length - 1]!;
  for (let i = hashes.length - 2; i >= 0; i--) acc = hashChildren(hashes[i]!, acc);
  return acc;
}

/**
 * Ranges of the inclusion proof PATH(index, D[size]) (RFC 9162 §2.1.3.1), leaf sibling first.
 * Pure arithmetic; at most 63 entries.
 */
export function inclusionProofRanges(index: number, size: number): LeafRange[] {
  assertTreeSize(size);
  assertTreeSize(index, 'leaf index');
  if (index >= size) throw new MerkleProofError('leaf index must be below the tree size');
  const out: LeafRange[] = [];
  let a = 0;
  let b = size;
  let m = index;
  while (b - a > 1) {
    const k = splitPoint(b - a);
    if (m < k) {
      out.push({ start: a + k, end: b });
      b = a + k;
    } else {
      out.push({ start: a, end: a + k });
      m -= k;
      a += k;
    }
  }
  return out.reverse();
}

/**
 * Ranges of the consistency proof PROOF(size1, D[size2]) (RFC 9162 §2.1.4.1), in proof order.
 * Requires 0 < size1 <= size2; equal sizes give an empty proof.
 */
export function consistencyProofRanges(size1: number, size2: number): LeafRange[] {
  assertTreeSize(size1, 'size1');
  assertTreeSize(size2, 'size2');
  if (size1 === 0 || size1 > size2) throw new MerkleProofError('consistency proof needs 0 < size1 <= size2');
  const out: LeafRange[] = [];
  let a = 0;
  let b = size2;
  let m = size1;
  let complete = true; // RFC's `b` flag: still on the left edge, the old root is known to the verifier
  for (;;) {
    const n = b - a;
    if (m === n) {
      if (!complete) out.push({ start: a, end: b });
      break;
    }
    const k = splitPoint(n);
    if (m <= k) {
      out.push({ start: a + k, end: b });
      b = a + k;
    } else {
      out.push({ start: a, end: a + k });
      a += k;
      m -= k;
      complete = false;
    }
  }
  return out.reverse();
}

// ---------------------------------------------------------------------------------------------
// Reference computation over a list of leaf hashes (small trees, tests, verifier fallback)

/** MTH(D[start:end]) over an array of leaf hashes, iteratively through its perfect subtrees. */
export function rangeHashFromLeafHashes(leaves: readonly Uint8Array[], range: LeafRange): Uint8Array {
  const parts = rangeNodes(range).map((node) => {
    const width = 2 ** node.level;
    let level = leaves.slice(node.index * width, (node.index + 1) * width);
    while (level.length > 1) {
      const next: Uint8Array[] = [];
      for (let i = 0; i < level.length; i += 2) next.push(hashChildren(level[i]!, level[i + 1]!));
      level = next;
    }
    return level[0]!;
  });
  return foldRangeNodes(parts);
}

/** MTH of a list of leaf hashes. */
export function rootOfLeafHashes(leaves: readonly Uint8Array[]): Uint8Array {
  return rangeHashFromLeafHashes(leaves, { start: 0, end: leaves.length });
}

export function inclusionProofFromLeafHashes(leaves: readonly Uint8Array[], index: number): Uint8Array[] {
  return inclusionProofRanges(index, leaves.length).map((r) => rangeHashFromLeafHashes(leaves, r));
}

export function consistencyProofFromLeafHashes(leaves: readonly Uint8Array[], size1: number): Uint8Array[] {
  return consistencyProofRanges(size1, leaves.length).map((r) => rangeHashFromLeafHashes(leaves, r));
}

// ---------------------------------------------------------------------------------------------
// Verification (RFC 9162 §2.1.3.2 and §2.1.4.2), generic over the combining function so the
// same walk can be checked symbolically on huge sizes (see merkle.test.ts).

/**
 * Walks an inclusion proof, combining with `node(left, right)`; returns the computed root.
 * Throws MerkleProofError when the proof has the wrong number of elements for (index, size).
 */
export function walkInclusion<T>(
  leaf: T,
  index: number,
  size: number,
  proof: readonly T[],
  node: (left: T, right: T) => T,
): T {
  assertTreeSize(size);
  assertTreeSize(index, 'leaf index');
  if (index >= size) throw new MerkleProofError('leaf index must be below the tree size');
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0) throw new MerkleProofError('inclusion proof is too long');
    if (fn % 2 === 1 || fn === sn) {
      r = node(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = node(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (sn !== 0) throw new MerkleProofError('inclusion proof is too short');
  return r;
}

/**
 * Walks a consistency proof for 0 < size1 < size2; returns [old root, new root] as computed.
 * `oldRoot` is used as the first element when size1 is a power of two.
 */
export function walkConsistency<T>(
  size1: number,
  size2: number,
  proof: readonly T[],
  oldRoot: T,
  node: (left: T, right: T) => T,
): [T, T] {
  assertTreeSize(size1, 'size1');
  assertTreeSize(size2, 'size2');
  if (!(size1 > 0 && size1 < size2)) throw new MerkleProofError('consistency walk needs 0 < size1 < size2');
  if (proof.length === 0) throw new MerkleProofError('consistency proof is empty');
  const path = size1 === largestPowerOfTwoAtMost(size1) ? [oldRoot, ...proof] : [...proof];
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr: T = path[0] as T;
  let sr: T = path[0] as T;
  for (let i = 1; i < path.length; i++) {
    const c = path[i]!;
    if (sn === 0) throw new MerkleProofError('consistency proof is too long');
    if (fn % 2 === 1 || fn === sn) {
      fr = node(c, fr);
      sr = node(c, sr);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      sr = node(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (sn !== 0) throw new MerkleProofError('consistency proof is too short');
  return [fr, sr];
}

function assertHashes(proof: readonly Uint8Array[]): void {
  for (const p of proof) {
    if (!(p instanceof Uint8Array) || p.length !== HASH_SIZE) {
      throw new MerkleProofError('proof element is not a 32-byte hash');
    }
  }
}

/** Throws MerkleProofError unless `proof` shows `leafHash` at `index` in the tree `root` of `size`. */
export function verifyInclusion(
  leafHash: Uint8Array,
  index: number,
  size: number,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): void {
  if (leafHash.length !== HASH_SIZE) throw new MerkleProofError('leaf hash is not 32 bytes');
  assertHashes(proof);
  const computed = walkInclusion(leafHash, index, size, proof, hashChildren);
  if (!bytesEqual(computed, root)) throw new MerkleProofError('inclusion proof does not lead to the root');
}

/**
 * Throws MerkleProofError unless `proof` shows the tree (size1, root1) is a prefix of (size2, root2).
 * size1 = 0 is refused: RFC 9162 defines consistency proofs only for 0 < size1, and the
 * transparency-dev vectors vendored here expect an error.
 */
export function verifyConsistency(
  size1: number,
  size2: number,
  proof: readonly Uint8Array[],
  root1: Uint8Array,
  root2: Uint8Array,
): void {
  assertTreeSize(size1, 'size1');
  assertTreeSize(size2, 'size2');
  if (size2 < size1) throw new MerkleProofError('size2 is smaller than size1');
  if (size1 === 0) throw new MerkleProofError('no consistency proof exists from the empty tree');
  if (size1 === size2) {
    if (proof.length !== 0) throw new MerkleProofError('equal sizes need an empty proof');
    if (!bytesEqual(root1, root2)) throw new MerkleProofError('equal sizes but different roots');
    return;
  }
  assertHashes(proof);
  const [fr, sr] = walkConsistency(size1, size2, proof, root1, hashChildren);
  if (!bytesEqual(fr, root1)) throw new MerkleProofError('consistency proof does not lead to the old root');
  if (!bytesEqual(sr, root2)) throw new MerkleProofError('consistency proof does not lead to the new root');
}
