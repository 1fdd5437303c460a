/**
 * Stage 2, risk scoring: signals over (withdrawal, context, settings), the score and its route,
 * the incremental per-customer history, and the sanctions index.
 *
 * @example
 *   import { evaluateRisk, bundledSanctionsIndex } from './risk/index.js';
 */
export * from './address.js';
export * from './bundled-sanctions.js';
export * from './context.js';
export * from './destination.js';
export * from './evaluate.js';
export * from './histogram.js';
export * from './history.js';
export * from './lookalike.js';
export * from './sanctions.js';
export * from './settings.js';
export * from './signals.js';
