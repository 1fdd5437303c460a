/**
 * The audit trail's first form on both backends: entries chained in commit order, append-only
 * triggers, the application role's INSERT/SELECT-only grant (PostgreSQL), and the verifier
 * catching a superuser who disables the triggers to rewrite or delete history.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db, Queryable } from '../store/db.js';
import { DATABASE_URL, TEST_DBS } from '../store/test-helpers/db.js';
import { GENESIS_HASH, appendAudit, chainHash, encodeEntry, sealPending, verifyChain, type AuditEntry } from './chain.js';

if (!DATABASE_URL) console.warn('chain.test.ts: DATABASE_URL unset, the PostgreSQL variant and the role test are skipped');

const ALWAYS: Record<string, string[]> = {
  audit_entries: ['audit_entries_append_only', 'audit_entries_no_truncate'],
  audit_chain: ['audit_chain_append_only', 'audit_chain_no_truncate'],
};

/** What a superuser can do: switch the table's triggers off, change rows, switch them back on. */
async function withTriggersOff(db: Db, table: string, fn: (q: Queryable) => Promise<unknown>): Promise<void> {
  await db.tx(async (q) => {
    await q.query(`ALTER TABLE ${table} DISABLE TRIGGER ALL`);
    await fn(q);
    await q.query(`ALTER TABLE ${table} ENABLE TRIGGER ALL`);
    for (const t of ALWAYS[table] ?? []) await q.query(`ALTER TABLE ${table} ENABLE ALWAYS TRIGGER ${t}`);
  });
}

const entry = (i: number): AuditEntry => ({
  at: 1_732_417_200_000 + i,
  actor: 'operator',
  action: 'test.event',
  subject: `test:${i}`,
  data: { i, amount: 10n ** 30n + BigInt(i) },
});

async function sealAll(db: Db): Promise<void> {
  while ((await sealPending(db)) > 0);
}

