/**
 * Test-only driver: runs one protocol instance for all parties in one process, delivering every
 * outbox message to its recipients (broadcasts to everybody but the sender), with an optional
 * hook that lets a test tamper with messages in flight.
 *
 * @example
 *   const outputs = runAll(starts, (m) => m);
 */
import type { Message, RoundResult } from '../../round.js';

export type Tamper = (m: Message) => Message | null;

export function runAll<Out>(starts: Map<string, RoundResult<Out>>, tamper: Tamper = (m) => m): Map<string, Out> {
  let current = new Map(starts);
  const outputs = new Map<string, Out>();
  for (let guard = 0; guard < 20; guard++) {
    const inboxes = new Map<string, Message[]>([...current.keys()].map((id) => [id, []]));
    for (const res of current.values()) {
      for (const m0 of res.outbox) {
        const m = tamper(m0);
        if (!m) continue;
        for (const id of current.keys()) {
          if (id === m.from) continue;
          if (m.to === null || m.to === id) inboxes.get(id)?.push(m);
        }
      }
    }
    const next = new Map<string, RoundResult<Out>>();
    for (const [id, res] of current) {
      if (res.kind === 'done') outputs.set(id, res.output);
      else next.set(id, res.next.finalize(inboxes.get(id) ?? []));
    }
    if (next.size === 0) return outputs;
    current = next;
  }
  throw new Error('protocol did not finish');
}
