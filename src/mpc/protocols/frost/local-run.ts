/**
 * Runs every party of one protocol run in this process, delivering each round's broadcasts and
 * peer-to-peer messages in lockstep. For benchmarks, tests and the single-machine demo; a real
 * deployment moves the same messages over the authenticated transport instead.
 *
 * `between` sees every round between two steps and may replace it, e.g. with a copy restored from
 * its serialised state (as if the party ran in another process). `tamper` may rewrite or drop a
 * message on its way to one recipient (adversarial tests, e.g. an equivocating broadcast).
 *
 * @example
 *   const starts = new Map(parties.map((p) => [p, startDkg({ ...params, self: p, rng })]));
 *   const keys = runLocal(starts);   // Map<PartyId, FrostKeyShare>
 */
import type { Message, PartyId, Round, RoundResult } from '../round.js';

export interface LocalRunOptions<Out> {
  readonly between?: (party: PartyId, round: Round<Out>) => Round<Out>;
  readonly tamper?: (message: Message, recipient: PartyId) => Message | null;
}

export function runLocal<Out>(starts: ReadonlyMap<PartyId, RoundResult<Out>>, options: LocalRunOptions<Out> = {}): Map<PartyId, Out> {
  const current = new Map(starts);
  const done = new Map<PartyId, Out>();
  for (let step = 0; step < 64; step++) {
    const wire: Message[] = [];
    for (const res of current.values()) wire.push(...res.outbox);
    const next = new Map<PartyId, RoundResult<Out>>();
    for (const [party, res] of current) {
      if (res.kind === 'done') {
        done.set(party, res.output);
        continue;
      }
      let round = res.next;
      if (options.between) round = options.between(party, round);
      const inbox: Message[] = [];
      for (const m of wire) {
        if (m.from === party || (m.to !== party && m.to !== null) || m.round !== round.number) continue;
        const t = options.tamper ? options.tamper(m, party) : m;
        if (t) inbox.push(t);
      }
      next.set(party, round.finalize(inbox));
    }
    if (next.size === 0) return done;
    current.clear();
    for (const [p, r] of next) current.set(p, r);
  }
  throw new Error('local run did not terminate');
}
