#!/usr/bin/env node
// `npm test`: typecheck, lint, then the vitest suite. Prints the closing line CI reads:
// "N passed, N failed, N skipped" (typecheck and lint each count as one check).
// Extra arguments are passed to vitest (e.g. `npm test -- src/audit`).
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, existsSync } from 'node:fs';

const args = process.argv.slice(2);
let passed = 0;
let failed = 0;
let skipped = 0;

function step(name, cmd, cmdArgs) {
  console.log(`\n== ${name}: ${cmd} ${cmdArgs.join(' ')}`);
  const r = spawnSync(cmd, cmdArgs, { stdio: 'inherit' });
  if (r.status === 0) {
    passed += 1;
    console.log(`== ${name}: ok`);
  } else {
    failed += 1;
    console.log(`== ${name}: FAILED (exit ${r.status ?? r.signal})`);
  }
}

if (!process.env.CUSTOS_TEST_SKIP_STATIC) {
  step('typecheck', 'npx', ['tsc', '-p', 'tsconfig.check.json']);
  step('lint', 'npx', ['eslint', '.']);
}

const out = '.vitest-results.json';
if (existsSync(out)) rmSync(out);
console.log('\n== vitest');
const v = spawnSync('npx', ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile=${out}`, ...args], {
  stdio: 'inherit',
});
if (existsSync(out)) {
  const res = JSON.parse(readFileSync(out, 'utf8'));
  passed += res.numPassedTests;
  failed += res.numFailedTests;
  skipped += res.numPendingTests + (res.numTodoTests ?? 0);
  // A test file that fails to load counts as a failure even though it ran no test.
  const brokenSuites = res.testResults.filter((f) => f.status === 'failed' && f.assertionResults.length === 0).length;
  failed += brokenSuites;
} else {
  failed += 1;
  console.log(`vitest wrote no results (exit ${v.status ?? v.signal})`);
}
if (v.status !== 0 && failed === 0) failed += 1;

console.log(`\n${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed === 0 ? 0 : 1);
