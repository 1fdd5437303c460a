/**
 * The intake orchestrator: loads the context, runs stage 1 (syntax), stage 2 (risk) and stage 3
 * (rules) against the active policy, and persists the withdrawal, its decisions, the counter
 * reservation, the history update (when approved), the nonce allocation, the audit entries and
 * any alert in ONE statement, so a crash either keeps all of it or none. Final status by combineOutcome:
 * approve → approved, awaiting_approval → awaiting_approval, review → in_review, block → rejected.
 * A database without a policy gets the starter policy first (active-policy.ts). Idempotency: the
 * same (customer, Idempotency-Key) with the same body returns the stored withdrawal; with a
 * different body it is refused with 409.
 *
 * Several submissions can be decided together (`submitWithdrawals`, fed by the gateway's
 * IntakeBatcher): the counter scopes of all of them are locked first, their contexts are loaded in
 * one statement, they are decided in order (each sees the counters, history, destinations and
 * nonces of those before it in the batch, exactly as if they had committed one by one), and
 * everything is written in one statement (src/store/intake-batch.ts). If the batch fails as a whole
 * (an Idempotency-Key raced in from another gateway, a nonce or the balance taken meanwhile), each submission is
 * decided again on its own, so one bad submission never fails the others.
 *
 * @example
 *   const { withdrawal, created } = await submitWithdrawal(db, systemClock, {
 *     customerId: 'acme', credentialId: 'cred_…', idempotencyKey: 'k1', request: { chain: 'bitcoin', asset: 'BTC', to, amount: '0.1' },
 *   });
 */
import { createHash, randomUUID } from 'node:crypto';
import { alertDetailsJSON, type Alert } from '../alerts/outbox.js';
import type { BatcherOptions } from '../core/batcher.js';
import { encodeEntry, encodeEntryAround, type AuditEntry } from '../audit/chain.js';
import { holdsOf, isAccountBased } from '../core/chain.js';
import type { Clock } from '../core/clock.js';
import { CustosError } from '../core/errors.js';
import type { Withdrawal, WithdrawalStatus } from '../core/withdrawal.js';
import type { Policy } from '../policy/document.js';
import type { PriceQuote } from '../policy/price.js';
import { evaluateRules } from '../policy/rules.js';
import { combineOutcome, type FinalOutcome } from '../policy/simulate.js';
import { counterLockScopes, counterReads, counterWrites, RISK_1H, type CounterWrite, type Totals } from '../policy/windows.js';
import { normalizeAddress } from '../risk/address.js';
import type { DestinationRecord, RiskContext } from '../risk/context.js';
import { recordDestinationUse } from '../risk/destination.js';
import { evaluateRisk } from '../risk/evaluate.js';
import { emptyHistory, historyRecord, type AmountHistory } from '../risk/history.js';
import { lookAlikeKey } from '../risk/lookalike.js';
import { lockCounterScopes } from '../store/counters.js';
import type { Db, Queryable } from '../store/db.js';
import {
  loadIntakeContexts,
  writeIntakeBatch,
  type IntakeAuditRow,
  type NonceTake,
  type IntakeContexts,
  type IntakeKey,
  type IntakeRead,
  type WithdrawalHolds,
} from '../store/intake-batch.js';
import { findByIdempotencyKey, getWithdrawal, type WithdrawalRecord } from '../store/withdrawals.js';
import { activePolicy, cachedActivePolicy, ensureStarterPolicy, type ActivePolicy } from './active-policy.js';
import { bundledSanctions, decisionJSON, LayeredSanctions } from './stages.js';
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

export interface SubmitOutcome {
  withdrawal: WithdrawalRecord;
  created: boolean;
}

