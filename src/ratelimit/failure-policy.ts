/**
 * What to do when the shared store cannot answer, per route class: `closed` refuses (withdrawals),
 * `open` lets the request through unchecked, `local` enforces the same limits per instance in
 * memory (reads, pre-authentication). It also decides when to raise an alert: once when a route
 * class starts failing, again at most every `alertIntervalMs` while it keeps failing, and once
 * when the store answers again, so an outage cannot flood the alert outbox.
 *
 * @example
 *   const fp = new FailurePolicy({ withdraw: 'closed', read: 'open' });
 *   const { mode, alert } = fp.onFailure('withdraw', err.code, now); // 'closed', true the first time
 */
import type { FailureMode } from './events.js';

export class FailurePolicy {
  readonly #modes: Readonly<Record<string, FailureMode>>;
  readonly #alertIntervalMs: number;
  readonly #lastAlert = new Map<string, number>();
  #failing = false;

  /** Route classes not named fail closed. */
  constructor(modes: Readonly<Record<string, FailureMode>>, alertIntervalMs = 60_000) {
    this.#modes = modes;
    this.#alertIntervalMs = alertIntervalMs;
  }

  mode(routeClass: string): FailureMode {
    return Object.hasOwn(this.#modes, routeClass) ? this.#modes[routeClass]! : 'closed';
  }

  /** True while the last store call failed. */
  get failing(): boolean {
    return this.#failing;
  }

  /** Records a failure; `alert` says whether this one should raise a `store_unavailable` event. */
  onFailure(routeClass: string, now: number): { mode: FailureMode; alert: boolean } {
    this.#failing = true;
    const last = this.#lastAlert.get(routeClass);
    const alert = last === undefined || now - last >= this.#alertIntervalMs || now < last;
    if (alert) this.#lastAlert.set(routeClass, now);
    return { mode: this.mode(routeClass), alert };
  }

  /** Records a success; true when it ends a failure (raise `store_recovered`). */
  onSuccess(): boolean {
    if (!this.#failing) return false;
    this.#failing = false;
    this.#lastAlert.clear();
    return true;
  }
}
