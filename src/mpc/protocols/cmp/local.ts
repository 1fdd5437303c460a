/**
 * Runs one protocol instance for several parties inside one process, delivering every outbox
 * message to its recipients (broadcasts to all but the sender). For benchmarks, the demo and tests;
 * a deployment runs each party in its own node and moves messages over the transport instead.
 * An optional hook sees (and may alter or drop) every message in flight, once per recipient.
 *
 * @example
 *   const shares = runLocal(new Map(ids.map((id) => [id, startKeygen({ session, self: id, parties: ids, threshold: 2 }, rng)])));
 */
import { ProtocolMisuse, type Message, type RoundResult } from '../round.js';

/** Sees each message once per recipient (so a test can emulate equivocation); may alter or drop it. */
export type MessageHook = (m: Message, recipient: string) => Message | null;

/** Each party's inbox for the next round: every message of every outbox, through the hook, to its recipients. */
export function deliver<Out>(current: ReadonlyMap<string, RoundResult<Out>>, hook: MessageHook): Map<string, Message[]> {
  const inboxes = new Map<string, Message[]>([...current.keys()].map((id) => [id, []]));
  for (const res of current.values()) {
    for (const m0 of res.outbox) {
      for (const id of current.keys()) {
        if (id === m0.from || (m0.to !== null && m0.to !== id)) continue;
        const m = hook(m0, id);
        if (m) inboxes.get(id)?.push(m);
      }
    }
  }
  return inboxes;
}

export function runLocal<Out>(starts: ReadonlyMap<string, RoundResult<Out>>, hook: MessageHook = (m) => m): Map<string, Out> {
  let current = new Map(starts);
  const outputs = new Map<string, Out>();
  for (let guard = 0; guard < 32; guard++) {
    const inboxes = deliver(current, hook);
    const next = new Map<string, RoundResult<Out>>();
    for (const [id, res] of current) {
      if (res.kind === 'done') outputs.set(id, res.output);
      else next.set(id, res.next.finalize(inboxes.get(id) ?? []));
    }
    if (next.size === 0) return outputs;
    current = next;
  }
  throw new ProtocolMisuse('cmp_protocol_runaway', 'protocol did not finish within 32 rounds');
}