/**
 * How the gateway batches submissions (src/core/batcher.ts): up to 32 per transaction and up to
 * 3 transactions at once on PostgreSQL, so one batch's decisions (CPU) overlap another's
 * statements (database). Batches that take hot-wallet nonces queue on the account row until they
 * commit, so fewer, larger batches serve more: 16 × 4 measured 961–1,025 submissions/s in the
 * intake benchmark, 32 × 3 1,180–1,240 (2026-11-24). PGlite has one session: one batch at a time.
 */
export function intakeBatching(db: Pick<Db, 'kind'>): BatcherOptions {
  return db.kind === 'pglite' ? { maxBatch: 32, maxInFlight: 1 } : { maxBatch: 32, maxInFlight: 3 };
}

/** One submission's result in a batch: its outcome, or the error that refused it. */
export type SubmitResult = { ok: true; value: SubmitOutcome } | { ok: false; error: unknown };

export async function submitWithdrawal(db: Db, clock: Clock, s: Submission): Promise<SubmitOutcome> {
  const [r] = await submitWithdrawals(db, clock, [s]);
  if (!r) throw new Error('intake returned no result');
  if (!r.ok) throw r.error;
  return r.value;
}

/**
 * Decides several submissions in one transaction; one result per submission, in order. Two
 * submissions with the same (customer, Idempotency-Key) are never decided in the same batch: the
 * later one waits for the earlier one's commit and is then answered as its replay.
 */
export async function submitWithdrawals(db: Db, clock: Clock, subs: readonly Submission[]): Promise<SubmitResult[]> {
  if (subs.length === 0) return [];
  await ensureStarterPolicy(db, clock.now());
  const seen = new Set<string>();
  const first: number[] = [];
  const later: number[] = [];
  subs.forEach((s, k) => {
    const key = JSON.stringify([s.customerId, s.idempotencyKey]);
    (seen.has(key) ? later : first).push(k);
    seen.add(key);
  });
  const results: SubmitResult[] = new Array<SubmitResult>(subs.length);
  const put = (idx: readonly number[], rs: readonly SubmitResult[]) => idx.forEach((k, j) => (results[k] = rs[j] as SubmitResult));
  put(first, await decideGroup(db, clock, first.map((k) => subs[k] as Submission)));
  for (const k of later) put([k], await decideGroup(db, clock, [subs[k] as Submission]));
  return results;
}

async function decideGroup(db: Db, clock: Clock, subs: readonly Submission[]): Promise<SubmitResult[]> {
  if (subs.length > 1) {
    try {
      return await decideBatch(db, clock, subs);
    } catch {
      // The batch failed as a whole: decide each on its own, so each gets its own answer.
      return Promise.all(subs.map((s) => decideGroup(db, clock, [s]).then((r) => r[0] as SubmitResult)));
    }
  }
  const s = subs[0] as Submission;
  try {
    return await decideAlone(db, clock, subs);
  } catch (err) {
    // Two requests with one Idempotency-Key raced: the loser's transaction rolled back whole.
    if ((err as { code?: string }).code === '23505' && String((err as Error).message).includes('idempotency')) {
      const winner = await findByIdempotencyKey(db, s.customerId, s.idempotencyKey);
      if (winner) {
        try {
          return [{ ok: true, value: { withdrawal: sameRequestOr409(winner, requestHash(s.request)), created: false } }];
        } catch (e) {
          return [{ ok: false, error: e }];
        }
      }
    }
    return [{ ok: false, error: err }];
  }
}

/**
 * One submission on its own. Another gateway's batch may take the balance between this one's
 * read and its write (`balance_changed`): decided again on what is then left, stage 1 refuses it
 * with amount_exceeds_balance, or it fits.
 */
async function decideAlone(db: Db, clock: Clock, subs: readonly Submission[]): Promise<SubmitResult[]> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await decideBatch(db, clock, subs);
    } catch (err) {
      if ((err as { code?: unknown }).code !== 'balance_changed' || attempt >= 5) throw err;
    }
  }
}

