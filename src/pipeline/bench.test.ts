import { describe, expect, it } from 'vitest';
import { openDb } from '../store/db.js';
import { migrate } from '../store/migrate.js';
import { benchPipeline } from './bench.js';

describe('benchPipeline (tiny run)', () => {
  it('seeds summaries, decides, and reports rates and latencies with every stage run', async () => {
    const db = await openDb({ inMemory: true });
    try {
      await migrate(db);
      const r = await benchPipeline(db, { customers: 5, pastPerCustomer: 20, decisions: 10, concurrency: 2 });
      expect(r).toMatchObject({ bench: 'pipeline', store: 'pglite', customers: 5, past_withdrawals: 100, decisions: 10 });
      expect(r.decisions_per_s).toBeGreaterThan(0);
      expect(r.p99_ms).toBeGreaterThanOrEqual(r.p50_ms);
      expect(Object.values(r.outcomes).reduce((a, b) => a + b, 0)).toBe(10);
      const [row] = await db.query<{ n: string }>("SELECT count(*)::text AS n FROM withdrawals WHERE jsonb_array_length(decisions) = 3");
      expect(row?.n).toBe('10');
    } finally {
      await db.close();
    }
  }, 60_000);
});
