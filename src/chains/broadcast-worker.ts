/**
 * The broadcast worker: takes `signed` withdrawals to the chain and follows them to `confirmed` or
 * `failed`, each transition audited in the same transaction. It serves the chains it has a
 * broadcaster (a configured endpoint) for; on other chains a withdrawal stays `signed`.
 *
 * Rules (pure: `nextStep`): a transaction the node takes moves to `broadcast`; one it refuses is
 * sent again after a back-off and fails after `maxSendAttempts` refusals (an unreachable endpoint
 * never counts as a refusal). A broadcast transaction is confirmed when the chain calls it final or
 * it has the configured confirmations; it fails when the chain says it failed (reverted, an error
 * in the Solana status, a Solana transaction the chain does not have once the finalized block
 * height is past its `lastValidBlockHeight`: its blockhash expired, it can never land). Pending
 * ones are polled every `pollMs`.
 *
 * @example
 *   const worker = new BroadcastWorker({ db, broadcasters: { ethereum: ethereumBroadcaster(httpJsonRpc(url)) } });
 *   await worker.runOnce();   // { broadcast: [...], confirmed: [...], failed: [...] }
 */
import { appendAudit } from '../audit/chain.js';
import type { Chain } from '../core/chain.js';
import { systemClock, type Clock } from '../core/clock.js';
import type { Decision } from '../core/decision.js';
import type { WithdrawalStatus } from '../core/withdrawal.js';
import type { Db } from '../store/db.js';
import { claimDueIds, getOutbound, recordCheck } from '../store/outbound.js';
import { getWithdrawal, transitionWithdrawal } from '../store/withdrawals.js';
import type { Broadcaster, SendResult, TxStatus } from './broadcast.js';

/** Confirmations before `confirmed` unless the chain reports finality first. */
export const DEFAULT_CONFIRMATIONS: Readonly<Record<Chain, number>> = { ethereum: 12, bitcoin: 6, solana: 1 };

export type Step =
  | { readonly kind: 'transition'; readonly to: WithdrawalStatus; readonly reason: string; readonly code?: string; readonly confirmations?: bigint }
  | { readonly kind: 'wait'; readonly retryInMs: number; readonly error?: string; readonly countAttempt: boolean; readonly confirmations?: bigint };

export interface StepRules {
  readonly required: number;
  readonly pollMs: number;
  readonly retryBaseMs: number;
  readonly maxSendAttempts: number;
}

/**
 * What to do after a send (`signed`) or a status check (`broadcast`). `attempts`: refusals so far.
 * `outcome` is the broadcaster's answer or the error it threw.
 */
export function nextStep(
  status: 'signed' | 'broadcast', outcome: { ok: SendResult | TxStatus } | { error: string }, attempts: number, r: StepRules,
): Step {
  const backoff = (n: number) => Math.min(10 * 60_000, r.retryBaseMs * 2 ** Math.min(20, Math.max(0, n)));
  if ('error' in outcome) return { kind: 'wait', retryInMs: backoff(attempts), error: outcome.error, countAttempt: false };
  const ok = outcome.ok;
  if (status === 'signed') {
    const sent = ok as SendResult;
    if (sent.accepted) return { kind: 'transition', to: 'broadcast', reason: 'the node took the transaction' };
    if (attempts + 1 >= r.maxSendAttempts) return { kind: 'transition', to: 'failed', reason: `refused ${attempts + 1} times: ${sent.reason}` };
    return { kind: 'wait', retryInMs: backoff(attempts + 1), error: sent.reason, countAttempt: true };
  }
  const st = ok as TxStatus;
  if (st.state === 'failed') return { kind: 'transition', to: 'failed', reason: st.reason, ...(st.code !== undefined ? { code: st.code } : {}) };
  if (st.state === 'included' && (st.final || st.confirmations >= BigInt(r.required))) {
    return { kind: 'transition', to: 'confirmed', reason: st.final ? 'final on chain' : `${st.confirmations} confirmations`, confirmations: st.confirmations };
  }
  return { kind: 'wait', retryInMs: r.pollMs, countAttempt: false, ...(st.state === 'included' ? { confirmations: st.confirmations } : {}) };
}

export interface BroadcastWorkerOptions {
  readonly db: Db;
  readonly broadcasters: Partial<Record<Chain, Broadcaster>>;
  /** Confirmations required per chain (default `DEFAULT_CONFIRMATIONS`). */
  readonly confirmations?: Partial<Record<Chain, number>>;
  readonly clock?: Clock;
  /** Poll interval of a broadcast transaction (default 5 s). */
  readonly pollMs?: number;
  /** Back-off base after a refusal or an unreachable endpoint (default 5 s). */
  readonly retryBaseMs?: number;
  /** Refusals before a signed transaction fails (default 5). */
  readonly maxSendAttempts?: number;
  /** Rows claimed per pass (default 32). */
  readonly batch?: number;
  readonly onEvent?: (e: { withdrawalId: string; from: WithdrawalStatus; to: WithdrawalStatus | null; txHash: string; detail: string }) => void;
}

export interface BroadcastReport {
  readonly broadcast: string[];
  readonly confirmed: string[];
  readonly failed: string[];
  readonly waiting: string[];
}

