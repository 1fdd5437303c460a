/**
 * Stage 3 and the policy engine: the versioned policy document, business rules, counter windows,
 * simulation over history and quorum-governed changes.
 *
 * @example
 *   import { parsePolicy, evaluateRules, counterReads, counterWrites } from './policy/index.js';
 */
export * from './canonical.js';
export * from './conditions.js';
export * from './counter-table.js';
export * from './document.js';
export * from './governance.js';
export * from './policy-text.js';
export * from './price.js';
export * from './rules.js';
export * from './schema.js';
export * from './simulate.js';
export * from './windows.js';
