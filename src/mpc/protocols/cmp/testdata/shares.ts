/**
 * Test-only: pre-computed key shares (keygen + aux/refresh run by this code on the fixture safe
 * primes) so that presigning and signing tests do not pay for aux info each time. Regenerate with
 *   CUSTOS_REGEN_CMP_FIXTURES=1 npx vitest run src/mpc/protocols/cmp/testdata/generate.test.ts
 * The files hold test secrets only.
 *
 * @example
 *   const shares = fixtureShares('3of5'); // Map party → CmpKeyShare with aux
 */
import { existsSync, readFileSync } from 'node:fs';
import type { Json } from '../../round.js';
import { keyShareFromJson, type CmpKeyShare } from '../keyshare.js';

export type FixtureName = '2of3' | '3of5';

export function fixturePath(name: FixtureName): URL {
  return new URL(`./cmp-shares-${name}.json`, import.meta.url);
}

export function fixtureShares(name: FixtureName): Map<string, CmpKeyShare> {
  const path = fixturePath(name);
  if (!existsSync(path)) throw new Error(`missing fixture ${path.pathname}: see testdata/shares.ts`);
  const obj = JSON.parse(readFileSync(path, 'utf8')) as { [id: string]: Json };
  return new Map(Object.entries(obj).map(([id, j]) => [id, keyShareFromJson(j)]));
}