const ACTOR = 'broadcast-worker';
/** How long a claimed row is left alone by other workers while this one talks to the node. */
const CLAIM_MS = 30_000;

export class BroadcastWorker {
  private readonly clock: Clock;
  private running: Promise<BroadcastReport> | null = null;

  constructor(private readonly o: BroadcastWorkerOptions) {
    this.clock = o.clock ?? systemClock;
  }

  chains(): Chain[] {
    return (Object.keys(this.o.broadcasters) as Chain[]).filter((c) => this.o.broadcasters[c] !== undefined);
  }

  runOnce(): Promise<BroadcastReport> {
    this.running ??= this.pass().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  start(intervalMs = 1_000, onError?: (err: unknown) => void): () => Promise<void> {
    let stopped = false;
    let timer: NodeJS.Timeout | undefined;
    const tick = async (): Promise<void> => {
      try {
        await this.runOnce();
      } catch (err) {
        onError?.(err);
      }
      if (!stopped) timer = setTimeout(() => void tick(), intervalMs);
    };
    timer = setTimeout(() => void tick(), 0);
    return async () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      await this.running?.catch(() => undefined);
    };
  }

  private async claim(status: 'signed' | 'broadcast'): Promise<string[]> {
    return this.o.db.tx(async (q) => {
      const now = this.clock.now();
      const ids = await claimDueIds(q, { status, limit: this.o.batch ?? 32, now, chains: this.chains() });
      for (const id of ids) await recordCheck(q, id, { now, nextCheckAt: now + CLAIM_MS });
      return ids;
    });
  }

  private async pass(): Promise<BroadcastReport> {
    const report: BroadcastReport = { broadcast: [], confirmed: [], failed: [], waiting: [] };
    for (const status of ['signed', 'broadcast'] as const) {
      for (const id of await this.claim(status)) {
        const to = await this.handle(id, status);
        if (to === 'broadcast') report.broadcast.push(id);
        else if (to === 'confirmed') report.confirmed.push(id);
        else if (to === 'failed') report.failed.push(id);
        else report.waiting.push(id);
      }
    }
    return report;
  }

  private async handle(id: string, status: 'signed' | 'broadcast'): Promise<WithdrawalStatus | null> {
    const w = await getWithdrawal(this.o.db, id);
    const ob = await getOutbound(this.o.db, id);
    const b = w ? this.o.broadcasters[w.chain] : undefined;
    if (!w || w.status !== status || !ob?.rawTx || !ob.txHash || !b) return null;
    const txHash = ob.txHash;
    let outcome: { ok: SendResult | TxStatus } | { error: string };
    try {
      const lifetime = ob.lastValidBlockHeight !== null ? { lastValidBlockHeight: ob.lastValidBlockHeight } : {};
      outcome = { ok: status === 'signed' ? await b.send(ob.rawTx, txHash) : await b.status(txHash, lifetime) };
    } catch (err) {
      outcome = { error: err instanceof Error ? err.message : 'broadcast failed' };
    }
    const step = nextStep(status, outcome, ob.broadcastAttempts, {
      required: this.o.confirmations?.[w.chain] ?? DEFAULT_CONFIRMATIONS[w.chain],
      pollMs: this.o.pollMs ?? 5_000, retryBaseMs: this.o.retryBaseMs ?? 5_000, maxSendAttempts: this.o.maxSendAttempts ?? 5,
    });
    const now = this.clock.now();
    if (step.kind === 'wait') {
      await this.o.db.tx((q) => recordCheck(q, id, {
        now, nextCheckAt: now + step.retryInMs, attempt: step.countAttempt,
        ...(step.error !== undefined ? { error: step.error } : {}), ...(step.confirmations !== undefined ? { confirmations: step.confirmations } : {}),
      }));
      this.o.onEvent?.({ withdrawalId: id, from: status, to: null, txHash, detail: step.error ?? (step.confirmations !== undefined ? `${step.confirmations} confirmations` : 'pending') });
      return null;
    }
    const moved = await this.o.db.tx(async (q) => {
      const decision: Decision | null = step.to === 'failed'
        ? { stage: 'signing', outcome: 'reject', reasons: [{ code: step.code ?? (status === 'signed' ? 'broadcast_refused' : 'transaction_failed'), message: step.reason }] }
        : null;
      try {
        await transitionWithdrawal(q, id, status, step.to, decision, now);
      } catch {
        return false; // another worker moved it
      }
      await recordCheck(q, id, {
        now, nextCheckAt: step.to === 'broadcast' ? now + (this.o.pollMs ?? 5_000) : null, broadcast: step.to === 'broadcast',
        attempt: status === 'signed', error: step.to === 'failed' ? step.reason : null, ...(step.confirmations !== undefined ? { confirmations: step.confirmations } : {}),
      });
      await appendAudit(q, {
        at: now, actor: ACTOR, action: 'withdrawal.transition', subject: `withdrawal:${id}`,
        data: {
          from: status, to: step.to, txHash, reason: step.reason, ...(step.code !== undefined ? { code: step.code } : {}),
          ...(step.confirmations !== undefined ? { confirmations: step.confirmations.toString() } : {}),
        },
      });
      return true;
    });
    if (!moved) return null;
    this.o.onEvent?.({ withdrawalId: id, from: status, to: step.to, txHash, detail: step.reason });
    return step.to;
  }
}