describe.each(TEST_DBS)('audit chain on $name', (backend) => {
  let db: Db & { schema?: string };

  beforeAll(async () => {
    db = await backend.open();
    // Ten entries in five transactions, two of them concurrent.
    for (let i = 0; i < 6; i += 2) {
      await db.tx(async (q) => {
        await appendAudit(q, entry(i));
        await appendAudit(q, entry(i + 1));
      });
    }
    await Promise.all([6, 8].map((i) => db.tx(async (q) => {
      await appendAudit(q, entry(i));
      await appendAudit(q, entry(i + 1));
    })));
  }, 120_000);
  afterAll(async () => {
    await db?.close();
  });

  it('entries are pending until sealed, then chained densely in commit order and verified', async () => {
    const before = await verifyChain(db);
    expect(before).toMatchObject({ ok: true, entries: 0, pending: 10, head: null });

    expect(await sealPending(db, 4)).toBe(4); // batches continue where the last one stopped
    await sealAll(db);
    const rows = await db.query<{ seq: string; entry_id: string; prev_hash: Uint8Array; hash: Uint8Array; body: string }>(
      `SELECT c.seq::text AS seq, c.entry_id::text AS entry_id, c.prev_hash, c.hash, e.body
       FROM audit_chain c JOIN audit_entries e ON e.id = c.entry_id ORDER BY c.seq`,
    );
    expect(rows.map((r) => Number(r.seq))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const entryIds = rows.map((r) => BigInt(r.entry_id));
    expect([...entryIds].sort((a, b) => (a < b ? -1 : 1))).toEqual(entryIds); // id order
    // Recompute the chain independently of verifyChain.
    let prev: Uint8Array = GENESIS_HASH;
    for (const r of rows) {
      expect(Buffer.from(r.prev_hash).equals(Buffer.from(prev))).toBe(true);
      const h = chainHash(BigInt(r.seq), prev, r.body);
      expect(Buffer.from(r.hash).equals(Buffer.from(h))).toBe(true);
      prev = h;
    }
    // Bodies are the canonical encoding, bigints as decimal strings.
    expect(rows[0]?.body).toBe(encodeEntry(entry(0)));
    expect(rows[0]?.body).toContain('"amount":"1000000000000000000000000000000"');
    const report = await verifyChain(db);
    expect(report).toEqual({ ok: true, entries: 10, pending: 0, head: Buffer.from(prev).toString('hex') });
  });

  it.each(['audit_entries', 'audit_chain'])('UPDATE, DELETE and TRUNCATE on %s are refused by the triggers', async (table) => {
    const column = table === 'audit_entries' ? 'body' : 'hash';
    const value = table === 'audit_entries' ? "'{}'" : "'\\x" + '00'.repeat(32) + "'::bytea";
    await expect(db.query(`UPDATE ${table} SET ${column} = ${value} WHERE true`)).rejects.toThrow(/append-only: UPDATE on .* refused/);
    await expect(db.query(`DELETE FROM ${table} WHERE true`)).rejects.toThrow(/append-only: DELETE on .* refused/);
    await expect(db.query(`TRUNCATE ${table} CASCADE`)).rejects.toThrow(/append-only: TRUNCATE on .* refused/);
    // Inside a transaction too (the whole transaction fails).
    await expect(db.tx((q) => q.query(`DELETE FROM ${table} WHERE true`))).rejects.toThrow(/append-only/);
    expect(await verifyChain(db)).toMatchObject({ ok: true, entries: 10 });
  });

  it('a superuser who disables the triggers and rewrites one body is caught at that seq', async () => {
    const [victim] = await db.query<{ seq: string; entry_id: string; body: string }>(
      'SELECT c.seq::text AS seq, c.entry_id::text AS entry_id, e.body FROM audit_chain c JOIN audit_entries e ON e.id = c.entry_id WHERE c.seq = 6',
    );
    expect(victim).toBeDefined();
    const forged = victim!.body.replace('"amount":"1000000000000000000000000000005"', '"amount":"1"');
    expect(forged).not.toBe(victim!.body);
    await withTriggersOff(db, 'audit_entries', (q) => q.query('UPDATE audit_entries SET body = $1 WHERE id = $2', [forged, victim!.entry_id]));
    const report = await verifyChain(db);
    expect(report).toMatchObject({ ok: false, entries: 5, brokenSeq: '6', entryId: victim!.entry_id, reason: 'entry content does not match its hash' });

    // Restoring the exact bytes restores the chain: the verifier checks content, nothing else.
    await withTriggersOff(db, 'audit_entries', (q) => q.query('UPDATE audit_entries SET body = $1 WHERE id = $2', [victim!.body, victim!.entry_id]));
    expect(await verifyChain(db)).toMatchObject({ ok: true, entries: 10 });
    // And the triggers are back on.
    await expect(db.query('UPDATE audit_entries SET body = body')).rejects.toThrow(/append-only/);
  });

  it('a rewritten chain hash, a deleted chain row and a deleted entry are caught', async () => {
    const rows = await db.query<{ seq: string; entry_id: string; prev_hash: Uint8Array; hash: Uint8Array }>(
      'SELECT c.seq::text AS seq, c.entry_id::text AS entry_id, c.prev_hash, c.hash FROM audit_chain c ORDER BY c.seq',
    );
    const row = (seq: number) => rows[seq - 1]!;
    const reinsert = (seq: number) => (q: Queryable) =>
      q.query('INSERT INTO audit_chain (seq, entry_id, prev_hash, hash) VALUES ($1, $2, $3, $4)', [
        row(seq).seq,
        row(seq).entry_id,
        Buffer.from(row(seq).prev_hash),
        Buffer.from(row(seq).hash),
      ]);

    // A stored hash flipped: seq 3's own hash no longer matches.
    const flipped = Buffer.from(row(3).hash);
    flipped[0] = (flipped[0] ?? 0) ^ 1;
    await withTriggersOff(db, 'audit_chain', (q) => q.query('UPDATE audit_chain SET hash = $1 WHERE seq = 3', [flipped]));
    expect(await verifyChain(db)).toMatchObject({ ok: false, brokenSeq: '3', reason: 'entry content does not match its hash' });
    await withTriggersOff(db, 'audit_chain', (q) => q.query('UPDATE audit_chain SET hash = $1 WHERE seq = 3', [Buffer.from(row(3).hash)]));
    expect(await verifyChain(db)).toMatchObject({ ok: true, entries: 10 });

    // A chain row in the middle deleted: the gap is named.
    await withTriggersOff(db, 'audit_chain', (q) => q.query('DELETE FROM audit_chain WHERE seq = 4'));
    expect(await verifyChain(db)).toMatchObject({ ok: false, entries: 3, brokenSeq: '5', reason: 'sequence gap: expected 4, found 5' });
    await withTriggersOff(db, 'audit_chain', reinsert(4));
    expect(await verifyChain(db)).toMatchObject({ ok: true, entries: 10 });

    // The last chain row deleted: no gap, but its entry is neither chained nor pending.
    await withTriggersOff(db, 'audit_chain', (q) => q.query('DELETE FROM audit_chain WHERE seq = 10'));
    expect(await verifyChain(db)).toMatchObject({ ok: false, entries: 9, brokenSeq: '10', entryId: null, reason: '1 entries are neither chained nor pending' });
    await withTriggersOff(db, 'audit_chain', reinsert(10));
    expect(await verifyChain(db)).toMatchObject({ ok: true, entries: 10 });

    // An entry deleted under its chain row (foreign-key triggers are off too).
    const [e7] = await db.query<Record<string, unknown>>('SELECT id::text AS id, at, actor, action, subject, body FROM audit_entries WHERE id = $1', [row(7).entry_id]);
    await withTriggersOff(db, 'audit_entries', (q) => q.query('DELETE FROM audit_entries WHERE id = $1', [row(7).entry_id]));
    expect(await verifyChain(db)).toMatchObject({ ok: false, entries: 6, brokenSeq: '7', entryId: null, reason: 'entry missing' });
    await withTriggersOff(db, 'audit_entries', (q) =>
      q.query('INSERT INTO audit_entries (id, at, actor, action, subject, body) OVERRIDING SYSTEM VALUE VALUES ($1, $2, $3, $4, $5, $6)', [
        e7!.id,
        e7!.at,
        e7!.actor,
        e7!.action,
        e7!.subject,
        e7!.body,
      ]),
    );
    expect(await verifyChain(db)).toMatchObject({ ok: true, entries: 10 });
  });

  it('entries appended after sealing extend the chain from its head', async () => {
    const head = await verifyChain(db);
    await db.tx((q) => appendAudit(q, entry(100)));
    expect(await verifyChain(db)).toMatchObject({ ok: true, entries: 10, pending: 1 });
    await sealAll(db);
    const [r] = await db.query<{ prev_hash: Uint8Array }>('SELECT prev_hash FROM audit_chain WHERE seq = 11');
    expect(head.ok && Buffer.from(r!.prev_hash).toString('hex')).toBe(head.ok && head.head);
    expect(await verifyChain(db)).toMatchObject({ ok: true, entries: 11, pending: 0 });
  });

  // Paging is backend-independent code; 10,000 rows take several seconds on PGlite, so PostgreSQL only.
  it.skipIf(backend.name === 'pglite')('verifyChain pages through more than 10,000 entries and names a break beyond the first page (PostgreSQL only: slow on PGlite)', async () => {
    await db.query(
      `INSERT INTO audit_entries (at, actor, action, subject, body)
       SELECT now(), 'system', 'bulk', 'bulk:' || g, '{"g":' || g || '}' FROM generate_series(1, 10050) g`,
    );
    await db.query("INSERT INTO audit_pending (entry_id) SELECT id FROM audit_entries WHERE action = 'bulk'");
    await sealAll(db);
    const total = 11 + 10_050;
    const progress: number[] = [];
    expect(await verifyChain(db, (n) => progress.push(n))).toMatchObject({ ok: true, entries: total, pending: 0 });
    expect(progress).toEqual([10_000, total]);

    const seq = 10_040;
    const [victim] = await db.query<{ id: string; body: string }>(
      'SELECT e.id::text AS id, e.body FROM audit_chain c JOIN audit_entries e ON e.id = c.entry_id WHERE c.seq = $1',
      [seq],
    );
    await withTriggersOff(db, 'audit_entries', (q) => q.query('UPDATE audit_entries SET body = $1 WHERE id = $2', ['{"g":0}', victim!.id]));
    expect(await verifyChain(db)).toMatchObject({ ok: false, entries: seq - 1, brokenSeq: String(seq), entryId: victim!.id });
    await withTriggersOff(db, 'audit_entries', (q) => q.query('UPDATE audit_entries SET body = $1 WHERE id = $2', [victim!.body, victim!.id]));
    expect(await verifyChain(db)).toMatchObject({ ok: true, entries: total });
  }, 60_000);
});

describe.skipIf(!DATABASE_URL)('audit tables under an INSERT/SELECT-only role (PostgreSQL; skipped without DATABASE_URL)', () => {
  let db: Db & { schema?: string };
  let role: string;
  let client: pg.Client;

  beforeAll(async () => {
    const postgres = TEST_DBS.find((t) => t.name === 'postgres')!;
    db = await postgres.open();
    await db.tx((q) => appendAudit(q, entry(0)));
    await sealAll(db);
    role = `custos_app_${randomBytes(5).toString('hex')}`;
    const schema = db.schema!;
    await db.exec(`CREATE ROLE ${role} NOLOGIN;
      GRANT USAGE ON SCHEMA ${schema} TO ${role};
      GRANT INSERT, SELECT ON ${schema}.audit_entries, ${schema}.audit_chain, ${schema}.audit_pending TO ${role};`);
    client = new pg.Client({ connectionString: DATABASE_URL, options: `-c search_path=${schema}` });
    await client.connect();
    await client.query(`SET ROLE ${role}`);
  }, 60_000);
  afterAll(async () => {
    await client?.end();
    if (db && role) {
      await db.exec(`DROP OWNED BY ${role}`);
      await db.exec(`DROP ROLE ${role}`);
    }
    await db?.close();
  });

  it('may INSERT and SELECT, gets permission denied for UPDATE, DELETE and TRUNCATE', async () => {
    const q: Queryable = { query: async (sql, params) => (await client.query(sql, params)).rows };
    await appendAudit(q, entry(1));
    const { rows } = await client.query<{ n: string }>('SELECT count(*)::text AS n FROM audit_entries');
    expect(rows[0]?.n).toBe('2');
    for (const table of ['audit_entries', 'audit_chain']) {
      const col = table === 'audit_entries' ? 'body' : 'hash';
      // The privilege check comes before any trigger: this is the grant refusing, not the trigger.
      await expect(client.query(`UPDATE ${table} SET ${col} = ${col}`)).rejects.toThrow(`permission denied for table ${table}`);
      await expect(client.query(`DELETE FROM ${table}`)).rejects.toThrow(`permission denied for table ${table}`);
      await expect(client.query(`TRUNCATE ${table}`)).rejects.toThrow(`permission denied for table ${table}`);
      await expect(client.query(`ALTER TABLE ${table} DISABLE TRIGGER ALL`)).rejects.toThrow(`must be owner of table ${table}`);
    }
    expect(await verifyChain(q)).toMatchObject({ ok: true, entries: 1, pending: 1 });
  });
});
