/**
 * Past withdrawals as `simulate` (src/policy/simulate.ts) needs them: each decided withdrawal of a
 * time window with a risk and rules context rebuilt in time order from the stored rows, and the
 * outcome it had. Rebuilt, not recorded, so these are approximations to know about:
 *   - the amount history, last-hour totals and destination uses start at the window's start (a
 *     destination first used before the window counts as known); only withdrawals that were
 *     accepted (approved or later) feed them;
 *   - caps use counters replayed from the window (`replayCounters`), so a cap that was partly used
 *     just before the window looks emptier than it was;
 *   - prices are today's price table; credential changes are the stored creation and revocation
 *     times; the whitelist is today's address book.
 *
 * @example
 *   const past = await loadPastWithdrawals(db, now - 30 * DAY_MS, now);
 *   const r = simulate(draft, past, { replayCounters: true });
 */
import type { Decision } from '../core/decision.js';
import type { Withdrawal } from '../core/withdrawal.js';
import type { RulesDecision } from '../policy/rules.js';
import type { FinalOutcome, PastWithdrawal } from '../policy/simulate.js';
import { HOUR_MS } from '../policy/windows.js';
import { normalizeAddress } from '../risk/address.js';
import type { DestinationRecord } from '../risk/context.js';
import { recordDestinationUse } from '../risk/destination.js';
import { emptyHistory, historyRecord, type AmountHistory } from '../risk/history.js';
import { SanctionsIndex, type SanctionsEntry } from '../risk/sanctions.js';
import { listAccounts } from '../store/accounts.js';
import type { Queryable } from '../store/db.js';
import { getDestination } from '../store/histories.js';
import { getPrice } from '../store/policies.js';
import { getWithdrawal, type WithdrawalRecord } from '../store/withdrawals.js';
import { bundledSanctions } from './stages.js';

const ACCEPTED = new Set(['approved', 'signing', 'signed', 'broadcast', 'confirmed']);

/** The outcome a withdrawal had at intake, from its stored risk and rules decisions. */
export function recordedOutcome(decisions: readonly Decision[]): FinalOutcome | null {
  const risk = decisions.find((d) => d.stage === 'risk');
  const rules = decisions.find((d) => d.stage === 'rules') as (Decision & Partial<Pick<RulesDecision, 'approval'>>) | undefined;
  if (!risk || !rules) return null;
  if ([risk.outcome, rules.outcome].some((o) => o === 'block' || o === 'reject')) return 'block';
  if (risk.outcome === 'review' || rules.outcome === 'review') return 'review';
  if ((rules.approval?.quorum ?? 0) > 0 || rules.approval?.requiresHsm) return 'awaiting_approval';
  return 'approve';
}

class Layered extends SanctionsIndex {
  constructor(
    private readonly base: SanctionsIndex,
    extra: SanctionsEntry[],
  ) {
    super(extra);
  }
  override lookup(chain: Parameters<SanctionsIndex['lookup']>[0], address: string): readonly string[] {
    return [...new Set([...this.base.lookup(chain, address), ...super.lookup(chain, address)])];
  }
}

export async function loadPastWithdrawals(q: Queryable, from: number, to: number, limit = 100_000): Promise<PastWithdrawal[]> {
  const ids = await q.query<{ id: string }>(
    `SELECT id FROM withdrawals WHERE created_at >= $1 AND created_at <= $2 AND jsonb_path_exists(decisions, '$[*] ? (@.stage == "rules")')
     ORDER BY created_at, id LIMIT $3`,
    [new Date(from).toISOString(), new Date(to).toISOString(), limit],
  );
  const imported = await q.query<SanctionsEntry>('SELECT chain, address, list FROM sanctions_entries');
  const sanctions = new Layered(bundledSanctions(), imported);
  const accounts = await listAccounts(q);
  const creds = await q.query<{ customer_id: string; created_at: Date | string; revoked_at: Date | string | null }>('SELECT customer_id, created_at, revoked_at FROM credentials');
  const histories = new Map<string, AmountHistory>();
  const uses = new Map<string, { t: number; amount: bigint }[]>();
  const dests = new Map<string, DestinationRecord | null>();
  const prices = new Map<string, Awaited<ReturnType<typeof getPrice>>>();
  const out: PastWithdrawal[] = [];
  for (const { id } of ids) {
    const r = (await getWithdrawal(q, id)) as WithdrawalRecord;
    const recorded = recordedOutcome(r.decisions);
    if (!recorded || r.amount === null || r.fee === null || r.accountId === null) continue;
    const w: Withdrawal = { ...r, accountId: r.accountId, amount: r.amount, fee: r.fee, status: 'received' };
    const t = r.createdAt;
    const norm = normalizeAddress(w.chain, w.to);
    const dk = JSON.stringify([w.customerId, w.chain, norm]);
    if (!dests.has(dk)) {
      const now = await getDestination(q, w.customerId, w.chain, norm);
      dests.set(dk, now && now.firstUsedAt !== null && now.firstUsedAt < from ? now : now?.whitelistedAt != null ? { ...now, useCount: 0, firstUsedAt: null, lastUsedAt: null } : null);
    }
    const destination = dests.get(dk) ?? null;
    const hk = JSON.stringify([w.customerId, w.asset]);
    const history = histories.get(hk) ?? emptyHistory();
    const recent = (uses.get(hk) ?? []).filter((u) => u.t > t - HOUR_MS && u.t <= t);
    if (!prices.has(w.asset)) prices.set(w.asset, await getPrice(q, w.asset));
    const price = prices.get(w.asset);
    const changed = creds
      .filter((c) => c.customer_id === w.customerId)
      .flatMap((c) => [new Date(c.created_at).getTime(), c.revoked_at ? new Date(c.revoked_at).getTime() : null])
      .filter((x): x is number => x !== null && x <= t);
    const internal = accounts.some((a) => a.chain === w.chain && normalizeAddress(a.chain, a.address) === norm);
    out.push({
      withdrawal: w,
      recorded,
      risk: {
        now: t,
        destination,
        similarDestinations: [],
        history,
        lastHour: { count: recent.length, amount: recent.reduce((s, u) => s + u.amount, 0n) },
        balance: accounts.find((a) => a.id === w.accountId)?.balance ?? null,
        security: { credentialsChangedAt: changed.length ? Math.max(...changed) : null, whitelistChangedAt: null },
        sanctions,
      },
      rules: {
        now: t,
        destination,
        price: price ? { asset: w.asset, refPerUnit: price.refPerUnit, at: price.observedAt ?? t } : null,
        totals: {},
        internalDestination: internal,
      },
    });
    if (ACCEPTED.has(r.status)) {
      histories.set(hk, historyRecord(history, w.amount, Math.max(t, (history.openHour?.hour ?? 0) * HOUR_MS)));
      uses.set(hk, [...recent, { t, amount: w.amount }]);
      dests.set(dk, recordDestinationUse(destination, w.chain, norm, t));
    }
  }
  return out;
}
