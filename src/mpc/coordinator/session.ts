/**
 * Drives one protocol session across nodes by relaying envelopes it cannot read: every participant
 * joins, then each round's envelopes go to their recipients (broadcasts to everybody but the
 * sender) until every participant is done. `between` lets the caller inspect a round's envelopes
 * before they are delivered (the FROST signer check runs there); `tamper` exists for adversarial
 * tests of the nodes (a relay that alters what it forwards).
 *
 * @example
 *   const out = await runSession(clients, (id) => ({ kind: 'dkg', session, keyId, … }), { onRound });
 */
import type { Envelope } from '../transport/envelope.js';
import { NodeCallFailed, type NodeClient } from './client.js';

export interface StepAnswer {
  readonly envelopes: Envelope[];
  readonly done: boolean;
  readonly result?: Record<string, unknown>;
}

/** Why a session failed: per-node failures (unreachable, refused, culprits named). */
export class SessionFailed extends Error {
  constructor(readonly failures: readonly NodeCallFailed[], readonly culprits: readonly string[] = []) {
    super(failures.map((f) => `${f.code} (${f.message})`).join('; ') || `culprits: ${culprits.join(', ')}`);
    this.name = 'SessionFailed';
  }
}

export interface RunSessionOptions {
  /** Called with the envelopes one round produced, before they are relayed; may throw to stop. */
  readonly between?: (round: number, envelopes: readonly Envelope[]) => void;
  readonly onRound?: (round: number) => void;
  readonly tamper?: ((e: Envelope, recipient: string) => Envelope) | undefined;
  /** Per-call timeout (default: the client's); CGGMP21 key generation rounds take seconds. */
  readonly timeoutMs?: number | undefined;
  /**
   * Asked after `between`: true ends the session for the caller here (it has its result from the
   * relayed envelopes, e.g. a FROST signature it aggregated and verified itself). The round's
   * envelopes are still delivered, in the background: `onBackground` gets that delivery, a promise
   * that never rejects and resolves with the nodes that failed to take it.
   */
  readonly finishEarly?: (round: number) => boolean;
  readonly onBackground?: (delivery: Promise<NodeCallFailed[]>) => void;
}

function asStep(x: unknown): StepAnswer {
  const o = (typeof x === 'object' && x !== null ? x : {}) as Partial<StepAnswer>;
  return { envelopes: Array.isArray(o.envelopes) ? o.envelopes : [], done: o.done === true, ...(o.result ? { result: o.result } : {}) };
}

async function all(calls: ReadonlyMap<string, Promise<unknown>>): Promise<Map<string, StepAnswer>> {
  const ids = [...calls.keys()];
  const settled = await Promise.allSettled(calls.values());
  const failures: NodeCallFailed[] = [];
  const out = new Map<string, StepAnswer>();
  settled.forEach((s, i) => {
    const id = ids[i] as string;
    if (s.status === 'fulfilled') out.set(id, asStep(s.value));
    else failures.push(s.reason instanceof NodeCallFailed ? s.reason : new NodeCallFailed(id, 'node_error', 'failed', { unreachable: true }));
  });
  if (failures.length > 0) throw new SessionFailed(failures);
  return out;
}

/** Runs a session to completion; returns each participant's final result. */
export async function runSession(
  clients: readonly NodeClient[], startBody: (id: string) => unknown, o: RunSessionOptions = {},
): Promise<Map<string, Record<string, unknown>>> {
  const session = (startBody(clients[0]?.id ?? '') as { session: string }).session;
  let answers = await all(new Map(clients.map((c) => [c.id, c.start(startBody(c.id), o.timeoutMs)])));
  const results = new Map<string, Record<string, unknown>>();
  for (let step = 0; step < 16; step++) {
    const wire = [...answers.values()].flatMap((a) => a.envelopes);
    for (const [id, a] of answers) if (a.done) results.set(id, a.result ?? {});
    const pending = clients.filter((c) => !results.has(c.id));
    if (pending.length === 0) return results;
    const round = wire[0]?.round ?? -1;
    o.onRound?.(round);
    o.between?.(round, wire);
    const deliver = () => new Map(pending.map((c) => {
      const inbox = wire
        .filter((e) => e.from !== c.id && (e.to === null || e.to === c.id))
        .map((e) => (o.tamper ? o.tamper(e, c.id) : e));
      return [c.id, c.advance(session, { envelopes: inbox }, o.timeoutMs)] as const;
    }));
    if (o.finishEarly?.(round)) {
      // the caller has its result now; the delivery starts on the next turn of the event loop
      const delivery = new Promise<void>((resolve) => setImmediate(resolve))
        .then(() => all(deliver()))
        .then(() => [], (err: unknown) => (err instanceof SessionFailed ? [...err.failures] : []));
      o.onBackground?.(delivery);
      return results;
    }
    answers = await all(deliver());
  }
  throw new SessionFailed([], []);
}
