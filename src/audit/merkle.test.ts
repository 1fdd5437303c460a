import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  MerkleProofError,
  consistencyProofFromLeafHashes,
  consistencyProofRanges,
  emptyRoot,
  hashChildren,
  hashLeaf,
  inclusionProofFromLeafHashes,
  inclusionProofRanges,
  parseTreeSize,
  rangeNodes,
  rootOfLeafHashes,
  verifyConsistency,
  verifyInclusion,
  walkConsistency,
  walkInclusion,
  type LeafRange,
} from './merkle.js';

const dir = join(fileURLToPath(new URL('.', import.meta.url)), 'testdata', 'merkle');
const b64 = (s: string) => new Uint8Array(Buffer.from(s, 'base64'));
const hex = (s: string) => new Uint8Array(Buffer.from(s, 'hex'));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');

function jsonFiles(d: string): string[] {
  return readdirSync(d).flatMap((name) => {
    const p = join(d, name);
    return statSync(p).isDirectory() ? jsonFiles(p) : p.endsWith('.json') ? [p] : [];
  });
}

const roots = JSON.parse(readFileSync(join(dir, 'roots.json'), 'utf8')) as {
  leafInputsHex: string[];
  rootsBySizeHex: string[];
};
const leaves = roots.leafInputsHex.map((h) => hashLeaf(hex(h)));

interface InclusionVector {
  leafIdx: number;
  treeSize: number;
  root: string;
  leafHash: string;
  proof: string[] | null;
  desc: string;
  wantErr: boolean;
}
interface ConsistencyVector {
  size1: number;
  size2: number;
  root1: string;
  root2: string;
  proof: string[] | null;
  desc: string;
  wantErr: boolean;
}

describe('RFC 6962 roots (transparency-dev vectors)', () => {
  it('computes the root of 0..8 leaves', () => {
    expect(roots.rootsBySizeHex).toHaveLength(9);
    roots.rootsBySizeHex.forEach((want, n) => {
      expect(toHex(rootOfLeafHashes(leaves.slice(0, n)))).toBe(want);
    });
    expect(toHex(emptyRoot())).toBe(roots.rootsBySizeHex[0]);
  });
});

describe('inclusion vectors (transparency-dev)', () => {
  const files = jsonFiles(join(dir, 'inclusion'));
  it('has the full vector set', () => expect(files.length).toBe(98));
  for (const file of files) {
    const v = JSON.parse(readFileSync(file, 'utf8')) as InclusionVector;
    it(`${file.slice(dir.length)}: ${v.desc} (wantErr=${v.wantErr})`, () => {
      const run = () =>
        verifyInclusion(b64(v.leafHash), v.leafIdx, v.treeSize, (v.proof ?? []).map(b64), b64(v.root));
      if (v.wantErr) expect(run).toThrow(MerkleProofError);
      else {
        expect(run).not.toThrow();
        // our generator must produce exactly the published proof for the published tree
        if (toHex(b64(v.root)) === roots.rootsBySizeHex[v.treeSize]) {
          const ours = inclusionProofFromLeafHashes(leaves.slice(0, v.treeSize), v.leafIdx).map(toHex);
          expect(ours).toEqual((v.proof ?? []).map((p) => toHex(b64(p))));
        }
      }
    });
  }
});

describe('consistency vectors (transparency-dev)', () => {
  const files = jsonFiles(join(dir, 'consistency'));
  it('has the full vector set', () => expect(files.length).toBe(98));
  for (const file of files) {
    const v = JSON.parse(readFileSync(file, 'utf8')) as ConsistencyVector;
    it(`${file.slice(dir.length)}: ${v.desc} (wantErr=${v.wantErr})`, () => {
      const run = () => verifyConsistency(v.size1, v.size2, (v.proof ?? []).map(b64), b64(v.root1), b64(v.root2));
      if (v.wantErr) expect(run).toThrow(MerkleProofError);
      else {
        expect(run).not.toThrow();
        if (v.size1 > 0 && toHex(b64(v.root2)) === roots.rootsBySizeHex[v.size2]) {
          const ours = consistencyProofFromLeafHashes(leaves.slice(0, v.size2), v.size1).map(toHex);
          expect(ours).toEqual((v.proof ?? []).map((p) => toHex(b64(p))));
        }
      }
    });
  }
});

