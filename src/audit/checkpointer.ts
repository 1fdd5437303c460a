/**
 * Signed checkpoints of the database-backed audit tree: issued on demand and on a schedule (only
 * when the tree grew), stored in `audit_checkpoints`, appended to a file outside the database
 * (one JSON line per checkpoint: {size, root, note}) and optionally POSTed to a witness URL
 * (text/plain, the signed note), so a copy of every signed root lives where a database
 * administrator cannot rewrite it.
 *
 * @example
 *   const cp = new AuditCheckpointer(db, { origin: 'custos.example/audit', signer, file: '.custos/checkpoints.log' });
 *   const latest = await cp.issue();          // signs the current tree head if it grew
 *   const stop = cp.start(10_000, console.error); // every 10 s while the server runs
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { systemClock, type Clock } from '../core/clock.js';
import type { Db, Queryable } from '../store/db.js';
import { readTreeState } from './chain.js';
import { signCheckpoint } from './checkpoint.js';
import type { NoteSigner } from './note.js';

export interface StoredCheckpoint {
  id: string;
  size: number;
  root: Uint8Array;
  /** The signed note (C2SP signed-note text). */
  note: string;
  createdAt: number;
}

export interface CheckpointerOptions {
  origin: string;
  signer: NoteSigner;
  /** Appended with one JSON line per new checkpoint. */
  file?: string | undefined;
  /** POSTed the note (text/plain); failures are reported, never fatal. */
  witnessUrl?: string | undefined;
  clock?: Clock;
  fetch?: typeof fetch;
}

const CHECKPOINT_LOCK = 7_202_613;

interface Row {
  id: string;
  size: string;
  root: Uint8Array;
  note: string;
  created_at: Date | string;
}

const fromRow = (r: Row): StoredCheckpoint => ({
  id: r.id,
  size: Number(r.size),
  root: new Uint8Array(r.root),
  note: r.note,
  createdAt: new Date(r.created_at).getTime(),
});

const COLUMNS = 'id::text AS id, size::text AS size, root, note, created_at';

/** The most recent checkpoint (largest size, then newest), or undefined. */
export async function latestCheckpoint(q: Queryable): Promise<StoredCheckpoint | undefined> {
  const [row] = await q.query<Row>(`SELECT ${COLUMNS} FROM audit_checkpoints ORDER BY size DESC, id DESC LIMIT 1`);
  return row ? fromRow(row) : undefined;
}

/** Every stored checkpoint in id order. */
export async function listCheckpoints(q: Queryable): Promise<StoredCheckpoint[]> {
  return (await q.query<Row>(`SELECT ${COLUMNS} FROM audit_checkpoints ORDER BY id`)).map(fromRow);
}

export class AuditCheckpointer {
  private readonly clock: Clock;
  private running: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly db: Db,
    private readonly opts: CheckpointerOptions,
  ) {
    this.clock = opts.clock ?? systemClock;
  }

  /**
   * Signs the current tree head unless the latest checkpoint already has its size (`force`
   * signs anyway). Returns the new checkpoint, or the latest one when nothing changed.
   */
  async issue(options: { force?: boolean; onError?: (err: Error) => void } = {}): Promise<{ checkpoint: StoredCheckpoint; created: boolean }> {
    const run = this.running.catch(() => undefined).then(() => this.issueOnce(options));
    this.running = run;
    return run;
  }

  private async issueOnce(options: { force?: boolean; onError?: (err: Error) => void }): Promise<{ checkpoint: StoredCheckpoint; created: boolean }> {
    const out = await this.db.tx(async (q) => {
      await q.query('SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))', [CHECKPOINT_LOCK]);
      const state = await readTreeState(q);
      const latest = await latestCheckpoint(q);
      if (latest && latest.size === state.size && !options.force) return { checkpoint: latest, created: false };
      const note = await signCheckpoint({ origin: this.opts.origin, size: state.size, rootHash: state.root }, [this.opts.signer]);
      const [row] = await q.query<Row>(
        `INSERT INTO audit_checkpoints (size, root, note, created_at) VALUES ($1, $2, $3, $4) RETURNING ${COLUMNS}`,
        [String(state.size), Buffer.from(state.root), note, new Date(this.clock.now()).toISOString()],
      );
      return { checkpoint: fromRow(row!), created: true };
    });
    if (out.created) await this.publish(out.checkpoint, options.onError);
    return out;
  }

  /** Copies outside the database: the file, then the witness. Errors go to onError. */
  private async publish(cp: StoredCheckpoint, onError?: (err: Error) => void): Promise<void> {
    const report = (err: unknown) => onError?.(err instanceof Error ? err : new Error(String(err)));
    if (this.opts.file) {
      try {
        mkdirSync(dirname(this.opts.file), { recursive: true });
        appendFileSync(this.opts.file, `${JSON.stringify({ size: cp.size, root: Buffer.from(cp.root).toString('base64'), note: cp.note })}\n`);
      } catch (err) {
        report(err);
      }
    }
    if (this.opts.witnessUrl) {
      try {
        const res = await (this.opts.fetch ?? fetch)(this.opts.witnessUrl, {
          method: 'POST',
          headers: { 'content-type': 'text/plain; charset=utf-8' },
          body: cp.note,
          signal: AbortSignal.timeout(5000),
        });
        if (!res.ok) report(new Error(`audit witness answered ${res.status}`));
      } catch (err) {
        report(err);
      }
    }
  }

  /** Issues a checkpoint every `everyMs` when the tree grew. Returns a stop function. */
  start(everyMs: number, onError: (err: Error) => void): () => Promise<void> {
    let busy = false;
    const timer = setInterval(() => {
      if (busy) return;
      busy = true;
      this.issue({ onError })
        .catch((err: unknown) => onError(err instanceof Error ? err : new Error(String(err))))
        .finally(() => {
          busy = false;
        });
    }, everyMs);
    timer.unref();
    return async () => {
      clearInterval(timer);
      await this.running.catch(() => undefined);
    };
  }
}
