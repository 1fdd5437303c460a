/**
 * A Decision is what one pipeline stage concluded about a withdrawal, with its reasons.
 * Every reason has a stable code and a human sentence; risk signals also carry a weight.
 *
 * @example
 *   reject('syntax', [{ code: 'address_checksum', message: 'EIP-55 checksum does not match' }])
 */
export const STAGES = ['syntax', 'risk', 'rules', 'approval', 'signing'] as const;
export type Stage = (typeof STAGES)[number];

/** pass: go on; reject: final refusal (bad input); review: manual review queue; block: refused by policy (e.g. sanctions). */
export type Outcome = 'pass' | 'reject' | 'review' | 'block';

export interface Reason {
  code: string;
  message: string;
  weight?: number;
}

export interface Decision {
  stage: Stage;
  outcome: Outcome;
  reasons: Reason[];
}

export function pass(stage: Stage, reasons: Reason[] = []): Decision {
  return { stage, outcome: 'pass', reasons };
}

export function reject(stage: Stage, reasons: Reason[]): Decision {
  return { stage, outcome: 'reject', reasons };
}
