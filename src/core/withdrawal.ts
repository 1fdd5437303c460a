/**
 * The Withdrawal and its state machine (ARCHITECTURE.md):
 * received → rejected | in_review | awaiting_approval | approved → signing → signed → broadcast → confirmed | failed
 *
 * @example
 *   assertTransition('received', 'approved'); // ok
 *   assertTransition('signed', 'received');   // throws CustosError('invalid_transition')
 */
import type { Chain } from './chain.js';
import type { Decision } from './decision.js';
import { CustosError } from './errors.js';

export const WITHDRAWAL_STATUSES = [
  'received',
  'rejected',
  'in_review',
  'awaiting_approval',
  'approved',
  'signing',
  'signed',
  'broadcast',
  'confirmed',
  'failed',
] as const;
export type WithdrawalStatus = (typeof WITHDRAWAL_STATUSES)[number];

const TRANSITIONS: Record<WithdrawalStatus, readonly WithdrawalStatus[]> = {
  received: ['rejected', 'in_review', 'awaiting_approval', 'approved'],
  in_review: ['rejected', 'awaiting_approval', 'approved'],
  awaiting_approval: ['rejected', 'approved'],
  approved: ['signing', 'failed'],
  signing: ['signed', 'approved', 'failed'],
  signed: ['broadcast', 'failed'],
  broadcast: ['confirmed', 'failed'],
  rejected: [],
  confirmed: [],
  failed: [],
};

export function canTransition(from: WithdrawalStatus, to: WithdrawalStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

export function assertTransition(from: WithdrawalStatus, to: WithdrawalStatus): void {
  if (!canTransition(from, to)) {
    throw new CustosError('invalid_transition', `a withdrawal cannot go from ${from} to ${to}`, 409);
  }
}

export function isWithdrawalStatus(value: unknown): value is WithdrawalStatus {
  return typeof value === 'string' && (WITHDRAWAL_STATUSES as readonly string[]).includes(value);
}

export interface Withdrawal {
  id: string;
  customerId: string;
  credentialId: string;
  accountId: string;
  chain: Chain;
  asset: string;
  to: string;
  amount: bigint; // base units
  fee: bigint; // base units (wei per gas for ethereum max fee, sat/vB for bitcoin, lamports for solana)
  nonce: bigint | null; // account-based chains only
  memo: string | null;
  status: WithdrawalStatus;
  decisions: Decision[];
  idempotencyKey: string;
  createdAt: number;
  updatedAt: number;
}
