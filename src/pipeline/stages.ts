/**
 * What stages 2 (risk) and 3 (rules) share with the intake orchestrator (intake.ts): the bundled
 * OFAC sanctions index (parsed once per process), layered with the entries imported into the
 * database for the one address being decided, and the JSON-safe form of a decision.
 *
 * @example
 *   const sanctions = new LayeredSanctions(bundledSanctions(), [{ chain: 'ethereum', address, list: 'imported' }]);
 *   decisionJSON(riskDecision); // bigints as decimal strings
 */
import type { Chain } from '../core/chain.js';
import type { Decision } from '../core/decision.js';
import { bundledSanctionsIndex } from '../risk/bundled-sanctions.js';
import { SanctionsIndex } from '../risk/sanctions.js';

let bundled: SanctionsIndex | null = null;
/** The bundled OFAC lists, parsed once per process. */
export function bundledSanctions(): SanctionsIndex {
  bundled ??= bundledSanctionsIndex();
  return bundled;
}

/** The bundled index plus the imported entries found for the one address being decided. */
export class LayeredSanctions extends SanctionsIndex {
  constructor(
    private readonly base: SanctionsIndex,
    extra: { chain: Chain; address: string; list: string }[],
  ) {
    super(extra);
  }
  override lookup(chain: Chain, address: string): readonly string[] {
    const own = super.lookup(chain, address);
    const b = this.base.lookup(chain, address);
    return own.length === 0 ? b : [...new Set([...b, ...own])];
  }
}

/** JSON-safe form of a decision (bigints as decimal strings) for the withdrawal row and the audit entry. */
export function decisionJSON(d: Decision): Decision {
  return JSON.parse(JSON.stringify(d, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))) as Decision;
}
