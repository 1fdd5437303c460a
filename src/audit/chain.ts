/**
 * The audit trail's first form: an append-only table of entries, each written in the same
 * transaction as the change it records, and a hash chain over them in commit order.
 *
 * Entries are inserted with `appendAudit` inside the caller's transaction (so a state change
 * without its entry cannot commit). The sequencer (`sealPending`) then assigns each committed
 * entry a dense sequence number and chains it: hash(seq) = SHA-256("custos-audit-chain-v1" ||
 * seq as 8 bytes big-endian || hash(seq-1) || SHA-256(body)), with 32 zero bytes before seq 1.
 * Chaining off the request path keeps the chain head from serialising every commit.
 *
 * The same sequencer transaction appends each chained entry to the RFC 6962 Merkle tree
 * (leaf seq - 1 = SHA-256(0x00 || UTF-8 body), nodes in `audit_tree_nodes`, head in
 * `audit_tree_state`), so the tree is never behind a committed chain row; signed checkpoints of
 * that tree (checkpointer.ts) let anyone detect a rewrite, even one by a database superuser.
 * Bodies are canonical JSON (RFC 8785 style, canonical.ts) of {time, actor, action, subject,
 * data}; the leaf is reproducible from an export.
 *
 * @example
 *   await db.tx(async (q) => { await insertWithdrawal(q, w); await appendAudit(q, entry); });
 *   await sealPending(db);            // normally run by the server every 100 ms
 *   const report = await verifyChain(db); // { ok: true, entries: 42 } or the first broken entry
 */
import { createHash, randomUUID } from 'node:crypto';
import { CustosError } from '../core/errors.js';
import type { Db, Queryable } from '../store/db.js';
import { canonicalJson, canonicalJsonOfJson, jsonRoundTrip } from './canonical.js';
import { hmacField, hmacFields, type HmacFieldsOptions } from './redact.js';
import { hashLeaf } from './merkle.js';
import { SqlTreeNodeStore, UpperNodeCache } from './sql-tree-store.js';
import { MerkleTree } from './tree.js';

export interface AuditEntry {
  at: number; // ms since epoch
  actor: string; // credential id, operator, or 'system'
  action: string; // e.g. 'withdrawal.received', 'credential.created'
  subject: string; // e.g. 'withdrawal:…', 'credential:…'
  data: Record<string, unknown>;
}

const CHAIN_TAG = Buffer.from('custos-audit-chain-v1');
export const GENESIS_HASH = new Uint8Array(32);

/**
 * Canonical JSON text of an entry: {time, actor, action, subject, data}, members sorted, bigints
 * as decimal strings. Values go through JSON first (undefined members dropped, Dates as ISO
 * strings, as JSON.stringify does), so any entry that was loggable stays loggable.
 */
export function encodeEntry(e: AuditEntry): string {
  const entry = { time: new Date(e.at).toISOString(), actor: e.actor, action: e.action, subject: e.subject, data: e.data };
  return redaction ? canonicalJson(hmacFields(jsonRoundTrip(entry), redaction)) : canonicalJsonOfJson(entry);
}

/** An entry's canonical text with one decimal member of `data` still open (encodeEntryAround). */
export interface OpenEntry {
  before: string;
  after: string;
}

/**
 * The canonical text of `e` with `data[member]` left open: for any non-negative integer n,
 * `before + '"' + n + '"' + after` (closeEntry) is exactly encodeEntry of `e` with
 * `data[member] = n` as a bigint. Lets the database fill in the one value only it knows when it
 * writes the entry (the intake's nonce, handed out under the account row's lock by the same
 * statement) while every other byte is encoded here, off that lock. The hole is a random marker,
 * found exactly once or refused, so no string inside the entry can imitate it.
 */
export function encodeEntryAround(e: AuditEntry, member: string): OpenEntry {
  const hole = `\u0000custos-open:${randomUUID()}`;
  const parts = encodeEntry({ ...e, data: { ...e.data, [member]: hole } }).split(JSON.stringify(hole));
  if (parts.length !== 2) throw new Error(`audit entry member data.${member} cannot be left open`);
  return { before: parts[0] as string, after: parts[1] as string };
}

