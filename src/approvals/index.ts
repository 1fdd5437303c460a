/**
 * Review queue and M-of-N approvals of withdrawals (decide.ts, requirement.ts), the canonical
 * withdrawal digest approvals bind to (digest.ts), the approval statement approvers sign
 * (statement.ts) with keys from the approver registry (registry.ts, key-file.ts), the approver's
 * client side (sign-and-submit.ts), the queue listing (queue.ts), and the signing authorization
 * issued for an approved withdrawal (authorization.ts), and the offline check of the approvals in
 * the audit trail (trail.ts).
 *
 * @example
 *   import { decideApproval, issueSigningAuthorization, reviewQueue } from './approvals/index.js';
 */
export * from './authorization.js';
export * from './decide.js';
export * from './digest.js';
export * from './key-file.js';
export * from './queue.js';
export * from './registry.js';
export * from './sign-and-submit.js';
export * from './statement.js';
export * from './trail.js';
