import { describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { keyShareToJson } from '../keyshare.js';
import { runAuxRefresh, runKeygen } from './setup.js';
import { fixturePath, type FixtureName } from './shares.js';

const regen = Boolean(process.env.CUSTOS_REGEN_CMP_FIXTURES);

describe.skipIf(!regen)('regenerate CMP key-share fixtures (set CUSTOS_REGEN_CMP_FIXTURES=1; takes about a minute)', () => {
  const cases: [FixtureName, number, string[], number][] = [
    ['2of3', 2, ['a', 'b', 'c'], 12],
    ['3of5', 3, ['p1', 'p2', 'p3', 'p4', 'p5'], 0],
  ];
  for (const [name, t, ids, offset] of cases) {
    it(`writes ${name}`, () => {
      const shares = runAuxRefresh(runKeygen(t, ids), offset);
      const out = Object.fromEntries([...shares].map(([id, s]) => [id, keyShareToJson(s)]));
      writeFileSync(fixturePath(name), JSON.stringify(out) + '\n');
      expect(shares.size).toBe(ids.length);
    }, 600_000);
  }
});
