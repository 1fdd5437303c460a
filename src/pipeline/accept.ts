/**
 * What changes when a withdrawal is accepted (reaches `approved`, at intake or after approvals)
 * or given up (rejected or expired after reserving its counters):
 *   - accepted: the (customer, asset) amount history takes the amount (historyRecord, O(1)) and
 *     the destination record counts one more use (recordDestinationUse, with its look-alike key);
 *   - released: the counter reservation made at intake (counterWrites at the intake time, with the
 *     stored rules decision's reference value) is subtracted again.
 * Both run inside the caller's transaction.
 *
 * @example
 *   await recordAccepted(q, withdrawal, policy, clock.now());
 */
import type { Decision } from '../core/decision.js';
import type { Withdrawal } from '../core/withdrawal.js';
import type { Policy } from '../policy/document.js';
import { counterLockScopes, counterWrites } from '../policy/windows.js';
import { normalizeAddress } from '../risk/address.js';
import { recordDestinationUse } from '../risk/destination.js';
import { historyRecord } from '../risk/history.js';
import { lookAlikeKey } from '../risk/lookalike.js';
import { addCounters, lockCounterScopes } from '../store/counters.js';
import type { Queryable } from '../store/db.js';
import { getAmountHistory, getDestination, putAmountHistory, putDestination } from '../store/histories.js';

export async function recordAccepted(q: Queryable, w: Withdrawal, policy: Policy, now: number): Promise<void> {
  // The customer's scope locks guard the history and destination rows too: the intake writes them
  // under these locks (src/pipeline/intake.ts), so take them before reading. Callers take these
  // before any account row lock (nonces), as the intake does, so the two never deadlock.
  await lockCounterScopes(q, counterLockScopes(w));
  const h = await getAmountHistory(q, w.customerId, w.asset, true);
  // The history only moves forward in time: an approval stamped before the last recorded hour counts at that hour.
  const at = h.openHour && now < h.openHour.hour * 3_600_000 ? h.openHour.hour * 3_600_000 : now;
  await putAmountHistory(q, w.customerId, w.asset, historyRecord(h, w.amount, at));
  const normalized = normalizeAddress(w.chain, w.to);
  const rec = recordDestinationUse(await getDestination(q, w.customerId, w.chain, normalized), w.chain, normalized, now);
  const p = policy.risk.params;
  await putDestination(q, w.customerId, w.chain, rec, lookAlikeKey(w.chain, normalized, p.lookAlikePrefix, p.lookAlikeSuffix));
}

/** The stored rules decision's reference value (decimal string in JSON), or null. */
export function storedReferenceValue(decisions: readonly Decision[]): bigint | null {
  const d = decisions.find((x) => x.stage === 'rules') as (Decision & { referenceValue?: string | null }) | undefined;
  return d?.referenceValue ? BigInt(d.referenceValue) : null;
}

/** Gives back the counter reservation a not-blocked withdrawal made at intake (time `createdAt`). */
export async function releaseCounters(q: Queryable, w: Withdrawal, decisions: readonly Decision[]): Promise<void> {
  await lockCounterScopes(q, counterLockScopes(w));
  await addCounters(q, counterWrites(w, w.createdAt, storedReferenceValue(decisions)), -1);
}