/** What one submission leaves in the batch before it is written. */
interface Decided {
  withdrawal: WithdrawalRecord;
  sanctioned: boolean;
  needsNonce: boolean;
  policyVersion: number | null;
  /** What it holds while in flight (nothing when rejected). */
  held: WithdrawalHolds | null;
}

async function decideBatch(db: Db, clock: Clock, subs: readonly Submission[]): Promise<SubmitResult[]> {
  const replays: { k: number; id: string }[] = [];
  // A session, not a transaction, on a real server: its one write commits by itself, so no row
  // lock is held across a round trip to this process (Db.session, src/store/intake-batch.ts).
  const results = await db.session(async (q) => {
    const now = clock.now();
    const out: (SubmitResult | null)[] = subs.map(() => null);
    replays.length = 0;
    let active = cachedActivePolicy(db) ?? (await activePolicy(q, db));
    let ctx = await loadFor(q, subs, active.policy, now);
    if (ctx.policyVersion !== active.version) {
      active = await activePolicy(q, db);
      ctx = await loadFor(q, subs, active.policy, now);
    }
    const batch = new BatchState(ctx.accounts);
    const decided: (Decided | null)[] = subs.map((s, k) => {
      const c = ctx.items[k];
      if (!c) throw new Error('intake context missing');
      if (c.replayOf !== null) {
        replays.push({ k, id: c.replayOf });
        return null;
      }
      return decideOne(s, c, active, now, batch);
    });
    const alerts = decided.flatMap((d) => {
      if (!d?.sanctioned) return [];
      const w = d.withdrawal;
      const alert: Alert = {
        kind: 'sanctions_hit',
        severity: 'critical',
        summary: `withdrawal ${w.id} of customer ${w.customerId} to a sanctioned ${w.chain} address was blocked`,
        details: { withdrawalId: w.id, customerId: w.customerId, chain: w.chain, to: w.to },
      };
      return [{ at: now, kind: alert.kind, severity: alert.severity, summary: alert.summary, details: alertDetailsJSON(alert) }];
    });
    // Everything the write needs is encoded here, before the write statement takes the approved
    // account-based withdrawals' nonces under the account rows' locks (held to the commit): the
    // transition entries of those withdrawals leave the nonce open for the statement to fill in.
    const nonces: NonceTake[] = [];
    const audit: IntakeAuditRow[] = [];
    const written: WithdrawalRecord[] = [];
    const held = new Map<string, WithdrawalHolds>();
    decided.forEach((d, k) => {
      if (!d) return;
      const s = subs[k] as Submission;
      const w = d.withdrawal;
      const subject = `withdrawal:${w.id}`;
      written.push(w);
      if (d.held) held.set(w.id, d.held);
      if (d.needsNonce) {
        const requested = s.request.nonce;
        nonces.push({ withdrawalId: w.id, accountId: w.accountId as string, requested: requested === undefined ? null : BigInt(requested) });
      }
      // Two entries per withdrawal: received, then the transition.
      const transition: AuditEntry = {
        at: now,
        actor: 'pipeline',
        action: 'withdrawal.transition',
        subject,
        data: { from: 'received', to: w.status, decision: w.decisions[0], decisions: w.decisions, policyVersion: d.policyVersion, nonce: w.nonce, fee: w.fee },
      };
      audit.push(
        auditRow({ at: now, actor: `credential:${s.credentialId}`, action: 'withdrawal.received', subject, data: { customer: s.customerId, request: w.request, idempotencyKey: s.idempotencyKey } }),
        d.needsNonce ? openAuditRow(transition, w.id) : auditRow(transition),
      );
      out[k] = { ok: true, value: { withdrawal: w, created: true } };
    });
    const taken = await writeIntakeBatch(q, {
      withdrawals: written,
      counters: batch.counterDeltas(),
      histories: batch.histories(),
      destinations: batch.destinations(),
      audit,
      nonces,
      alerts,
      held,
    }, { commit: true });
    for (const w of written) w.nonce = taken.get(w.id) ?? w.nonce;
    return out;
  });
  for (const { k, id } of replays) {
    const s = subs[k] as Submission;
    const stored = await getWithdrawal(db, id);
    try {
      if (!stored) throw new Error(`withdrawal ${id} vanished`);
      results[k] = { ok: true, value: { withdrawal: sameRequestOr409(stored, requestHash(s.request)), created: false } };
    } catch (err) {
      results[k] = { ok: false, error: err };
    }
  }
  return results.map((r) => r ?? { ok: false, error: new Error('intake left a submission undecided') });
}

