/**
 * Test-only re-export of the in-process runner with the name the tests use.
 *
 * @example
 *   const outputs = runAll(starts, (m) => m);
 */
export { runLocal as runAll, type MessageHook as Tamper } from '../local.js';