describe('generated proofs verify for every (index, size) and (size1, size2) up to 40 leaves', () => {
  const many = Array.from({ length: 40 }, (_, i) => hashLeaf(new Uint8Array([i, i * 7])));
  it('inclusion', () => {
    for (let n = 1; n <= many.length; n++) {
      const tree = many.slice(0, n);
      const root = rootOfLeafHashes(tree);
      for (let i = 0; i < n; i++) verifyInclusion(tree[i]!, i, n, inclusionProofFromLeafHashes(tree, i), root);
    }
  });
  it('consistency', () => {
    for (let n2 = 1; n2 <= many.length; n2++) {
      const tree = many.slice(0, n2);
      const root2 = rootOfLeafHashes(tree);
      for (let n1 = 1; n1 <= n2; n1++) {
        const proof = consistencyProofFromLeafHashes(tree, n1);
        verifyConsistency(n1, n2, proof, rootOfLeafHashes(many.slice(0, n1)), root2);
      }
    }
  });
});

describe('adversarial proofs', () => {
  const tree = Array.from({ length: 13 }, (_, i) => hashLeaf(new Uint8Array([i])));
  const root = rootOfLeafHashes(tree);
  const proof = inclusionProofFromLeafHashes(tree, 5);
  const cproof = consistencyProofFromLeafHashes(tree, 6);
  const root6 = rootOfLeafHashes(tree.slice(0, 6));

  it('accepts the honest proofs', () => {
    expect(() => verifyInclusion(tree[5]!, 5, 13, proof, root)).not.toThrow();
    expect(() => verifyConsistency(6, 13, cproof, root6, root)).not.toThrow();
  });
  it('rejects a tampered leaf', () => {
    const bad = hashLeaf(new Uint8Array([5, 0]));
    expect(() => verifyInclusion(bad, 5, 13, proof, root)).toThrow(/does not lead to the root/);
  });
  it('rejects a wrong tree size or index', () => {
    // Sizes 9..16 give leaf 5 the same proof shape, hence the same computed root: RFC 6962 binds
    // the size only through the root, which is why a checkpoint signs (size, root) together.
    expect(() => verifyInclusion(tree[5]!, 5, 8, proof, root)).toThrow(MerkleProofError);
    expect(() => verifyInclusion(tree[5]!, 5, 6, proof, root)).toThrow(MerkleProofError);
    expect(() => verifyInclusion(tree[5]!, 5, 17, proof, root)).toThrow(MerkleProofError);
    expect(() => verifyInclusion(tree[5]!, 4, 13, proof, root)).toThrow(MerkleProofError);
    expect(() => verifyInclusion(tree[5]!, 13, 13, proof, root)).toThrow(/below the tree size/);
    expect(() => verifyConsistency(6, 8, cproof, root6, root)).toThrow(MerkleProofError);
    expect(() => verifyConsistency(7, 13, cproof, root6, root)).toThrow(MerkleProofError);
  });
  it('rejects truncated proofs and extra elements', () => {
    expect(() => verifyInclusion(tree[5]!, 5, 13, proof.slice(0, -1), root)).toThrow(/too short/);
    expect(() => verifyInclusion(tree[5]!, 5, 13, [...proof, proof[0]!], root)).toThrow(/too long/);
    expect(() => verifyConsistency(6, 13, cproof.slice(0, -1), root6, root)).toThrow(MerkleProofError);
    expect(() => verifyConsistency(6, 13, [...cproof, cproof[0]!], root6, root)).toThrow(/too long/);
  });
  it('rejects malformed proof elements and unsafe sizes', () => {
    const short = [proof[0]!.slice(0, 31), ...proof.slice(1)];
    expect(() => verifyInclusion(tree[5]!, 5, 13, short, root)).toThrow(/32-byte/);
    expect(() => verifyInclusion(tree[5]!, 5, 2 ** 53, proof, root)).toThrow(/safe integer/);
    expect(() => verifyInclusion(tree[5]!, -1, 13, proof, root)).toThrow(/safe integer/);
    expect(() => verifyInclusion(tree[5]!, 5.5, 13, proof, root)).toThrow(/safe integer/);
  });
  it('a node hash is not a leaf hash (second-preimage separation)', () => {
    const inner = hashChildren(tree[0]!, tree[1]!);
    const twoLeafRoot = rootOfLeafHashes(tree.slice(0, 2));
    expect(toHex(inner)).toBe(toHex(twoLeafRoot));
    // presenting the interior node's preimage as a leaf must not give the same hash
    expect(toHex(hashLeaf(new Uint8Array([...tree[0]!, ...tree[1]!])))).not.toBe(toHex(inner));
  });
});