const auditRow = (e: AuditEntry): IntakeAuditRow => ({ at: e.at, actor: e.actor, action: e.action, subject: e.subject, body: encodeEntry(e) });
/** The entry with data.nonce left for the write statement to fill in with withdrawal `nonceOf`'s nonce. */
const openAuditRow = (e: AuditEntry, nonceOf: string): IntakeAuditRow => ({ at: e.at, actor: e.actor, action: e.action, subject: e.subject, body: encodeEntryAround(e, 'nonce'), nonceOf });

/** The batch's keys and window reads from the requests and the policy; locks every counter scope first. */
async function loadFor(q: Queryable, subs: readonly Submission[], policy: Policy, now: number): Promise<IntakeContexts> {
  const p = policy.risk.params;
  const keys: IntakeKey[] = [];
  const reads: IntakeRead[] = [];
  const scopes: string[] = [];
  subs.forEach((s, item) => {
    const r = s.request;
    const address = normalizeAddress(r.chain, r.to);
    keys.push({ customerId: s.customerId, chain: r.chain, asset: r.asset, address, lookAlikeKey: lookAlikeKey(r.chain, address, p.lookAlikePrefix, p.lookAlikeSuffix), idempotencyKey: s.idempotencyKey });
    const probe = { customerId: s.customerId, asset: r.asset } as Withdrawal;
    for (const read of counterReads(probe, policy, now)) reads.push({ item, ...read });
    scopes.push(...counterLockScopes(probe));
  });
  // Locks before reads: the totals read below include every reservation committed before us.
  await lockCounterScopes(q, scopes);
  return loadIntakeContexts(q, keys, reads);
}

/**
 * What earlier withdrawals of the same batch changed, so a later one decides as if they had
 * committed: counter reservations, amount histories, destination records, nonces taken, balance held.
 */
class BatchState {
  private readonly writes: CounterWrite[] = [];
  private readonly hist = new Map<string, { customerId: string; asset: string; history: AmountHistory }>();
  private readonly dest = new Map<string, { customerId: string; chain: Withdrawal['chain']; record: DestinationRecord; lookAlikeKey: string }>();
  private readonly nonces = new Map<string, number>();
  private readonly holds = new Map<string, bigint>();
  constructor(readonly accounts: IntakeContexts['accounts']) {}

