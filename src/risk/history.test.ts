import { describe, expect, it } from 'vitest';
import { histogramQuantile } from './histogram.js';
import { DAY_MS, emptyHistory, EPOCH_MS, historyFromJSON, historyRecord, historyToJSON, historyView, HOUR_MS, PAST_EPOCHS } from './history.js';

const T0 = Date.UTC(2026, 0, 1);

describe('history summary', () => {
  it('counts withdrawals and folds finished hours into the hourly histograms', () => {
    let h = emptyHistory();
    h = historyRecord(h, 10n, T0);
    h = historyRecord(h, 20n, T0 + 60_000);
    h = historyRecord(h, 30n, T0 + HOUR_MS); // next hour: the first hour (2 withdrawals, 30) is folded
    expect(h.openHour).toEqual({ hour: (T0 + HOUR_MS) / HOUR_MS, count: 1, amount: 30n });
    const v = historyView(h, T0 + 2 * HOUR_MS); // the open hour is over too
    expect(v.count).toBe(3);
    expect(v.hourCounts.total).toBe(2);
    expect(v.hourAmounts.total).toBe(2);
  });

  it('keeps at most the current and 9 past epochs, and the view covers 90 to 100 days', () => {
    let h = emptyHistory();
    for (let d = 0; d < 300; d += 1) h = historyRecord(h, 5n, T0 + d * DAY_MS);
    expect(h.epochs.length).toBeLessThanOrEqual(PAST_EPOCHS + 1);
    const now = T0 + 299 * DAY_MS;
    const count = historyView(h, now).count;
    expect(count).toBeGreaterThanOrEqual(90);
    expect(count).toBeLessThanOrEqual(100);
    // a year later nothing is left in the window
    expect(historyView(h, now + 365 * DAY_MS).count).toBe(0);
    expect(EPOCH_MS).toBe(10 * DAY_MS);
  });

  it('refuses out-of-order and negative records', () => {
    const h = historyRecord(emptyHistory(), 1n, T0 + 5 * HOUR_MS);
    expect(() => historyRecord(h, 1n, T0)).toThrow(expect.objectContaining({ code: 'history_out_of_order' }));
    expect(() => historyRecord(h, -1n, T0 + 6 * HOUR_MS)).toThrow(expect.objectContaining({ code: 'amount_negative' }));
  });

  it('round-trips through JSON and rejects tampered rows', () => {
    let h = emptyHistory();
    for (let i = 0; i < 20; i++) h = historyRecord(h, 10n ** 20n + BigInt(i), T0 + i * HOUR_MS);
    const json = JSON.parse(JSON.stringify(historyToJSON(h)));
    expect(historyFromJSON(json)).toEqual(h);
    const badTotal = structuredClone(json);
    badTotal.epochs[0].amounts.total += 1;
    expect(() => historyFromJSON(badTotal)).toThrow(expect.objectContaining({ code: 'history_invalid' }));
    const badAmount = structuredClone(json);
    badAmount.openHour.amount = '1.5';
    expect(() => historyFromJSON(badAmount)).toThrow(expect.objectContaining({ code: 'history_invalid' }));
    expect(() => historyFromJSON({ epochs: new Array(50).fill(json.epochs[0]), openHour: null })).toThrow();
    expect(() => historyFromJSON('nope')).toThrow();
    const twoEpochs = historyToJSON(historyRecord(historyRecord(emptyHistory(), 1n, T0), 1n, T0 + EPOCH_MS));
    expect(historyFromJSON(JSON.parse(JSON.stringify(twoEpochs))).epochs).toHaveLength(2);
    const reordered = { ...twoEpochs, epochs: [...twoEpochs.epochs].reverse() };
    expect(() => historyFromJSON(reordered)).toThrow(expect.objectContaining({ code: 'history_invalid' }));
  });

  it('p99 and median read from the incremental summary match a brute force over the window (seeded)', () => {
    let seed = 0x2545f491;
    const rand = () => {
      seed ^= seed << 13;
      seed >>>= 0;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      seed >>>= 0;
      return seed;
    };
    for (let trial = 0; trial < 20; trial++) {
      let h = emptyHistory();
      const all: { t: number; a: bigint }[] = [];
      let t = T0;
      const n = 50 + (rand() % 300);
      for (let i = 0; i < n; i++) {
        t += rand() % (2 * DAY_MS);
        const a = BigInt(rand()) * BigInt(1 + (rand() % 1000)) * 10n ** BigInt(rand() % 12);
        all.push({ t, a });
        h = historyRecord(h, a, t);
      }
      const now = t + (rand() % DAY_MS);
      // the window is whole epochs: from the start of the epoch PAST_EPOCHS before now's
      const start = (Math.floor(now / EPOCH_MS) - PAST_EPOCHS) * EPOCH_MS;
      const inWindow = all.filter((x) => x.t >= start).map((x) => x.a).sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
      const view = historyView(h, now);
      expect(view.count).toBe(inWindow.length);
      if (inWindow.length === 0) continue;
      for (const p of [50, 99]) {
        const truth = inWindow[Math.ceil((p * inWindow.length) / 100) - 1]!;
        const b = histogramQuantile(view.amounts, p)!;
        expect(b.lower <= truth && truth < b.upper, `trial ${trial} p${p}`).toBe(true);
      }
    }
  });
});
