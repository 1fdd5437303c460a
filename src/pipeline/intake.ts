/**
 * The intake orchestrator: loads the context, runs the stages, and persists the withdrawal, its
 * decisions, the nonce allocation and the audit entries in ONE transaction, so a crash either
 * keeps all of it or none. Idempotency: the same (customer, Idempotency-Key) with the same body
 * returns the stored withdrawal; with a different body it is refused with 409.
 *
 * @example
 *   const { withdrawal, created } = await submitWithdrawal(db, systemClock, {
 *     customerId: 'acme', credentialId: 'cred_…', idempotencyKey: 'k1', request: { chain: 'bitcoin', asset: 'BTC', to, amount: '0.1' },
 *   });
 */
import { createHash, randomUUID } from 'node:crypto';
import { appendAudit } from '../audit/chain.js';
import { isAccountBased } from '../core/chain.js';
import type { Clock } from '../core/clock.js';
import { CustosError } from '../core/errors.js';
import type { WithdrawalStatus } from '../core/withdrawal.js';
import { getAccountFor, getAsset } from '../store/accounts.js';
import type { Db } from '../store/db.js';
import { findByIdempotencyKey, insertWithdrawal, type WithdrawalRecord } from '../store/withdrawals.js';
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

export async function submitWithdrawal(db: Db, clock: Clock, s: Submission): Promise<{ withdrawal: WithdrawalRecord; created: boolean }> {
  const hash = requestHash(s.request);
  const replay = await findByIdempotencyKey(db, s.customerId, s.idempotencyKey);
  if (replay) return { withdrawal: sameRequestOr409(replay, hash), created: false };
  try {
    const withdrawal = await db.tx(async (q) => {
      const now = clock.now();
      const asset = await getAsset(q, s.request.chain, s.request.asset);
      // Account-based chains lock the account row: the nonce it hands out is then gap-free.
      const account = asset ? await getAccountFor(q, s.request.chain, s.request.asset, isAccountBased(s.request.chain)) : null;
      const syntax = syntaxStage(s.request, { asset, account });
      const passed = syntax.decision.outcome === 'pass';
      const status: WithdrawalStatus = passed ? 'approved' : 'rejected';
      if (passed && syntax.nonce !== null && account) {
        await q.query('UPDATE accounts SET next_nonce = next_nonce + 1 WHERE id = $1', [account.id]);
      }
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
        nonce: passed ? syntax.nonce : null,
        memo: s.request.memo ?? null,
        status,
        decisions: [syntax.decision],
        request: { ...s.request },
        idempotencyKey: s.idempotencyKey,
        requestHash: hash,
        createdAt: now,
        updatedAt: now,
      };
      await insertWithdrawal(q, w);
      const subject = `withdrawal:${w.id}`;
      await appendAudit(q, {
        at: now,
        actor: `credential:${s.credentialId}`,
        action: 'withdrawal.received',
        subject,
        data: { customer: s.customerId, request: w.request, idempotencyKey: s.idempotencyKey },
      });
      await appendAudit(q, {
        at: now,
        actor: 'pipeline',
        action: 'withdrawal.transition',
        subject,
        data: { from: 'received', to: status, decision: syntax.decision, nonce: w.nonce, fee: w.fee },
      });
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

function sameRequestOr409(w: WithdrawalRecord, hash: Uint8Array): WithdrawalRecord {
  if (Buffer.compare(Buffer.from(w.requestHash), Buffer.from(hash)) !== 0) {
    throw new CustosError('idempotency_key_reused', 'this Idempotency-Key was already used with a different request body', 409, {
      withdrawalId: w.id,
    });
  }
  return w;
}