  totals(reads: Record<string, Totals>, scopeOf: (id: string) => { scope: string; bucketMs: number; from: number; to: number } | undefined): Record<string, Totals> {
    if (this.writes.length === 0) return reads;
    const out: Record<string, Totals> = {};
    for (const [id, t] of Object.entries(reads)) {
      const r = scopeOf(id);
      let { count, amount } = t;
      if (r) {
        for (const w of this.writes) {
          if (w.scope === r.scope && w.bucketMs === r.bucketMs && w.bucketStart >= r.from && w.bucketStart <= r.to) {
            count += w.count;
            amount += w.amount;
          }
        }
      }
      out[id] = { count, amount };
    }
    return out;
  }
  reserve(ws: readonly CounterWrite[]): void {
    this.writes.push(...ws);
  }
  history(customerId: string, asset: string, loaded: AmountHistory | null): AmountHistory {
    return this.hist.get(JSON.stringify([customerId, asset]))?.history ?? loaded ?? emptyHistory();
  }
  setHistory(customerId: string, asset: string, history: AmountHistory): void {
    this.hist.set(JSON.stringify([customerId, asset]), { customerId, asset, history });
  }
  destination(customerId: string, chain: Withdrawal['chain'], address: string, loaded: DestinationRecord | null): DestinationRecord | null {
    return this.dest.get(JSON.stringify([customerId, chain, address]))?.record ?? loaded;
  }
  /** Loaded look-alikes, updated by this batch's own records with the same key. */
  similar(customerId: string, chain: Withdrawal['chain'], key: string, address: string, loaded: readonly DestinationRecord[]): DestinationRecord[] {
    if (this.dest.size === 0) return [...loaded];
    const byAddress = new Map(loaded.map((d) => [d.address, d]));
    for (const d of this.dest.values()) {
      if (d.customerId === customerId && d.chain === chain && d.lookAlikeKey === key && d.record.address !== address) byAddress.set(d.record.address, d.record);
    }
    return [...byAddress.values()].sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0)).slice(0, 50);
  }
  setDestination(customerId: string, chain: Withdrawal['chain'], record: DestinationRecord, lookAlike: string): void {
    this.dest.set(JSON.stringify([customerId, chain, record.address]), { customerId, chain, record, lookAlikeKey: lookAlike });
  }
  /** What this batch's earlier withdrawals hold on the account. */
  heldOn(accountId: string): bigint {
    return this.holds.get(accountId) ?? 0n;
  }
  hold(accountId: string, amount: bigint): void {
    this.holds.set(accountId, this.heldOn(accountId) + amount);
  }
  /** Nonces this batch already promised from the account. */
  noncesTaken(accountId: string): number {
    return this.nonces.get(accountId) ?? 0;
  }
  takeNonce(accountId: string): void {
    this.nonces.set(accountId, this.noncesTaken(accountId) + 1);
  }
  /** Summed per row: one statement may not touch a counter row twice. */
  counterDeltas(): CounterWrite[] {
    const sum = new Map<string, CounterWrite>();
    for (const w of this.writes) {
      const k = JSON.stringify([w.scope, w.bucketMs, w.bucketStart]);
      const prev = sum.get(k);
      sum.set(k, prev ? { ...prev, count: (prev.count + w.count) as 1, amount: prev.amount + w.amount } : { ...w });
    }
    return [...sum.values()];
  }
  histories() {
    return [...this.hist.values()];
  }
  destinations() {
    return [...this.dest.values()];
  }
}

