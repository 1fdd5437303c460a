/**
 * Events the rate limiter raises for the alert outbox and the audit trail. Listeners run
 * synchronously but may not block or break the request path: a throwing listener is isolated and
 * reported to `onListenerError` (never rethrown).
 *
 * @example
 *   const hub = new RateLimitEvents();
 *   hub.on((e) => { if (e.type === 'blacklisted') outbox.enqueue(alertFor(e)); });
 *   hub.emit({ type: 'lifted', at: 0, entry, by: 'admin:alice' });
 */
import type { BlacklistEntry } from './blacklist.js';

export type RateLimitEvent =
  | { readonly type: 'blacklisted'; readonly at: number; readonly entry: BlacklistEntry; readonly routeClass?: string }
  /** The cooling period ended by itself (detected by `sweep` or lazily by the next check). */
  | { readonly type: 'reenabled'; readonly at: number; readonly entry: BlacklistEntry }
  /** An admin ended the cooling period early. */
  | { readonly type: 'lifted'; readonly at: number; readonly entry: BlacklistEntry; readonly by: string }
  /** The shared store failed; `mode` is what the failure policy did for this route class. */
  | { readonly type: 'store_unavailable'; readonly at: number; readonly routeClass: string; readonly mode: FailureMode; readonly code: string }
  | { readonly type: 'store_recovered'; readonly at: number };

/** closed: refuse; open: allow unchecked; local: enforce per-instance limits in memory. */
export type FailureMode = 'closed' | 'open' | 'local';

export type RateLimitListener = (event: RateLimitEvent) => void;

export class RateLimitEvents {
  readonly #listeners: RateLimitListener[] = [];
  readonly #onListenerError: (err: unknown, event: RateLimitEvent) => void;

  constructor(onListenerError: (err: unknown, event: RateLimitEvent) => void = () => {}) {
    this.#onListenerError = onListenerError;
  }

  /** Adds a listener; returns a function that removes it. */
  on(listener: RateLimitListener): () => void {
    this.#listeners.push(listener);
    return () => {
      const i = this.#listeners.indexOf(listener);
      if (i >= 0) this.#listeners.splice(i, 1);
    };
  }

  emit(event: RateLimitEvent): void {
    for (const l of this.#listeners) {
      try {
        l(event);
      } catch (err) {
        try {
          this.#onListenerError(err, event);
        } catch {
          // an error reporter that throws must not reach the request path either
        }
      }
    }
  }
}
