/**
 * The intake orchestrator: loads the context, runs stage 1 (syntax), stage 2 (risk) and stage 3
 * (rules) against the active policy, and persists the withdrawal, its decisions, the counter
 * reservation, the history update (when approved), the nonce allocation and the audit entries in
 * ONE transaction, so a crash either keeps all of it or none. Final status by combineOutcome:
 * approve → approved, awaiting_approval → awaiting_approval, review → in_review, block → rejected.
 * A database without a policy gets the starter policy first (active-policy.ts). Idempotency: the same (customer, Idempotency-Key) with the same body
 * returns the stored withdrawal; with a different body it is refused with 409.
 *
 * @example
 *   const { withdrawal, created } = await submitWithdrawal(db, systemClock, {
 *     customerId: 'acme', credentialId: 'cred_…', idempotencyKey: 'k1', request: { chain: 'bitcoin', asset: 'BTC', to, amount: '0.1' },
 *   });
 */
import { createHash, randomUUID } from 'node:crypto';
import { enqueueAlert } from '../alerts/outbox.js';
import { appendAudits } from '../audit/chain.js';
import { isAccountBased } from '../core/chain.js';
import type { Clock } from '../core/clock.js';
import { CustosError } from '../core/errors.js';
import type { Withdrawal, WithdrawalStatus } from '../core/withdrawal.js';
import type { FinalOutcome } from '../policy/simulate.js';
import { counterWrites } from '../policy/windows.js';
import { getAccountFor, getAsset } from '../store/accounts.js';
import { addCounters } from '../store/counters.js';
import type { Db, Queryable } from '../store/db.js';
import { findByIdempotencyKey, insertWithdrawal, type WithdrawalRecord } from '../store/withdrawals.js';
import { recordAccepted } from './accept.js';
import { activePolicy, ensureStarterPolicy } from './active-policy.js';
import { decisionJSON, runRiskAndRules } from './stages.js';
import { syntaxStage, type WithdrawalRequest } from './syntax.js';

export interface Submission {
  customerId: string;
  credentialId: string;
  idempotencyKey: string;
  request: WithdrawalRequest;
}

/** Hash of the request body with keys sorted: the same body in another key order is the same request. */
export function requestHash(req: WithdrawalRequest): Uint8Array {
  const sorted = Object.fromEntries(Object.entries(req).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : 1)));
  return new Uint8Array(createHash('sha256').update(JSON.stringify(sorted)).digest());
}

/** Where the final outcome of stages 2 and 3 leaves the withdrawal. */
export const OUTCOME_STATUS: Readonly<Record<FinalOutcome, WithdrawalStatus>> = {
  approve: 'approved',
  awaiting_approval: 'awaiting_approval',
  review: 'in_review',
  block: 'rejected',
};

