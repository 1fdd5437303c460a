/**
 * Test-only helpers: a deterministic rng, and runners that take every round of every party through
 * a JSON serialise/deserialise round trip (as if each round ran in a fresh process).
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import type { Message, PartyId, Round, RoundResult, RoundState, Rng } from '../../round.js';
import { restoreDkg, startDkg } from '../dkg.js';
import type { FrostKeyShare } from '../key-share.js';
import { runLocal, type LocalRunOptions } from '../local-run.js';
import { restoreRefresh, startRefresh } from '../refresh.js';
import { restoreSign, startSign, type FrostSignature, type SignParams } from '../sign.js';
import type { IdentifierScheme, SuiteName } from '../suite.js';

/** Deterministic rng for reproducible tests (never for production). */
export function seededRng(seed: string): Rng {
  let counter = 0;
  return (n: number) => {
    const out = new Uint8Array(n);
    for (let off = 0; off < n; off += 32) {
      const block = sha256(new TextEncoder().encode(`${seed}/${counter++}`));
      out.set(block.subarray(0, Math.min(32, n - off)), off);
    }
    return out;
  };
}

let sessionCounter = 0;
export function freshSession(label = 's'): string {
  return bytesToHex(sha256(new TextEncoder().encode(`${label}/${sessionCounter++}`)));
}

/** Serialises a round to JSON text and restores it: the party "moves to another process". */
export function viaJson<Out>(restore: (s: RoundState) => Round<Out>): (party: PartyId, round: Round<Out>) => Round<Out> {
  return (_party, round) => restore(JSON.parse(JSON.stringify(round.serialize())) as RoundState);
}

export const parties5 = ['node-a', 'node-b', 'node-c', 'node-d', 'node-e'];

export function runDkg(
  suite: SuiteName, parties: readonly PartyId[], threshold: number,
  opts: { session?: string; identifiers?: IdentifierScheme; tamper?: (m: Message, recipient: PartyId) => Message | null; json?: boolean } = {},
): Map<PartyId, FrostKeyShare> {
  const session = opts.session ?? freshSession('dkg');
  const starts = new Map<PartyId, RoundResult<FrostKeyShare>>(parties.map((p) => [
    p, startDkg({ suite, session, self: p, parties, threshold, rng: seededRng(`dkg/${session}/${p}`), identifiers: opts.identifiers }),
  ]));
  const run: LocalRunOptions<FrostKeyShare> = { tamper: opts.tamper, between: opts.json === false ? undefined : viaJson(restoreDkg) };
  return runLocal(starts, run);
}

export function runSign(
  keys: ReadonlyMap<PartyId, FrostKeyShare>, signers: readonly PartyId[], message: Uint8Array,
  opts: { session?: string; taprootMerkleRoot?: Uint8Array; tamper?: (m: Message, recipient: PartyId) => Message | null; json?: boolean; rng?: (p: PartyId) => Rng } = {},
): Map<PartyId, FrostSignature> {
  const session = opts.session ?? freshSession('sign');
  const starts = new Map<PartyId, RoundResult<FrostSignature>>(signers.map((p) => {
    const params: SignParams = { key: keys.get(p) as FrostKeyShare, session, signers, message, taprootMerkleRoot: opts.taprootMerkleRoot };
    return [p, startSign({ ...params, rng: opts.rng ? opts.rng(p) : seededRng(`sign/${session}/${p}`) })];
  }));
  return runLocal(starts, { tamper: opts.tamper, between: opts.json === false ? undefined : viaJson(restoreSign) });
}

export function runRefresh(
  keys: ReadonlyMap<PartyId, FrostKeyShare>,
  opts: { session?: string; tamper?: (m: Message, recipient: PartyId) => Message | null; cheat?: { party: PartyId; constant: bigint } } = {},
): Map<PartyId, FrostKeyShare> {
  const session = opts.session ?? freshSession('refresh');
  const starts = new Map<PartyId, RoundResult<FrostKeyShare>>([...keys].map(([p, key]) => [
    p, startRefresh({ key, session, rng: seededRng(`refresh/${session}/${p}`), dealConstant: opts.cheat?.party === p ? opts.cheat.constant : undefined }),
  ]));
  return runLocal(starts, { tamper: opts.tamper, between: viaJson(restoreRefresh) });
}

/** Runs `f` and returns the ProtocolAbort-like error it throws (fails the test if it does not throw). */
export function abortOf(f: () => unknown): { code: string; culprits: readonly string[]; message: string } {
  try {
    f();
  } catch (e) {
    const err = e as { code?: string; culprits?: readonly string[]; message: string };
    return { code: String(err.code), culprits: err.culprits ?? [], message: err.message };
  }
  throw new Error('expected the protocol to abort');
}
