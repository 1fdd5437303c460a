import { describe, expect, it } from 'vitest';
import { CompactRange } from './compact-range.js';
import { hashLeaf, rangeNodes, rootOfLeafHashes } from './merkle.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const leaves = Array.from({ length: 70 }, (_, i) => hashLeaf(new Uint8Array([i, 1])));

describe('CompactRange', () => {
  it('tracks the root and the border (the perfect subtrees of the size) at every size', () => {
    const range = new CompactRange();
    const seen: string[] = [];
    for (let n = 1; n <= leaves.length; n++) {
      range.push(leaves[n - 1]!, (level, index) => seen.push(`${level}/${index}`));
      expect(hex(range.root())).toBe(hex(rootOfLeafHashes(leaves.slice(0, n))));
      expect(range.border().map((b) => b.level)).toEqual(rangeNodes({ start: 0, end: n }).map((x) => x.level));
    }
    // every perfect node completed exactly once: 70 + 35 + 17 + 8 + 4 + 2 + 1
    expect(seen).toHaveLength(137);
    expect(new Set(seen).size).toBe(137);
    expect(seen).toContain('6/0');
  });
  it('resumes from a saved border and clones independently', () => {
    const a = new CompactRange();
    for (const l of leaves.slice(0, 37)) a.push(l);
    const b = new CompactRange(37, a.border());
    const c = a.clone();
    for (const l of leaves.slice(37)) b.push(l);
    expect(hex(b.root())).toBe(hex(rootOfLeafHashes(leaves)));
    expect(c.size).toBe(37);
    expect(hex(c.root())).toBe(hex(rootOfLeafHashes(leaves.slice(0, 37))));
  });
  it('refuses a border that does not fit the size', () => {
    const a = new CompactRange();
    for (const l of leaves.slice(0, 37)) a.push(l);
    expect(() => new CompactRange(38, a.border())).toThrow(/does not match/);
    expect(() => new CompactRange(37, a.border().slice(1))).toThrow(/does not match/);
  });
  it('refuses a leaf hash of the wrong length', () => {
    expect(() => new CompactRange().push(new Uint8Array(33))).toThrow(/32 bytes/);
  });
});
