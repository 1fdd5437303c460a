/**
 * Test-only: the in-process runner with the name the tests use, and `runEach`, which runs every
 * party to its own end and records each party's output or ProtocolAbort (to check that every
 * honest party names the same culprit).
 *
 * @example
 *   const outputs = runAll(starts, (m) => m);
 *   const ends = runEach(starts, hook); // Map party → { output } | { abort }
 */
import { ProtocolAbort, type RoundResult } from '../../round.js';
import { deliver, type MessageHook } from '../local.js';

export { runLocal as runAll, type MessageHook as Tamper } from '../local.js';

export type PartyEnd<Out> = { readonly output: Out } | { readonly abort: ProtocolAbort };

/** A corrupted party: sees (and may replace) its own result — next round state and outbox — after each step. */
export type Adversary<Out> = (id: string, res: RoundResult<Out>) => RoundResult<Out>;

export function runEach<Out>(
  starts: ReadonlyMap<string, RoundResult<Out>>,
  hook: MessageHook = (m) => m,
  adversary: Adversary<Out> = (_id, res) => res,
): Map<string, PartyEnd<Out>> {
  let current = new Map([...starts].map(([id, res]) => [id, adversary(id, res)]));
  const ends = new Map<string, PartyEnd<Out>>();
  for (let guard = 0; guard < 32 && current.size > 0; guard++) {
    const inboxes = deliver(current, hook);
    const next = new Map<string, RoundResult<Out>>();
    for (const [id, res] of current) {
      if (res.kind === 'done') {
        ends.set(id, { output: res.output });
        continue;
      }
      try {
        next.set(id, adversary(id, res.next.finalize(inboxes.get(id) ?? [])));
      } catch (e) {
        if (!(e instanceof ProtocolAbort)) throw e;
        ends.set(id, { abort: e });
      }
    }
    current = next;
  }
  return ends;
}
