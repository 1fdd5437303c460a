import { describe, expect, it } from 'vitest';
import { Batcher, type BatchResult } from './batcher.js';

describe('Batcher', () => {
  it('gathers concurrent submissions into batches no larger than maxBatch and answers each in order', async () => {
    const sizes: number[] = [];
    const b = new Batcher<number, number>(
      async (xs) => {
        sizes.push(xs.length);
        await new Promise((r) => setTimeout(r, 5));
        return xs.map((x) => ({ ok: true, value: x * 2 }));
      },
      { maxBatch: 10, maxInFlight: 1 },
    );
    const out = await Promise.all(Array.from({ length: 35 }, (_, i) => b.submit(i)));
    expect(out).toEqual(Array.from({ length: 35 }, (_, i) => i * 2));
    expect(sizes.reduce((a, n) => a + n, 0)).toBe(35);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(10);
    expect(sizes.length).toBeLessThan(35); // batched, not one by one
    expect(b.waiting).toBe(0);
  });

  it('fails only the item whose result is an error; a thrown batch fails every item of that batch', async () => {
    const b = new Batcher<number, number>(async (xs) => xs.map((x): BatchResult<number> => (x === 3 ? { ok: false, error: new Error('three') } : { ok: true, value: x })));
    const rs = await Promise.allSettled([1, 2, 3, 4].map((x) => b.submit(x)));
    expect(rs.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    const t = new Batcher<number, number>(async () => {
      throw new Error('database down');
    });
    await expect(t.submit(1)).rejects.toThrow('database down');
    // and it keeps working afterwards
    const ok = new Batcher<number, number>(async (xs) => xs.map((x) => ({ ok: true, value: x })));
    expect(await ok.submit(7)).toBe(7);
  });

  it('never runs more than maxInFlight batches at once', async () => {
    let running = 0;
    let peak = 0;
    const b = new Batcher<number, number>(
      async (xs) => {
        running += 1;
        peak = Math.max(peak, running);
        await new Promise((r) => setTimeout(r, 3));
        running -= 1;
        return xs.map((x) => ({ ok: true, value: x }));
      },
      { maxBatch: 1, maxInFlight: 3 },
    );
    await Promise.all(Array.from({ length: 20 }, (_, i) => b.submit(i)));
    expect(peak).toBe(3);
  });

  it('refuses nonsensical limits', () => {
    expect(() => new Batcher(async () => [], { maxBatch: 0 })).toThrow(RangeError);
  });
});
