/**
 * A customer's withdrawal history in one asset, kept as an incremental summary that the store
 * updates once per approved withdrawal (O(1): one bucket increment, at most one epoch roll) and
 * never recomputes from past rows. The window is a ring of 10-day epochs: the current epoch and the
 * 9 before it, so reads cover the last 90 to 100 days. Each epoch holds three histograms:
 *   - amounts: every approved withdrawal's amount (base units);
 *   - hourCounts / hourAmounts: for every clock hour (UTC) in which the customer withdrew, how many
 *     withdrawals and how much, folded in when the hour is over. This is the customer's "normal"
 *     against which the velocity of the last hour is judged.
 * All amounts are bigint; the only numbers are counts.
 *
 * Store: one row per (customer, asset), column `history jsonb` = historyToJSON(h); in the same
 * transaction that approves a withdrawal: h = historyRecord(historyFromJSON(row), amount, now).
 *
 * @example
 *   let h = emptyHistory();
 *   h = historyRecord(h, 5_000n, clock.now());
 *   const view = historyView(h, clock.now()); // { amounts, hourCounts, hourAmounts, count }
 */
import { CustosError } from '../core/errors.js';
import { emptyHistogram, histogramAdd, histogramMerge, type Histogram } from './histogram.js';

export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;
export const EPOCH_MS = 10 * DAY_MS;
/** Epochs kept besides the current one: 9 × 10 days = the last 90 days (plus the current epoch). */
export const PAST_EPOCHS = 9;

export interface HistoryEpoch {
  epoch: number; // floor(time / EPOCH_MS)
  amounts: Histogram;
  hourCounts: Histogram;
  hourAmounts: Histogram;
}

export interface AmountHistory {
  epochs: HistoryEpoch[]; // ascending by epoch, at most PAST_EPOCHS + 1
  /** The clock hour (floor(time / HOUR_MS)) still being counted, not yet folded into the hour histograms. */
  openHour: { hour: number; count: number; amount: bigint } | null;
}

/** What the risk signals read: the window's merged histograms. */
export interface HistoryView {
  amounts: Histogram;
  hourCounts: Histogram;
  hourAmounts: Histogram;
  count: number; // withdrawals in the window
}

export function emptyHistory(): AmountHistory {
  return { epochs: [], openHour: null };
}

const epochOf = (t: number): number => Math.floor(t / EPOCH_MS);
const hourOf = (t: number): number => Math.floor(t / HOUR_MS);

function withEpoch(epochs: HistoryEpoch[], epoch: number, f: (e: HistoryEpoch) => HistoryEpoch): HistoryEpoch[] {
  const i = epochs.findIndex((e) => e.epoch === epoch);
  if (i >= 0) return epochs.map((e, j) => (j === i ? f(e) : e));
  const fresh = f({ epoch, amounts: emptyHistogram(), hourCounts: emptyHistogram(), hourAmounts: emptyHistogram() });
  return [...epochs, fresh].sort((a, b) => a.epoch - b.epoch);
}

function foldHour(epochs: HistoryEpoch[], open: NonNullable<AmountHistory['openHour']>): HistoryEpoch[] {
  return withEpoch(epochs, epochOf(open.hour * HOUR_MS), (e) => ({
    ...e,
    hourCounts: histogramAdd(e.hourCounts, BigInt(open.count)),
    hourAmounts: histogramAdd(e.hourAmounts, open.amount),
  }));
}

function prune(epochs: HistoryEpoch[], now: number): HistoryEpoch[] {
  const oldest = epochOf(now) - PAST_EPOCHS;
  return epochs.filter((e) => e.epoch >= oldest);
}

