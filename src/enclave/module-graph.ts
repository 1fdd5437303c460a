import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { MeasuredEntry } from './measure.js';

/**
 * The code a Node.js process runs from one entry script, as measured entries for `measureEntries`
 * (PCR0 of the development runtime): every file of the entry's static ES-module graph inside
 * `root` (relative imports and re-exports, `import 'x'`, and `import('x')` with a literal), named
 * by its path relative to `root`, byte for byte; and for each bare package specifier (`viem`,
 * `@noble/curves/…`) that package's `package.json` (name, version, exports), named
 * `dependency:<package>`, so a changed dependency version changes the measurement too. `node:`
 * built-ins are part of the runtime, not measured. Specifiers are found by a conservative textual
 * scan of the compiled JavaScript: a specifier-shaped string in a comment adds a file if it
 * resolves, never removes one, and the result is the same on every run over the same bytes.
 *
 * @example
 *   const code = moduleGraphEntries('/opt/custos/bin/custos.js', { root: '/opt/custos' });
 *   const pcr0 = measureEntries([...code, { name: 'node-config.json', content: configBytes }]);
 */
export function moduleGraphEntries(entry: string, options: { root: string; maxFiles?: number }): MeasuredEntry[] {
  const root = path.resolve(options.root);
  const maxFiles = options.maxFiles ?? 5_000;
  const files = new Map<string, Uint8Array>();
  const packages = new Map<string, Uint8Array>();
  const queue = [path.resolve(entry)];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (files.has(file)) continue;
    const rel = inside(root, file);
    if (rel === undefined) throw new TypeError(`${file} is outside the measured root ${root}`);
    const content = new Uint8Array(readFileSync(file));
    files.set(file, content);
    if (files.size > maxFiles) throw new RangeError(`the module graph has more than ${maxFiles} files`);
    for (const spec of specifiers(Buffer.from(content).toString('utf8'))) {
      if (spec.startsWith('node:')) continue;
      if (spec.startsWith('./') || spec.startsWith('../')) {
        const target = path.resolve(path.dirname(file), spec);
        if (isFile(target) && !files.has(target)) queue.push(target);
        continue;
      }
      if (spec.startsWith('/') || spec.includes(':')) continue;
      const name = packageName(spec);
      if (name === undefined || packages.has(name)) continue;
      const manifest = findPackageJson(name, path.dirname(file), root);
      if (manifest) packages.set(name, new Uint8Array(readFileSync(manifest)));
    }
  }
  const out: MeasuredEntry[] = [];
  for (const [file, content] of files) out.push({ name: inside(root, file)!, content });
  for (const [name, content] of packages) out.push({ name: `dependency:${name}`, content });
  return out;
}

/** The directory holding the nearest `package.json` at or above `from` (the install root). */
export function packageRoot(from: string): string {
  let dir = path.resolve(from);
  for (;;) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new TypeError(`no package.json at or above ${from}`);
    dir = up;
  }
}

const SPECIFIER = /(?:^|[^\w$.])(?:import|export)\s*(?:[\w$*{},\s]*?\bfrom\s*)?['"]([^'"\n]{1,300})['"]|\bimport\(\s*['"]([^'"\n]{1,300})['"]\s*\)/g;

function specifiers(text: string): string[] {
  const out: string[] = [];
  SPECIFIER.lastIndex = 0;
  for (let m = SPECIFIER.exec(text); m; m = SPECIFIER.exec(text)) out.push((m[1] ?? m[2])!);
  return out;
}

function packageName(spec: string): string | undefined {
  const parts = spec.split('/');
  const name = spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
  return name && /^(@[a-z0-9._~-]+\/)?[a-z0-9._~-]+$/i.test(name) ? name : undefined;
}

/** Node's lookup of `node_modules/<name>/package.json` from `dir` upwards, never above `root`. */
function findPackageJson(name: string, dir: string, root: string): string | undefined {
  for (let d = dir; inside(root, d) !== undefined; d = path.dirname(d)) {
    const candidate = path.join(d, 'node_modules', name, 'package.json');
    if (isFile(candidate)) return candidate;
    if (path.dirname(d) === d) break;
  }
  return undefined;
}

function inside(root: string, file: string): string | undefined {
  const rel = path.relative(root, file);
  if (rel.startsWith('..') || path.isAbsolute(rel)) return undefined;
  return rel === '' ? '.' : rel.split(path.sep).join('/');
}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}
