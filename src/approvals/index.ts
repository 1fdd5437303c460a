/**
 * Review queue and M-of-N approvals of withdrawals (decide.ts), the canonical withdrawal digest
 * approvals bind to (digest.ts), and the queue listing (queue.ts).
 *
 * @example
 *   import { decideApproval, reviewQueue } from './approvals/index.js';
 */
export * from './decide.js';
export * from './digest.js';
export * from './queue.js';
