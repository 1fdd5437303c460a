import { describe, expect, it } from 'vitest';
import {
  consistencyProofFromLeafHashes,
  hashLeaf,
  inclusionProofFromLeafHashes,
  rootOfLeafHashes,
  verifyConsistency,
  verifyInclusion,
} from './merkle.js';
import { MerkleTree } from './tree.js';
import { MemoryTreeNodeStore, TreeConflictError, type TreeNodeStore } from './tree-store.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const leavesOf = (n: number) => Array.from({ length: n }, (_, i) => hashLeaf(new TextEncoder().encode(`entry ${i}`)));

describe('MerkleTree over MemoryTreeNodeStore', () => {
  const N = 33; // crosses 32 = 2^5: every shape of a partial right edge up to depth 6
  const leaves = leavesOf(N);

  it('matches the reference root, inclusion and consistency proofs at every size', async () => {
    const tree = MerkleTree.empty(new MemoryTreeNodeStore());
    expect(hex(tree.root())).toBe(hex(rootOfLeafHashes([])));
    for (let n = 1; n <= N; n++) {
      await tree.append([leaves[n - 1]!]);
      expect(tree.size).toBe(n);
      expect(hex(tree.root())).toBe(hex(rootOfLeafHashes(leaves.slice(0, n))));
    }
    for (let n = 0; n <= N; n++) {
      const ref = leaves.slice(0, n);
      const root = rootOfLeafHashes(ref);
      expect(hex(await tree.rootAt(n))).toBe(hex(root));
      for (let i = 0; i < n; i++) {
        const proof = await tree.inclusionProof(i, n);
        expect(proof.map(hex)).toEqual(inclusionProofFromLeafHashes(ref, i).map(hex));
        verifyInclusion(leaves[i]!, i, n, proof, root);
      }
      for (let m = 1; m <= n; m++) {
        const proof = await tree.consistencyProof(m, n);
        expect(proof.map(hex)).toEqual(consistencyProofFromLeafHashes(ref, m).map(hex));
        verifyConsistency(m, n, proof, rootOfLeafHashes(leaves.slice(0, m)), root);
      }
    }
  });

  it('batched appends write the same nodes as single appends, and open() resumes', async () => {
    const a = new MemoryTreeNodeStore();
    const ta = MerkleTree.empty(a);
    await ta.append(leaves.slice(0, 17));
    await ta.append(leaves.slice(17, 30));
    const tb = MerkleTree.empty(new MemoryTreeNodeStore());
    for (const l of leaves.slice(0, 30)) await tb.append([l]);
    expect(hex(ta.root())).toBe(hex(tb.root()));
    for (let level = 0; level < 6; level++) expect(a.count(level)).toBe(Math.floor(30 / 2 ** level));

    const reopened = await MerkleTree.open(a, 30);
    expect(hex(reopened.root())).toBe(hex(ta.root()));
    await reopened.append(leaves.slice(30));
    expect(hex(reopened.root())).toBe(hex(rootOfLeafHashes(leaves)));
  });

  it('refuses to rewrite a stored node (immutability) and leaves the size unchanged', async () => {
    const store = new MemoryTreeNodeStore();
    const tree = MerkleTree.empty(store);
    await tree.append(leaves.slice(0, 4));
    // a second tree over the same store, appending a different history, must collide
    const fork = MerkleTree.empty(store);
    await expect(fork.append([hashLeaf(new Uint8Array([1]))])).rejects.toBeInstanceOf(TreeConflictError);
    expect(fork.size).toBe(0);
    // the same history is idempotent
    await expect(MerkleTree.empty(store).append(leaves.slice(0, 4))).resolves.toBe(4);
  });

  it('reports missing nodes, sizes beyond the log, bad leaves, and concurrent appends', async () => {
    const tree = MerkleTree.empty(new MemoryTreeNodeStore());
    await tree.append(leaves.slice(0, 5));
    await expect(tree.inclusionProof(0, 6)).rejects.toThrow(/beyond the log/);
    await expect(tree.consistencyProof(0, 5)).rejects.toThrow(/0 < size1/);
    await expect(tree.append([new Uint8Array(31)])).rejects.toThrow(/32 bytes/);
    await expect(MerkleTree.open(new MemoryTreeNodeStore(), 3)).rejects.toThrow(/missing/);

    const empty: TreeNodeStore = { getNodes: async (ids) => ids.map(() => undefined), putNodes: async () => {} };
    const hollow = MerkleTree.empty(empty);
    await hollow.append(leaves.slice(0, 3));
    await expect(hollow.inclusionProof(0)).rejects.toThrow(/missing/);

    let release: () => void = () => {};
    const slow: TreeNodeStore = {
      getNodes: async (ids) => ids.map(() => undefined),
      putNodes: () => new Promise<void>((r) => (release = r)),
    };
    const busy = MerkleTree.empty(slow);
    const first = busy.append([leaves[0]!]);
    await expect(busy.append([leaves[1]!])).rejects.toThrow(/in progress/);
    release();
    await expect(first).resolves.toBe(1);
  });
});