/** Stages 1–3 for one submission against its loaded context and what the batch changed before it. */
function decideOne(s: Submission, c: IntakeContexts['items'][number], active: ActivePolicy, now: number, batch: BatchState): Decided {
  const account = c.account
    ? { ...c.account, nextNonce: c.account.nextNonce + BigInt(batch.noncesTaken(c.account.id)), reserved: c.account.reserved + batch.heldOn(c.account.id) }
    : null;
  const feeAccount = c.feeAccount ? { ...c.feeAccount, reserved: c.feeAccount.reserved + batch.heldOn(c.feeAccount.id) } : null;
  const syntax = syntaxStage(s.request, { asset: c.asset, account, feeAccount });
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
    requestHash: requestHash(s.request),
    createdAt: now,
    updatedAt: now,
  };
  const d: Decided = { withdrawal: w, sanctioned: false, needsNonce: false, policyVersion: null, held: null };
  if (syntax.decision.outcome !== 'pass' || !account || syntax.amount === null || syntax.fee === null) return d;
  const policy = active.policy;
  d.policyVersion = active.version;
  const core: Withdrawal = { ...w, accountId: account.id, amount: syntax.amount, fee: syntax.fee, status: 'received' };
  const normalized = normalizeAddress(w.chain, w.to);
  if (normalized !== normalizeAddress(s.request.chain, s.request.to)) throw new Error('intake: address normalisation is not stable');
  const reads = new Map(counterReads(core, policy, now).map((r) => [r.id, r]));
  const totals = batch.totals(c.totals, (id) => reads.get(id));
  let destination = batch.destination(w.customerId, w.chain, normalized, c.destination);
  const book = c.addressBook.find((b) => normalizeAddress(w.chain, b.address) === normalized);
  if (book && (destination?.whitelistedAt ?? null) === null) {
    destination = { ...(destination ?? { address: normalized, firstUsedAt: null, lastUsedAt: null, useCount: 0 }), whitelistedAt: book.createdAt };
  }
  const p = policy.risk.params;
  const lk = lookAlikeKey(w.chain, normalized, p.lookAlikePrefix, p.lookAlikeSuffix);
  const history = batch.history(w.customerId, w.asset, c.history);
  const riskContext: RiskContext = {
    now,
    destination,
    similarDestinations: batch.similar(w.customerId, w.chain, lk, normalized, c.similar),
    history,
    lastHour: totals[RISK_1H] ?? { count: 0, amount: 0n },
    balance: account.balance,
    security: { credentialsChangedAt: c.credentialsChangedAt, whitelistChangedAt: c.whitelistChangedAt },
    sanctions: new LayeredSanctions(bundledSanctions(), c.importedSanctions.map((list) => ({ chain: w.chain, address: normalized, list }))),
  };
  const risk = evaluateRisk(core, riskContext, policy.risk);
  const price: PriceQuote | null =
    c.price && c.price.refCurrency === policy.referenceCurrency.code ? { asset: w.asset, refPerUnit: c.price.refPerUnit, at: c.price.observedAt ?? now } : null;
  const internal = batch.accounts.some((a) => a.chain === w.chain && normalizeAddress(a.chain, a.address) === normalized);
  const rules = evaluateRules(core, { now, destination, price, totals, riskScore: risk.score, internalDestination: internal }, policy);
  const outcome: FinalOutcome = combineOutcome(risk, rules);
  w.decisions = [syntax.decision, decisionJSON(risk), decisionJSON(rules)];
  w.status = OUTCOME_STATUS[outcome];
  d.sanctioned = risk.reasons.some((x) => x.code === 'sanctioned_destination');
  if (w.status !== 'rejected') {
    // Reserve the caps now (also for review and approval): released if it is rejected later.
    batch.reserve(counterWrites(core, now, rules.referenceValue));
    // Hold the amount (and a native coin's fee) on the account likewise: released if it is
    // rejected or fails, taken from the balance when it is confirmed (transitionWithdrawal).
    const { own, fee } = holdsOf(w.chain, w.asset, core.amount, core.fee);
    d.held = { own, fee, feeAccountId: fee > 0n && feeAccount ? feeAccount.id : null };
    batch.hold(account.id, own);
    if (d.held.feeAccountId) batch.hold(d.held.feeAccountId, fee);
  }
  if (w.status === 'approved') {
    // The history only moves forward in time: an approval stamped before the last recorded hour counts at that hour.
    const at = history.openHour && now < history.openHour.hour * 3_600_000 ? history.openHour.hour * 3_600_000 : now;
    batch.setHistory(w.customerId, w.asset, historyRecord(history, core.amount, at));
    batch.setDestination(w.customerId, w.chain, recordDestinationUse(batch.destination(w.customerId, w.chain, normalized, c.destination), w.chain, normalized, now), lk);
    if (isAccountBased(w.chain)) {
      d.needsNonce = true;
      batch.takeNonce(account.id);
    }
  }
  return d;
}

function sameRequestOr409(w: WithdrawalRecord, hash: Uint8Array): WithdrawalRecord {
  if (Buffer.compare(Buffer.from(w.requestHash), Buffer.from(hash)) !== 0) {
    throw new CustosError('idempotency_key_reused', 'this Idempotency-Key was already used with a different request body', 409, {
      withdrawalId: w.id,
    });
  }
  return w;
}