/** The text encodeEntryAround promised, with `value` in the open member. */
export function closeEntry(open: OpenEntry, value: bigint): string {
  if (value < 0n) throw new RangeError('an open audit member takes a non-negative integer');
  return `${open.before}"${value.toString(10)}"${open.after}`;
}

let redaction: HmacFieldsOptions | null = null;

/**
 * HMACs the configured fields of every entry body this process writes from now on (null: none),
 * so the log can be handed out without revealing them (Vault's audit devices do this). Paths
 * address the body {time, actor, action, subject, data}, e.g. `data.customer`. The key (≥ 32
 * bytes) is checked here and never appears in an error.
 */
export function configureAuditRedaction(opts: HmacFieldsOptions | null): void {
  if (opts) {
    hmacField(opts.key, null);
    // The intake leaves data.nonce open for the database to fill in (encodeEntryAround); a nonce
    // is public on its chain anyway.
    const probe = hmacFields({ data: { nonce: '0' } }, opts);
    if (probe.data.nonce !== '0') throw new CustosError('audit_redaction_invalid', 'audit redaction paths must not cover data.nonce', 500);
  }
  redaction = opts;
}

/**
 * From CUSTOS_AUDIT_HMAC_KEY (base64 or hex, ≥ 32 bytes) and CUSTOS_AUDIT_HMAC_FIELDS (comma-separated
 * paths; default `data.customer,data.customerId`). No key: no redaction.
 */
export function auditRedactionFromEnv(env: NodeJS.ProcessEnv): HmacFieldsOptions | null {
  const text = env.CUSTOS_AUDIT_HMAC_KEY;
  if (!text) return null;
  const key = /^[0-9a-fA-F]+$/.test(text) && text.length % 2 === 0 ? Buffer.from(text, 'hex') : Buffer.from(text, 'base64');
  const paths = (env.CUSTOS_AUDIT_HMAC_FIELDS ?? 'data.customer,data.customerId').split(',').map((p) => p.trim()).filter(Boolean);
  return { key: new Uint8Array(key), paths };
}

export async function appendAudit(q: Queryable, e: AuditEntry): Promise<void> {
  await q.query(
    `WITH e AS (INSERT INTO audit_entries (at, actor, action, subject, body) VALUES ($1, $2, $3, $4, $5) RETURNING id)
     INSERT INTO audit_pending (entry_id) SELECT id FROM e`,
    [new Date(e.at).toISOString(), e.actor, e.action, e.subject, encodeEntry(e)],
  );
}

/** Several entries in one statement, ids in array order (same transaction semantics as appendAudit). */
export async function appendAudits(q: Queryable, entries: readonly AuditEntry[]): Promise<void> {
  if (entries.length === 0) return;
  await q.query(
    `WITH e AS (INSERT INTO audit_entries (at, actor, action, subject, body)
       SELECT at, actor, action, subject, body
       FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::text[]) WITH ORDINALITY AS t(at, actor, action, subject, body, n)
       ORDER BY n RETURNING id)
     INSERT INTO audit_pending (entry_id) SELECT id FROM e`,
    [
      entries.map((e) => new Date(e.at).toISOString()),
      entries.map((e) => e.actor),
      entries.map((e) => e.action),
      entries.map((e) => e.subject),
      entries.map(encodeEntry),
    ],
  );
}

export function chainHash(seq: bigint, prev: Uint8Array, body: string): Uint8Array {
  const seqBytes = Buffer.alloc(8);
  seqBytes.writeBigUInt64BE(seq);
  const bodyHash = createHash('sha256').update(body, 'utf8').digest();
  return new Uint8Array(createHash('sha256').update(CHAIN_TAG).update(seqBytes).update(prev).update(bodyHash).digest());
}

const SEQUENCER_LOCK = 7_202_612;

/**
 * Chains up to `batch` committed, not yet chained entries. Returns how many it chained.
 * Only one sequencer runs at a time (advisory lock); others return 0.
 */