/** The summary after one more approved withdrawal of `amount` at time `at` (not earlier than the last one). */
export function historyRecord(h: AmountHistory, amount: bigint, at: number): AmountHistory {
  if (amount < 0n) throw new CustosError('amount_negative', 'a withdrawal amount cannot be negative', 500);
  if (!Number.isSafeInteger(at) || at < 0) throw new CustosError('history_invalid', 'time must be a non-negative integer of milliseconds', 500);
  const hour = hourOf(at);
  let epochs = h.epochs;
  let open = h.openHour;
  if (open && hour < open.hour) {
    throw new CustosError('history_out_of_order', 'a withdrawal cannot be recorded before the last recorded hour', 500);
  }
  if (open && open.hour !== hour) {
    epochs = foldHour(epochs, open);
    open = null;
  }
  epochs = withEpoch(epochs, epochOf(at), (e) => ({ ...e, amounts: histogramAdd(e.amounts, amount) }));
  return {
    epochs: prune(epochs, at),
    openHour: { hour, count: (open?.count ?? 0) + 1, amount: (open?.amount ?? 0n) + amount },
  };
}

/** The window as of `now`: epochs older than 90 days are ignored even if not yet pruned; a finished open hour counts. */
export function historyView(h: AmountHistory, now: number): HistoryView {
  let epochs = h.epochs;
  if (h.openHour && h.openHour.hour < hourOf(now)) epochs = foldHour(epochs, h.openHour);
  epochs = prune(epochs, now).filter((e) => e.epoch <= epochOf(now));
  const amounts = histogramMerge(epochs.map((e) => e.amounts));
  return {
    amounts,
    hourCounts: histogramMerge(epochs.map((e) => e.hourCounts)),
    hourAmounts: histogramMerge(epochs.map((e) => e.hourAmounts)),
    count: amounts.total,
  };
}

// ---- JSON form for the store (bigint as decimal strings), validated on the way in ----

export interface AmountHistoryJSON {
  epochs: { epoch: number; amounts: Histogram; hourCounts: Histogram; hourAmounts: Histogram }[];
  openHour: { hour: number; count: number; amount: string } | null;
}

export function historyToJSON(h: AmountHistory): AmountHistoryJSON {
  return {
    epochs: h.epochs,
    openHour: h.openHour && { hour: h.openHour.hour, count: h.openHour.count, amount: h.openHour.amount.toString() },
  };
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

function checkHistogram(v: unknown): Histogram {
  const bad = (): never => {
    throw new CustosError('history_invalid', 'stored history has a malformed histogram', 500);
  };
  if (typeof v !== 'object' || v === null) return bad();
  const { counts, total } = v as Record<string, unknown>;
  if (!isCount(total) || typeof counts !== 'object' || counts === null || Array.isArray(counts)) return bad();
  let sum = 0;
  const out: Record<string, number> = {};
  for (const [k, c] of Object.entries(counts)) {
    if (!/^(0|[1-9][0-9]{0,4})$/.test(k) || !isCount(c) || c === 0) return bad();
    out[k] = c;
    sum += c;
  }
  if (sum !== total) return bad();
  return { counts: out, total };
}

export function historyFromJSON(json: unknown): AmountHistory {
  const bad = (): never => {
    throw new CustosError('history_invalid', 'stored history is malformed', 500);
  };
  if (typeof json !== 'object' || json === null) return bad();
  const { epochs, openHour } = json as Record<string, unknown>;
  if (!Array.isArray(epochs) || epochs.length > PAST_EPOCHS + 1) return bad();
  const parsed: HistoryEpoch[] = epochs.map((e: unknown) => {
    if (typeof e !== 'object' || e === null) return bad();
    const r = e as Record<string, unknown>;
    if (!isCount(r.epoch)) return bad();
    return { epoch: r.epoch, amounts: checkHistogram(r.amounts), hourCounts: checkHistogram(r.hourCounts), hourAmounts: checkHistogram(r.hourAmounts) };
  });
  if (parsed.some((e, i) => i > 0 && e.epoch <= parsed[i - 1]!.epoch)) return bad();
  let open: AmountHistory['openHour'] = null;
  if (openHour !== null) {
    if (typeof openHour !== 'object' || openHour === undefined) return bad();
    const o = openHour as Record<string, unknown>;
    if (!isCount(o.hour) || !isCount(o.count) || typeof o.amount !== 'string' || !/^(0|[1-9][0-9]{0,99})$/.test(o.amount)) return bad();
    open = { hour: o.hour, count: o.count, amount: BigInt(o.amount) };
  }
  return { epochs: parsed, openHour: open };
}