export async function submitWithdrawal(db: Db, clock: Clock, s: Submission): Promise<{ withdrawal: WithdrawalRecord; created: boolean }> {
  const hash = requestHash(s.request);
  const replay = await findByIdempotencyKey(db, s.customerId, s.idempotencyKey);
  if (replay) return { withdrawal: sameRequestOr409(replay, hash), created: false };
  await ensureStarterPolicy(db, clock.now());
  try {
    const withdrawal = await db.tx(async (q) => {
      const now = clock.now();
      const asset = await getAsset(q, s.request.chain, s.request.asset);
      // Read without a lock: the account row is locked only when a nonce is taken, at the end of
      // the transaction, so the nonce lock is held for a few statements rather than the pipeline.
      const account = asset ? await getAccountFor(q, s.request.chain, s.request.asset) : null;
      const syntax = syntaxStage(s.request, { asset, account });
      const w: WithdrawalRecord = {
        id: `wd_${randomUUID()}`,
        customerId: s.customerId,
        credentialId: s.credentialId,
        accountId: account?.id ?? null,
        chain: s.request.chain,
        asset: s.request.asset,
        to: syntax.to,
        amount: syntax.amount,
        fee: syntax.fee,
        nonce: null,
        memo: s.request.memo ?? null,
        status: 'rejected',
        decisions: [syntax.decision],
        request: { ...s.request },
        idempotencyKey: s.idempotencyKey,
        requestHash: hash,
        createdAt: now,
        updatedAt: now,
      };
      let policyVersion: number | null = null;
      let sanctioned = false;
      if (syntax.decision.outcome === 'pass' && account && syntax.amount !== null && syntax.fee !== null) {
        const active = await activePolicy(q, db);
        policyVersion = active.version;
        const core: Withdrawal = { ...w, accountId: account.id, amount: syntax.amount, fee: syntax.fee, status: 'received' };
        const r = await runRiskAndRules(q, core, active.policy, now, account.balance);
        w.decisions = [syntax.decision, decisionJSON(r.risk), decisionJSON(r.rules)];
        w.status = OUTCOME_STATUS[r.outcome];
        sanctioned = r.risk.reasons.some((x) => x.code === 'sanctioned_destination');
        if (w.status !== 'rejected') {
          // Reserve the caps now (also for review and approval): released if it is rejected later.
          await addCounters(q, counterWrites(core, now, r.rules.referenceValue), 1);
        }
        if (w.status === 'approved') {
          await recordAccepted(q, core, active.policy, now);
          if (isAccountBased(w.chain)) w.nonce = await takeNonce(q, account.id, s.request.nonce);
        }
      }
      await insertWithdrawal(q, w);
      const subject = `withdrawal:${w.id}`;
      // Both entries in one statement: received, then the transition.
      await appendAudits(q, [
        {
          at: now,
          actor: `credential:${s.credentialId}`,
          action: 'withdrawal.received',
          subject,
          data: { customer: s.customerId, request: w.request, idempotencyKey: s.idempotencyKey },
        },
        {
          at: now,
          actor: 'pipeline',
          action: 'withdrawal.transition',
          subject,
          data: { from: 'received', to: w.status, decision: syntax.decision, decisions: w.decisions, policyVersion, nonce: w.nonce, fee: w.fee },
        },
      ]);
      if (sanctioned) {
        await enqueueAlert(
          q,
          {
            kind: 'sanctions_hit',
            severity: 'critical',
            summary: `withdrawal ${w.id} of customer ${w.customerId} to a sanctioned ${w.chain} address was blocked`,
            details: { withdrawalId: w.id, customerId: w.customerId, chain: w.chain, to: w.to },
          },
          now,
        );
      }
      return w;
    });
    return { withdrawal, created: true };
  } catch (err) {
    // Two requests with one Idempotency-Key raced: the loser's transaction rolled back whole.
    if ((err as { code?: string }).code === '23505' && String((err as Error).message).includes('idempotency')) {
      const winner = await findByIdempotencyKey(db, s.customerId, s.idempotencyKey);
      if (winner) return { withdrawal: sameRequestOr409(winner, hash), created: false };
    }
    throw err;
  }
}

/**
 * Takes the account's next nonce under its row lock (held until commit: gap-free, no duplicates).
 * A client-supplied nonce that another withdrawal took meanwhile is refused; the whole
 * transaction then rolls back.
 */
async function takeNonce(q: Queryable, accountId: string, requested: number | undefined): Promise<bigint> {
  const [r] = await q.query<{ n: string }>('UPDATE accounts SET next_nonce = next_nonce + 1 WHERE id = $1 RETURNING (next_nonce - 1)::text AS n', [accountId]);
  if (!r) throw new CustosError('account_unknown', `no account ${accountId}`, 404);
  const taken = BigInt(r.n);
  if (requested !== undefined && BigInt(requested) !== taken) {
    throw new CustosError('nonce_out_of_sequence', `nonce ${requested} is not the account's next nonce (${taken})`, 422, { expected: taken.toString() });
  }
  return taken;
}

function sameRequestOr409(w: WithdrawalRecord, hash: Uint8Array): WithdrawalRecord {
  if (Buffer.compare(Buffer.from(w.requestHash), Buffer.from(hash)) !== 0) {
    throw new CustosError('idempotency_key_reused', 'this Idempotency-Key was already used with a different request body', 409, {
      withdrawalId: w.id,
    });
  }
  return w;
}