export async function sealPending(db: Db, batch = 5000): Promise<number> {
  // One sequencer per process too: PGlite has a single session, where advisory locks are re-entrant.
  const prior = running.get(db) ?? Promise.resolve(0);
  const run = prior.catch(() => 0).then(() => sealBatch(db, batch));
  running.set(db, run);
  return run;
}

const running = new WeakMap<Db, Promise<number>>();

async function sealBatch(db: Db, batch: number): Promise<number> {
  return db.tx(async (q) => {
    // Keyed by schema too: several custos databases (schemas) on one server each have a sequencer.
    const [lock] = await q.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock($1, hashtext(current_schema())) AS ok', [SEQUENCER_LOCK]);
    if (!lock?.ok) return 0;
    const pending = await q.query<{ id: string; body: string }>(
      `SELECT e.id::text AS id, e.body FROM audit_pending p JOIN audit_entries e ON e.id = p.entry_id
       ORDER BY p.entry_id LIMIT $1`,
      [batch],
    );
    if (pending.length === 0) return advanceTree(q, batch);
    const [head] = await q.query<{ seq: string; hash: Uint8Array }>(
      'SELECT c.seq::text AS seq, c.hash FROM audit_chain c ORDER BY c.seq DESC LIMIT 1',
    );
    let seq = head ? BigInt(head.seq) : 0n;
    let prev: Uint8Array = head ? new Uint8Array(head.hash) : GENESIS_HASH;
    const seqs: string[] = [];
    const ids: string[] = [];
    const prevs: Buffer[] = [];
    const hashes: Buffer[] = [];
    for (const p of pending) {
      seq += 1n;
      const h = chainHash(seq, prev, p.body);
      seqs.push(seq.toString());
      ids.push(p.id);
      prevs.push(Buffer.from(prev));
      hashes.push(Buffer.from(h));
      prev = h;
    }
    await q.query(
      `INSERT INTO audit_chain (seq, entry_id, prev_hash, hash)
       SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bytea[], $4::bytea[])`,
      [seqs, ids, prevs, hashes],
    );
    await q.query('DELETE FROM audit_pending WHERE entry_id = ANY($1::bigint[])', [ids]);
    const firstSeq = head ? BigInt(head.seq) + 1n : 1n;
    const caughtUp = await advanceTree(q, batch, { firstSeq, bodies: pending.map((p) => p.body) });
    return pending.length + caughtUp;
  });
}

export interface TreeState {
  size: number;
  root: Uint8Array;
}

/** The tree head the sequencer last committed (size and root). */
export async function readTreeState(q: Queryable): Promise<TreeState> {
  const [row] = await q.query<{ size: string; root: Uint8Array }>('SELECT size::text AS size, root FROM audit_tree_state WHERE id');
  if (!row) return { size: 0, root: new Uint8Array(createHash('sha256').digest()) };
  return { size: Number(row.size), root: new Uint8Array(row.root) };
}

/** The Merkle tree at its committed size over the stored nodes (for proofs). */
export async function openAuditTree(q: Queryable): Promise<MerkleTree> {
  const state = await readTreeState(q);
  let cache = upperNodes.get(q);
  if (!cache) upperNodes.set(q, (cache = new UpperNodeCache()));
  return MerkleTree.open(new SqlTreeNodeStore(q, cache), state.size);
}

/** Per database handle: the upper tree levels proofs read (immutable nodes, see UpperNodeCache). */
const upperNodes = new WeakMap<Queryable, UpperNodeCache>();

/**
 * Appends chained entries to the tree (inside the sequencer's transaction). `fresh` are the bodies
 * just chained from `firstSeq`; if the tree is behind them (entries chained before migration 004),
 * it first catches up from the stored chain, up to `batch` leaves. Returns the number of leaves
 * appended beyond `fresh`.
 */