describe('proof shapes at 2^40 (pure arithmetic, symbolic hashes)', () => {
  // A symbolic "hash" is the leaf range it covers; combining checks adjacency. If the verifier's
  // walk over the generated ranges yields [0, size), the generator and verifier agree in shape.
  const node = (l: LeafRange, r: LeafRange): LeafRange => {
    if (l.end !== r.start) throw new Error(`non-adjacent ranges [${l.start},${l.end}) [${r.start},${r.end})`);
    return { start: l.start, end: r.end };
  };
  const T = 2 ** 40;
  const cases: Array<[number, number]> = [
    [0, T],
    [T - 1, T],
    [123_456_789, T],
    [T, T + 1],
    [0, T + 1],
    [T - 1, T + 3],
    [2 ** 39 + 5, 3 * 2 ** 38 + 17],
    [2 ** 52, 2 ** 53 - 1],
  ];
  it('inclusion ranges walk back to the whole tree and have the expected length', () => {
    for (const [i, n] of cases) {
      const ranges = inclusionProofRanges(i, n);
      for (const r of ranges) expect(() => rangeNodes(r)).not.toThrow();
      expect(walkInclusion({ start: i, end: i + 1 }, i, n, ranges, node)).toEqual({ start: 0, end: n });
    }
    expect(inclusionProofRanges(0, T)).toHaveLength(40);
    expect(inclusionProofRanges(T, T + 1)).toEqual([{ start: 0, end: T }]);
    expect(inclusionProofRanges(0, T + 1)).toHaveLength(41);
    expect(rangeNodes({ start: 0, end: T })).toEqual([{ level: 40, index: 0 }]);
  });
  it('consistency ranges walk back to both trees', () => {
    const pairs: Array<[number, number]> = [
      [T, T + 1],
      [T - 1, T],
      [1, T],
      [T / 2 + 3, T + 12345],
      [3 * 2 ** 38 + 17, 2 ** 53 - 1],
    ];
    for (const [m, n] of pairs) {
      const ranges = consistencyProofRanges(m, n);
      const [old, now] = walkConsistency(m, n, ranges, { start: 0, end: m }, node);
      expect(old).toEqual({ start: 0, end: m });
      expect(now).toEqual({ start: 0, end: n });
    }
    expect(consistencyProofRanges(T, T + 1)).toEqual([{ start: T, end: T + 1 }]);
  });
  it('a truncated or extended proof is refused by the walk at 2^40', () => {
    const ranges = inclusionProofRanges(123_456_789, T);
    const leaf = { start: 123_456_789, end: 123_456_790 };
    expect(() => walkInclusion(leaf, 123_456_789, T, ranges.slice(0, -1), node)).toThrow(/too short/);
    expect(() => walkInclusion(leaf, 123_456_789, T, [...ranges, ranges[0]!], node)).toThrow(/too long/);
  });
});

describe('parseTreeSize', () => {
  it('accepts canonical decimals up to 2^53 - 1 and nothing else', () => {
    expect(parseTreeSize('0')).toBe(0);
    expect(parseTreeSize('9007199254740991')).toBe(2 ** 53 - 1);
    for (const bad of ['', '-1', '+1', '01', '1e3', '0x10', ' 1', '1 ', '1.0', '9007199254740992', '99999999999999999999']) {
      expect(() => parseTreeSize(bad)).toThrow(MerkleProofError);
    }
  });
});
