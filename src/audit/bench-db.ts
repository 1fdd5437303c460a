/**
 * `custos bench audit`: the database-backed log. Writers append entries (appendAudit, the same
 * statement the pipeline runs inside its transactions) while the sequencer chains them and keeps
 * the tree current; appends/s counts from the first insert until the tree head covers every
 * entry. Inclusion proofs are then timed against the stored nodes. Runs in a throwaway schema
 * (PostgreSQL, DATABASE_URL) or an in-memory PGlite, never in the configured log.
 *
 * @example
 *   const { db, drop } = await openBenchDb(process.env.DATABASE_URL);
 *   const r = await benchAuditDb(db, { entries: 50_000 });
 *   await drop();
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openDb, type Db } from '../store/db.js';
import { migrate } from '../store/migrate.js';
import { appendAudits, openAuditTree, readTreeState, sealPending, type AuditEntry } from './chain.js';

export interface BenchAuditDbOptions {
  entries?: number;
  /** Concurrent writer transactions. Default 16 on PostgreSQL, 1 on PGlite (one session). */
  writers?: number;
  /** Entries per writer transaction (one multi-row INSERT, appendAudits). Default 100. */
  perTx?: number;
  proofs?: number;
  now?: () => number;
}

export interface BenchAuditDbResult {
  store: 'postgres' | 'pglite';
  entries: number;
  writers: number;
  entries_per_tx: number;
  appends_per_s: number;
  append_s: number;
  sequencer_batches: number;
  /** Chaining plus tree appends alone, over a backlog of entries/2 committed entries. */
  sequencer_entries_per_s: number;
  db_inclusion_proof_p50_ms: number;
  db_inclusion_proof_p99_ms: number;
}

/** A migrated database nobody else uses, and how to remove it. */
export async function openBenchDb(databaseUrl?: string): Promise<{ db: Db; drop(): Promise<void> }> {
  if (!databaseUrl) {
    const db = await openDb({ inMemory: true });
    await migrate(db);
    return { db, drop: () => db.close() };
  }
  const schema = `custos_bench_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: databaseUrl });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  await admin.end();
  const db = await openDb({ databaseUrl, schema, poolSize: 20 });
  await migrate(db);
  return {
    db,
    async drop() {
      await db.close();
      const c = new pg.Client({ connectionString: databaseUrl });
      await c.connect();
      await c.query(`DROP SCHEMA ${schema} CASCADE`);
      await c.end();
    },
  };
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
const r3 = (x: number) => Math.round(x * 1000) / 1000;

export async function benchAuditDb(db: Db, opts: BenchAuditDbOptions = {}): Promise<BenchAuditDbResult> {
  const now = opts.now ?? (() => performance.now());
  const entries = opts.entries ?? 50_000;
  const writers = opts.writers ?? (db.kind === 'postgres' ? 16 : 1);
  const perTx = opts.perTx ?? 100;
  const base = Date.UTC(2026, 0, 1);
  let next = 0;
  const start = now();
  let writing = true;
  const writer = async () => {
    for (;;) {
      const from = next;
      if (from >= entries) return;
      next = Math.min(entries, from + perTx);
      const batch: AuditEntry[] = [];
      for (let i = from; i < Math.min(entries, from + perTx); i++) {
        batch.push({
          at: base + i,
          actor: `credential:cred_${i % 97}`,
          action: 'withdrawal.received',
          subject: `withdrawal:wd_${i}`,
          data: { amount: BigInt(i) * 10n ** 12n, asset: 'ETH', chain: 'ethereum', status: 'received' },
        });
      }
      await db.tx((q) => appendAudits(q, batch));
    }
  };
  let batches = 0;
  const sequencer = async () => {
    for (;;) {
      const n = await sealPending(db, 5000);
      if (n > 0) batches++;
      else if (!writing && (await readTreeState(db)).size >= entries) return;
      else await new Promise((r) => setTimeout(r, 5));
    }
  };
  const seq = sequencer();
  await Promise.all(Array.from({ length: writers }, writer));
  writing = false;
  await seq;
  const appendS = (now() - start) / 1000;

  // The sequencer alone: entries committed while it was stopped, then chained and put in the tree.
  const backlog = Math.max(perTx, Math.floor(entries / 2));
  for (let from = entries; from < entries + backlog; from += 1000) {
    const batch: AuditEntry[] = [];
    for (let i = from; i < Math.min(entries + backlog, from + 1000); i++) {
      batch.push({ at: base + i, actor: 'system', action: 'bench.backlog', subject: `bench:${i}`, data: { i } });
    }
    await db.tx((q) => appendAudits(q, batch));
  }
  const s0 = now();
  while ((await sealPending(db, 5000)) > 0);
  const sealS = (now() - s0) / 1000;

  const tree = await openAuditTree(db);
  const times: number[] = [];
  const proofs = opts.proofs ?? 2000;
  let x = 12345;
  // The first proofs fill the upper-level cache a running gateway already has: untimed warm-up.
  for (let k = 0; k < 200 + proofs; k++) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    const t0 = now();
    await tree.inclusionProof(x % tree.size, tree.size);
    if (k >= 200) times.push(now() - t0);
  }
  times.sort((a, b) => a - b);
  return {
    store: db.kind,
    entries,
    writers,
    entries_per_tx: perTx,
    appends_per_s: Math.round(entries / appendS),
    append_s: r3(appendS),
    sequencer_batches: batches,
    sequencer_entries_per_s: Math.round(backlog / sealS),
    db_inclusion_proof_p50_ms: r3(pct(times, 50)),
    db_inclusion_proof_p99_ms: r3(pct(times, 99)),
  };
}