async function advanceTree(q: Queryable, batch: number, fresh?: { firstSeq: bigint; bodies: string[] }): Promise<number> {
  const state = await readTreeState(q);
  if (!fresh) {
    const [head] = await q.query<{ seq: string }>('SELECT coalesce(max(seq), 0)::text AS seq FROM audit_chain');
    if (Number(head?.seq ?? 0) <= state.size) return 0;
  }
  const tree = await MerkleTree.open(new SqlTreeNodeStore(q), state.size);
  let extra = 0;
  const encoder = new TextEncoder();
  if (!fresh || BigInt(tree.size) + 1n < fresh.firstSeq) {
    const rows = await q.query<{ body: string | null }>(
      `SELECT e.body FROM audit_chain c LEFT JOIN audit_entries e ON e.id = c.entry_id
       WHERE c.seq > $1 AND c.seq < $2 ORDER BY c.seq LIMIT $3`,
      [String(tree.size), fresh ? fresh.firstSeq.toString() : '9223372036854775807', batch],
    );
    const leaves = rows.map((r) => {
      if (r.body === null) throw new Error('audit tree catch-up: a chained entry is missing');
      return hashLeaf(encoder.encode(r.body));
    });
    if (leaves.length > 0) await tree.append(leaves);
    extra = leaves.length;
  }
  if (fresh && BigInt(tree.size) + 1n === fresh.firstSeq) {
    await tree.append(fresh.bodies.map((b) => hashLeaf(encoder.encode(b))));
  }
  if (tree.size !== state.size) {
    await q.query('UPDATE audit_tree_state SET size = $1, root = $2, updated_at = now() WHERE id', [String(tree.size), Buffer.from(tree.root())]);
  }
  return extra;
}

export type ChainReport =
  | { ok: true; entries: number; pending: number; head: string | null }
  | { ok: false; entries: number; brokenSeq: string; entryId: string | null; reason: string };

/**
 * Walks the whole chain in pages, recomputing every hash; names the first broken entry.
 * Also checks that every entry is either chained or pending (none silently dropped).
 */
export async function verifyChain(db: Queryable, onProgress?: (checked: number) => void): Promise<ChainReport> {
  let prev: Uint8Array = GENESIS_HASH;
  let expected = 1n;
  let checked = 0;
  const PAGE = 10_000;
  for (;;) {
    const rows = await db.query<{ seq: string; entry_id: string | null; prev_hash: Uint8Array; hash: Uint8Array; body: string | null }>(
      `SELECT c.seq::text AS seq, e.id::text AS entry_id, c.prev_hash, c.hash, e.body
       FROM audit_chain c LEFT JOIN audit_entries e ON e.id = c.entry_id
       WHERE c.seq >= $1 ORDER BY c.seq LIMIT $2`,
      [expected.toString(), PAGE],
    );
    for (const r of rows) {
      const seq = BigInt(r.seq);
      const broken = (reason: string): ChainReport => ({ ok: false, entries: checked, brokenSeq: r.seq, entryId: r.entry_id, reason });
      if (seq !== expected) return broken(`sequence gap: expected ${expected}, found ${seq}`);
      if (r.body === null) return broken('entry missing');
      if (!bytesEqual(new Uint8Array(r.prev_hash), prev)) return broken('previous hash does not match the chain');
      const h = chainHash(seq, prev, r.body);
      if (!bytesEqual(h, new Uint8Array(r.hash))) return broken('entry content does not match its hash');
      prev = h;
      expected += 1n;
      checked += 1;
    }
    onProgress?.(checked);
    if (rows.length < PAGE) break;
  }
  const [counts] = await db.query<{ total: string; pending: string; orphans: string }>(
    `SELECT (SELECT count(*) FROM audit_entries)::text AS total,
            (SELECT count(*) FROM audit_pending)::text AS pending,
            (SELECT count(*) FROM audit_entries e WHERE NOT EXISTS (SELECT 1 FROM audit_chain c WHERE c.entry_id = e.id)
               AND NOT EXISTS (SELECT 1 FROM audit_pending p WHERE p.entry_id = e.id))::text AS orphans`,
  );
  if (counts && Number(counts.orphans) > 0) {
    return { ok: false, entries: checked, brokenSeq: (expected).toString(), entryId: null, reason: `${counts.orphans} entries are neither chained nor pending` };
  }
  return { ok: true, entries: checked, pending: Number(counts?.pending ?? 0), head: checked > 0 ? Buffer.from(prev).toString('hex') : null };
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return d === 0;
}
