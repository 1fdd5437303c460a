import { createHash } from 'node:crypto';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { measureEntries, measureFiles } from './measure.js';

const enc = new TextEncoder();
const e = (name: string, text: string) => ({ name, content: enc.encode(text) });

describe('measureEntries / measureFiles', () => {
  it('is SHA-384 over the framed, sorted entries (independent re-computation)', () => {
    const expected = createHash('sha384')
      .update('custos-measurement-v1\0')
      .update(Buffer.from('00000002', 'hex'))
      .update(Buffer.from('00000001', 'hex')).update('a').update(Buffer.from('0000000000000002', 'hex')).update('xy')
      .update(Buffer.from('00000001', 'hex')).update('b').update(Buffer.from('0000000000000000', 'hex'))
      .digest();
    expect(Buffer.from(measureEntries([e('b', ''), e('a', 'xy')]))).toEqual(expected);
    expect(measureEntries([e('a', 'xy'), e('b', '')])).toEqual(measureEntries([e('b', ''), e('a', 'xy')]));
  });

  it('changes when one byte of code or config changes, or when content moves between files', () => {
    const base = measureEntries([e('dist/node.js', 'sign()'), e('custos.json', '{"t":3}')]);
    expect(measureEntries([e('dist/node.js', 'sign!)'), e('custos.json', '{"t":3}')])).not.toEqual(base);
    expect(measureEntries([e('dist/node.js', 'sign()'), e('custos.json', '{"t":2}')])).not.toEqual(base);
    expect(measureEntries([e('ab', 'c')])).not.toEqual(measureEntries([e('a', 'bc')]));
    expect(measureEntries([e('a', ''), e('b', 'x')])).not.toEqual(measureEntries([e('a', 'x'), e('b', '')]));
  });

  it('refuses duplicates, empty names and an empty set', () => {
    expect(() => measureEntries([e('a', '1'), e('a', '2')])).toThrow(TypeError);
    expect(() => measureEntries([e('', '1')])).toThrow(TypeError);
    expect(() => measureEntries([])).toThrow(TypeError);
  });

  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('measures files by their path relative to the root, the same in any install directory', async () => {
    const results: Uint8Array[] = [];
    for (let i = 0; i < 2; i++) {
      const dir = await mkdtemp(path.join(tmpdir(), 'custos-measure-'));
      dirs.push(dir);
      await mkdir(path.join(dir, 'dist'));
      await writeFile(path.join(dir, 'dist', 'node.js'), 'sign()');
      await writeFile(path.join(dir, 'custos.json'), '{"t":3}');
      results.push(await measureFiles(['dist/node.js', path.join(dir, 'custos.json')], { root: dir }));
    }
    expect(results[0]).toEqual(results[1]);
    expect(results[0]).toEqual(measureEntries([e('dist/node.js', 'sign()'), e('custos.json', '{"t":3}')]));
    await expect(measureFiles(['../etc/passwd'], { root: dirs[0]! })).rejects.toThrow(TypeError);
  });
});
