/**
 * Gathers concurrent calls into batches: `submit(item)` queues the item; whenever fewer than
 * `maxInFlight` batches are running, the queue (up to `maxBatch` items) is handed to `run` on the
 * next turn of the event loop. Under light load a batch holds one item and waits for nothing;
 * under heavy load the batches grow by themselves, so one database transaction (and one commit)
 * serves many requests. `run` answers each item in order; an item's failure fails only that item.
 *
 * @example
 *   const b = new Batcher<string, boolean>(async (nonces) => nonces.map(() => ({ ok: true, value: true })));
 *   await b.submit('n1'); // true
 */
export type BatchResult<O> = { ok: true; value: O } | { ok: false; error: unknown };

export interface BatcherOptions {
  /** Most items per batch (default 64). */
  maxBatch?: number;
  /** Most batches running at once (default 2). */
  maxInFlight?: number;
}

interface Pending<I, O> {
  item: I;
  resolve: (o: O) => void;
  reject: (e: unknown) => void;
}

export class Batcher<I, O> {
  private readonly queue: Pending<I, O>[] = [];
  private inFlight = 0;
  private scheduled = false;
  private readonly maxBatch: number;
  private readonly maxInFlight: number;

  constructor(
    private readonly run: (items: I[]) => Promise<BatchResult<O>[]>,
    opts: BatcherOptions = {},
  ) {
    this.maxBatch = opts.maxBatch ?? 64;
    this.maxInFlight = opts.maxInFlight ?? 2;
    if (!(this.maxBatch >= 1 && this.maxInFlight >= 1)) throw new RangeError('maxBatch and maxInFlight must be at least 1');
  }

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.schedule();
    });
  }

  /** Items waiting for a batch. */
  get waiting(): number {
    return this.queue.length;
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight >= this.maxInFlight || this.queue.length === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.launch();
    });
  }

  private launch(): void {
    while (this.inFlight < this.maxInFlight && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      this.inFlight += 1;
      void this.execute(batch).finally(() => {
        this.inFlight -= 1;
        this.schedule();
      });
    }
  }

  private async execute(batch: Pending<I, O>[]): Promise<void> {
    let results: BatchResult<O>[];
    try {
      results = await this.run(batch.map((p) => p.item));
    } catch (err) {
      for (const p of batch) p.reject(err);
      return;
    }
    batch.forEach((p, k) => {
      const r = results[k];
      if (!r) p.reject(new Error('batch returned fewer results than items'));
      else if (r.ok) p.resolve(r.value);
      else p.reject(r.error);
    });
  }
}
