/**
 * Public surface of the audit core (the pure library; the database shell is chain.ts and the
 * store). Import from here rather than from the individual modules.
 *
 * @example
 *   import { MerkleTree, MemoryTreeNodeStore, signCheckpoint, verifyLog } from '../audit/index.js';
 */
export * from './merkle.js';
export * from './compact-range.js';
export * from './tree-store.js';
export * from './tree.js';
export * from './note.js';
export * from './signer.js';
export * from './checkpoint.js';
export * from './canonical.js';
export * from './redact.js';
export * from './verify.js';
export { benchAuditCore, type BenchAuditOptions, type BenchAuditResult } from './bench.js';
