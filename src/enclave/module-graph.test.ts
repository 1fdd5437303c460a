import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { measureEntries } from './measure.js';
import { moduleGraphEntries, packageRoot } from './module-graph.js';

let root: string;

function put(rel: string, text: string): void {
  const file = path.join(root, rel);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
}

beforeEach(() => {
  root = mkdtempSync(path.join(tmpdir(), 'custos-graph-'));
  put('package.json', '{"name":"app"}');
  put('bin/app.js', "#!/usr/bin/env node\nimport '../dist/main.js';\n");
  put('dist/main.js', "import { readFileSync } from 'node:fs';\nimport { a } from './a.js';\nexport * from './lib/b.js';\nconst c = await import('./c.js');\nimport { x } from 'dep';\nimport { y } from '@scope/pkg/sub/path.js';\n");
  put('dist/a.js', 'export const a = 1;\n');
  put('dist/lib/b.js', "export { a as b } from '../a.js';\n");
  put('dist/c.js', 'export default 3;\n');
  put('dist/unused.js', 'export const unused = 1;\n');
  put('node_modules/dep/package.json', '{"name":"dep","version":"1.0.0"}');
  put('node_modules/dep/index.js', 'export const x = 1;\n');
  put('node_modules/@scope/pkg/package.json', '{"name":"@scope/pkg","version":"2.0.0"}');
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('moduleGraphEntries', () => {
  it('measures the static graph of the entry: own files byte for byte, dependencies by package.json, nothing unreachable', () => {
    const names = moduleGraphEntries(path.join(root, 'bin/app.js'), { root }).map((e) => e.name).sort();
    expect(names).toEqual(['bin/app.js', 'dependency:@scope/pkg', 'dependency:dep', 'dist/a.js', 'dist/c.js', 'dist/lib/b.js', 'dist/main.js']);
    expect(packageRoot(path.join(root, 'dist/lib'))).toBe(root);
  });

  it('one changed byte in a reached file, or a new dependency version, changes the measurement; an unreached file does not', () => {
    const measure = () => Buffer.from(measureEntries(moduleGraphEntries(path.join(root, 'bin/app.js'), { root }))).toString('hex');
    const before = measure();
    expect(measure()).toBe(before);
    put('dist/unused.js', 'export const unused = 2;\n');
    expect(measure()).toBe(before);
    put('dist/lib/b.js', "export { a as b } from '../a.js';\n ");
    const afterCode = measure();
    expect(afterCode).not.toBe(before);
    put('node_modules/dep/package.json', '{"name":"dep","version":"1.0.1"}');
    expect(measure()).not.toBe(afterCode);
  });

  it('refuses an entry outside the root', () => {
    expect(() => moduleGraphEntries(path.join(tmpdir(), 'elsewhere.js'), { root })).toThrow(/outside the measured root/);
  });

  it('measures the real node entry of this package (dist/mpc/node/bin.js) when it is built', () => {
    const here = packageRoot(path.dirname(new URL(import.meta.url).pathname));
    const entry = path.join(here, 'dist', 'mpc', 'node', 'bin.js');
    let names: string[];
    try {
      names = moduleGraphEntries(entry, { root: here }).map((e) => e.name);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return; // not built: covered by the process tests after npm run build
      throw err;
    }
    expect(names).toContain('dist/mpc/node/bin.js');
    expect(names).toContain('dist/mpc/node/process.js');
    expect(names).toContain('dependency:@noble/curves');
  });
});
