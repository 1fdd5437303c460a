import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';

/** One measured input: a stable name (a path relative to the measured tree, `/`-separated) and its bytes. */
export interface MeasuredEntry {
  name: string;
  content: Uint8Array;
}

const DOMAIN = new TextEncoder().encode('custos-measurement-v1\0');

/**
 * SHA-384 measurement of a set of named inputs (code and configuration), independent of the order
 * they are given in: entries are sorted by name (UTF-8 bytes), and each is framed as
 * `u32 name length ‖ name ‖ u64 content length ‖ content` after a domain tag and the entry count,
 * so no two different sets hash the same framed bytes. Duplicate or empty names are refused.
 *
 * @example
 *   const pcr0 = measureEntries([{ name: 'config.json', content: configBytes }, { name: 'dist/index.js', content: code }]);
 */
export function measureEntries(entries: readonly MeasuredEntry[]): Uint8Array {
  if (entries.length === 0) throw new TypeError('nothing to measure');
  const utf8 = new TextEncoder();
  const named = entries.map((e) => ({ name: utf8.encode(e.name), content: e.content }));
  named.sort((a, b) => Buffer.compare(a.name, b.name));
  const hash = createHash('sha384').update(DOMAIN).update(u32(named.length));
  for (let i = 0; i < named.length; i++) {
    const e = named[i]!;
    if (e.name.length === 0) throw new TypeError('a measured entry has an empty name');
    if (i > 0 && Buffer.compare(named[i - 1]!.name, e.name) === 0) throw new TypeError(`entry ${Buffer.from(e.name).toString()} is measured twice`);
    hash.update(u32(e.name.length)).update(e.name).update(u64(e.content.length)).update(e.content);
  }
  return new Uint8Array(hash.digest());
}

/**
 * Measure files: each is named by its path relative to `root` (with `/`), so the measurement is
 * the same wherever the tree is installed. A path outside `root` is refused.
 *
 * @example
 *   const pcr0 = await measureFiles(['dist/cli/index.js', 'custos.json'], { root: installDir });
 */
export async function measureFiles(paths: readonly string[], options: { root: string }): Promise<Uint8Array> {
  const root = path.resolve(options.root);
  const entries = await Promise.all(
    paths.map(async (p) => {
      const abs = path.resolve(root, p);
      const rel = path.relative(root, abs);
      if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) throw new TypeError(`${p} is not inside the measured root`);
      return { name: rel.split(path.sep).join('/'), content: new Uint8Array(await readFile(abs)) };
    }),
  );
  return measureEntries(entries);
}

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n);
  return b;
}

function u64(n: number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(n));
  return b;
}
