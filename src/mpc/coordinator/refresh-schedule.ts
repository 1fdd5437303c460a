/**
 * Proactive share refresh on a schedule: every `everyMs`, each key the nodes hold (or the keys
 * named) gets fresh shares (`Coordinator.refresh`: all holders take part, the public key stays,
 * old shares stop working). Each refresh, and each failed attempt, is an audit entry
 * (`key.refreshed` / `key.refresh_failed`, subject `key:<id>`). A failed refresh (a node down) is
 * tried again at the next tick. One refresh runs at a time; ticks never overlap.
 *
 * @example
 *   const schedule = startRefreshSchedule({ coordinator, db, everyMs: 24 * 3600_000 });
 *   await schedule.stop();
 */
import { appendAudit } from '../../audit/chain.js';
import { systemClock, type Clock } from '../../core/clock.js';
import { CustosError } from '../../core/errors.js';
import type { Db } from '../../store/db.js';
import type { Coordinator, KeyInfo } from './coordinator.js';

/** Keys due for a refresh: never refreshed by this schedule since `startedAt`, or last refreshed `everyMs` ago. */
export function dueKeys(keys: readonly string[], last: ReadonlyMap<string, number>, startedAt: number, now: number, everyMs: number): string[] {
  return keys.filter((k) => now - (last.get(k) ?? startedAt) >= everyMs).sort();
}

export interface RefreshScheduleOptions {
  readonly coordinator: Pick<Coordinator, 'listKeys' | 'refresh'>;
  readonly db: Db;
  readonly everyMs: number;
  /** How often to look whether a key is due (default: everyMs / 4, at least 100 ms). */
  readonly checkEveryMs?: number;
  /** Only these keys (default: every key the reachable nodes hold). */
  readonly keyIds?: readonly string[];
  readonly clock?: Clock;
  readonly onRefreshed?: (key: KeyInfo) => void;
  readonly onError?: (keyId: string, err: unknown) => void;
}

export interface RefreshSchedule {
  /** One check now (refreshes what is due); resolves with the keys refreshed. */
  runOnce(): Promise<string[]>;
  stop(): Promise<void>;
}

const ACTOR = 'refresh-schedule';

export function startRefreshSchedule(o: RefreshScheduleOptions): RefreshSchedule {
  if (!Number.isSafeInteger(o.everyMs) || o.everyMs < 1) throw new CustosError('refresh_bad_interval', 'the refresh interval must be a positive number of milliseconds');
  const clock = o.clock ?? systemClock;
  const startedAt = clock.now();
  const last = new Map<string, number>();
  let running: Promise<string[]> | null = null;
  let stopped = false;

  const tick = async (): Promise<string[]> => {
    const ids = o.keyIds ?? (await o.coordinator.listKeys()).map((k) => k.keyId);
    const done: string[] = [];
    for (const keyId of dueKeys(ids, last, startedAt, clock.now(), o.everyMs)) {
      if (stopped) break;
      try {
        const key = await o.coordinator.refresh({ keyId });
        const now = clock.now();
        last.set(keyId, now);
        await o.db.tx((q) => appendAudit(q, {
          at: now, actor: ACTOR, action: 'key.refreshed', subject: `key:${keyId}`,
          data: { keyId, generation: key.generation, publicKey: key.publicKey, parties: key.parties },
        }));
        done.push(keyId);
        o.onRefreshed?.(key);
      } catch (err) {
        const code = err instanceof CustosError ? err.code : 'refresh_error';
        const message = err instanceof CustosError ? err.message : 'unexpected failure';
        await o.db.tx((q) => appendAudit(q, { at: clock.now(), actor: ACTOR, action: 'key.refresh_failed', subject: `key:${keyId}`, data: { keyId, code, message } }))
          .catch(() => undefined);
        o.onError?.(keyId, err);
      }
    }
    return done;
  };

  const runOnce = (): Promise<string[]> => {
    running ??= tick().finally(() => {
      running = null;
    });
    return running;
  };

  const timer = setInterval(() => {
    if (!running && !stopped) runOnce().catch((err: unknown) => o.onError?.('*', err));
  }, Math.max(100, o.checkEveryMs ?? Math.floor(o.everyMs / 4)));
  timer.unref();

  return {
    runOnce,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running?.catch(() => undefined);
    },
  };
}
