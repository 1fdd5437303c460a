/**
 * The generic round object of the CMP protocols: a round IS its JSON state plus the step function
 * registered for (protocol, round number), so every round serialises by construction and restores
 * in another process with `restoreRound`. Step functions are pure: (state, inbox, rng) → result.
 *
 * @example
 *   registerStep('cmp/keygen', 1, keygenRound1);
 *   const round = new JsonRound<KeyShare>('cmp/keygen', 1, session, state, rng);
 *   const again = restoreRound<KeyShare>(round.serialize(), rng);
 */
import type { ByteSource } from '../../bigint/index.js';
import { ProtocolMisuse, type Json, type Message, type Round, type RoundResult, type RoundState } from '../round.js';

export type StepResult<Out> =
  | { readonly kind: 'next'; readonly state: Json; readonly outbox: Message[] }
  | { readonly kind: 'done'; readonly output: Out; readonly outbox: Message[] };

export type Step<Out> = (state: Json, inbox: readonly Message[], session: string, rng: ByteSource) => StepResult<Out>;

const steps = new Map<string, Step<unknown>>();

export function registerStep<Out>(protocol: string, round: number, step: Step<Out>): void {
  steps.set(`${protocol}#${round}`, step as Step<unknown>);
}

export class JsonRound<Out> implements Round<Out> {
  private used = false;

  constructor(
    readonly protocol: string,
    readonly number: number,
    readonly session: string,
    private readonly state: Json,
    private readonly rng: ByteSource,
  ) {}

  finalize(inbox: readonly Message[]): RoundResult<Out> {
    if (this.used) throw new ProtocolMisuse('cmp_round_reused', 'a round can be finalized only once');
    const step = steps.get(`${this.protocol}#${this.number}`) as Step<Out> | undefined;
    if (!step) throw new ProtocolMisuse('cmp_unknown_round', `no round ${this.number} in ${this.protocol}`);
    this.used = true;
    const r = step(this.state, inbox, this.session, this.rng);
    if (r.kind === 'done') return { kind: 'done', output: r.output, outbox: r.outbox };
    return { kind: 'next', next: new JsonRound<Out>(this.protocol, this.number + 1, this.session, r.state, this.rng), outbox: r.outbox };
  }

  serialize(): RoundState {
    return { protocol: this.protocol, round: this.number, session: this.session, data: this.state };
  }
}

/** Restores a round from its serialised state (the protocol module must have been imported). */
export function restoreRound<Out>(state: RoundState, rng: ByteSource): Round<Out> {
  if (!steps.has(`${state.protocol}#${state.round}`)) {
    throw new ProtocolMisuse('cmp_unknown_round', `no round ${state.round} in ${state.protocol}`);
  }
  return new JsonRound<Out>(state.protocol, state.round, state.session, state.data, rng);
}

/** Splits an inbox into broadcast and peer-to-peer messages. */
export function splitInbox(inbox: readonly Message[]): { bc: Message[]; p2p: Message[] } {
  return { bc: inbox.filter((m) => m.to === null), p2p: inbox.filter((m) => m.to !== null) };
}
