/**
 * The CGGMP21 (threshold ECDSA on secp256k1) `SchemeDriver` of a signing node, over the pure round
 * machines of `../protocols/cmp`: key generation followed, in the same node session, by auxiliary
 * info (Paillier-Blum modulus with Π^mod, ring-Pedersen with Π^prm, Π^fac per peer); refresh (the
 * aux-info/refresh protocol again, with fresh primes: new shares of the same key); presigning
 * (3 rounds, no message needed); online signing (1 round) from a stored presignature.
 *
 * Node sessions are hex ids chosen by the coordinator; the protocol cores use their own session
 * strings (`<session>/aux` for the aux phase, `<presignature id>/sign` for signing). `MappedRound`
 * translates between the two, so an envelope is still bound to the node session, the protocol and
 * the round, and the cores keep their own domain separation.
 *
 * What the node stores for a key (sealed): `{ v: 1, generation, share: keyShareToJson(..) }` (the
 * Shamir share, the Paillier primes, every party's public aux info). For a presignature (sealed):
 * the serialised `Presignature` with k_i and χ_i, deleted in the durable write that spends it.
 *
 * @example
 *   const run = cmpDriver.keygen({ scheme: 'ecdsa', session, self, parties, threshold: 3, rng, primes });
 *   // the node drives run.start / next rounds; run.complete(output) → { kind: 'key', record, share }
 */
import { bytesToHex } from '@noble/hashes/utils.js';
import { CustosError } from '../../core/errors.js';
import {
  keyShareFromJson, keyShareToJson, Presignature, startAuxRefresh, startKeygen, startPresign, startSign,
  type CmpKeyShare, type EcdsaSignature,
} from '../protocols/cmp/index.js';
import type { Json, Message, Round, RoundResult, RoundState } from '../protocols/round.js';
import type { RunOutput, SchemeDriver } from './scheme.js';

export const CMP_KEYGEN_PROTOCOL = 'cmp-keygen-aux';
export const CMP_REFRESH_PROTOCOL = 'cmp-refresh';
export const CMP_PRESIGN_PROTOCOL = 'cmp-presign';
export const CMP_SIGN_PROTOCOL = 'cmp-sign';

/** Rounds of key generation before the aux-info phase starts (keygen's three message rounds). */
const KEYGEN_ROUNDS = 3;

export interface PrimePair {
  readonly p: bigint;
  readonly q: bigint;
}

/**
 * A protocol-core round seen through the node session: inbound messages get the core's session
 * and round numbers, outbound ones the node's. `then` chains a second protocol when the first
 * finishes (keygen → aux info) under the same node session, its rounds numbered after the first's.
 */
class MappedRound implements Round<unknown> {
  constructor(
    private readonly inner: Round<unknown>,
    readonly session: string,
    private readonly offset: number,
    private readonly then?: (output: unknown) => { result: RoundResult<unknown>; offset: number },
  ) {}

  get protocol(): string {
    return this.inner.protocol;
  }

  get number(): number {
    return this.inner.number + this.offset;
  }

  finalize(inbox: readonly Message[]): RoundResult<unknown> {
    const inner = this.inner;
    const mapped = inbox.map((m) => ({ ...m, session: inner.session, round: m.round - this.offset }));
    return mapResult(inner.finalize(mapped), this.session, this.offset, this.then);
  }

  serialize(): RoundState {
    return this.inner.serialize();
  }
}

function mapResult(
  res: RoundResult<unknown>, session: string, offset: number, then?: (output: unknown) => { result: RoundResult<unknown>; offset: number },
): RoundResult<unknown> {
  const out = (o: number) => (m: Message): Message => ({ ...m, session, round: m.round + o });
  if (res.kind === 'next') return { kind: 'next', next: new MappedRound(res.next, session, offset, then), outbox: res.outbox.map(out(offset)) };
  if (!then) return { kind: 'done', output: res.output, outbox: res.outbox.map(out(offset)) };
  if (res.outbox.length > 0) throw new CustosError('cmp_driver_chain', 'a chained protocol phase ended with messages to send', 500);
  const next = then(res.output);
  return mapResult(next.result, session, next.offset);
}

/** The sealed key-share document of a CMP key. */
interface StoredShare {
  readonly v: 1;
  readonly generation: number;
  readonly share: Json;
}

function storedShare(j: Json): StoredShare {
  const o = j as { v?: unknown; generation?: unknown; share?: unknown };
  if (o?.v !== 1 || !Number.isSafeInteger(o.generation)) throw new CustosError('cmp_bad_key_share', 'stored key share is malformed');
  return o as unknown as StoredShare;
}

/** Public aux material is large (2048-bit moduli); the public package carries the shares only. */
function keyOutput(k: CmpKeyShare, generation: number): RunOutput {
  const publicShares: { [id: string]: Json } = {};
  for (const [id, p] of k.publicShares) publicShares[id] = p.toHex(true);
  return {
    kind: 'key',
    record: {
      protocol: 'cmp', suite: 'secp256k1', threshold: k.threshold, parties: [...k.parties], publicKey: k.publicKey.toHex(true), generation,
      publicPackage: { publicShares },
    },
    share: { v: 1, generation, share: keyShareToJson(k) },
  };
}

function needPrimes(primes: PrimePair | undefined): PrimePair {
  if (!primes) throw new CustosError('node_no_primes', 'this node has no safe-prime pair ready for a Paillier modulus', 503);
  return primes;
}

/** The σ-share payload field a test hook may alter (see `corruptSignatureShare`). */
function bumpHexField(payload: Uint8Array, path: readonly string[]): Uint8Array {
  const o = JSON.parse(new TextDecoder().decode(payload)) as Record<string, unknown>;
  let at: Record<string, unknown> = o;
  for (const k of path.slice(0, -1)) at = at[k] as Record<string, unknown>;
  const last = path[path.length - 1] as string;
  const v = at[last];
  if (typeof v !== 'string') return payload;
  const neg = v.startsWith('-');
  const n = BigInt(`0x${neg ? v.slice(1) : v}`) + 1n;
  at[last] = `${neg ? '-' : ''}${n.toString(16)}`;
  return new TextEncoder().encode(JSON.stringify(o));
}

/** CGGMP21 for `ecdsa` keys (secp256k1). */
export const cmpDriver: SchemeDriver = {
  protocol: 'cmp',
  needsPrimes: true,
  keygen(p) {
    if (p.scheme !== 'ecdsa') throw new CustosError('mpc_unsupported_scheme', `CGGMP21 does not serve ${p.scheme}`);
    const primes = needPrimes(p.primes);
    const start = startKeygen({ session: p.session, self: p.self, parties: p.parties, threshold: p.threshold }, p.rng);
    const aux = (output: unknown) => ({
      result: startAuxRefresh({ session: `${p.session}/aux`, share: output as CmpKeyShare, primes }, p.rng),
      offset: KEYGEN_ROUNDS,
    });
    return {
      protocolName: CMP_KEYGEN_PROTOCOL,
      start: mapResult(start, p.session, 0, aux),
      complete: (out) => keyOutput(out as CmpKeyShare, 0),
    };
  },
  refresh(p) {
    const stored = storedShare(p.share);
    const primes = needPrimes(p.primes);
    const share = keyShareFromJson(stored.share);
    return {
      protocolName: CMP_REFRESH_PROTOCOL,
      start: mapResult(startAuxRefresh({ session: `${p.session}/refresh`, share, primes }, p.rng), p.session, 0),
      complete: (out) => keyOutput(out as CmpKeyShare, stored.generation + 1),
    };
  },
  presign(p) {
    const stored = storedShare(p.share);
    const share = keyShareFromJson(stored.share);
    return {
      protocolName: CMP_PRESIGN_PROTOCOL,
      start: mapResult(startPresign({ session: p.session, share, signers: p.signers }, p.rng), p.session, 0),
      complete: (out) => {
        const pre = out as Presignature;
        const secret = pre.toJson();
        // public: R̄_j = k_j·R and S̄_j = χ_j·R of every signer, so that anyone can check a σ_j
        const pub = secret as { RBar?: Record<string, string>; SBar?: Record<string, string> };
        return {
          kind: 'presignature',
          record: {
            id: pre.id, signers: [...pre.signers], R: pre.RHex, generation: stored.generation,
            ...(pub.RBar && pub.SBar ? { RBar: { ...pub.RBar }, SBar: { ...pub.SBar } } : {}),
          },
          secret,
        };
      },
    };
  },
  sign(p) {
    if (p.presignature === undefined) throw new CustosError('node_no_presignature', 'threshold ECDSA signs only from a stored presignature', 400);
    const pre = Presignature.fromJson(p.presignature);
    const signers = [...p.signers].sort();
    if (pre.signers.length !== signers.length || pre.signers.some((s, i) => s !== signers[i])) {
      throw new CustosError('node_bad_signers', 'the presignature was made for another signer set', 400);
    }
    if (p.message.length !== 32) throw new CustosError('authorization_bad_transaction', 'threshold ECDSA signs a 32-byte digest', 403);
    const publicKey = pre.publicKeyHex;
    return {
      protocolName: CMP_SIGN_PROTOCOL,
      start: mapResult(startSign({ presignature: pre, digest: p.message }, p.rng), p.session, 0),
      complete: (out) => {
        const s = out as EcdsaSignature;
        return { kind: 'signature', signature: bytesToHex(s.compact), publicKey, recovery: s.recovery };
      },
    };
  },
  corruptSignatureShare(payload) {
    return bumpHexField(payload, ['sigma']);
  },
  corruptProof(m) {
    // presigning round 1, peer to peer: Π^enc of K_i; a changed z2 no longer verifies
    if (m.to === null || m.round !== 1) return m;
    return { ...m, payload: bumpHexField(m.payload, ['enc', 'z2']) };
  },
};

/** Parses the public σ-share broadcast of online signing (for the coordinator's own combination). */
export function sigmaOf(payload: Uint8Array): bigint {
  const o = JSON.parse(new TextDecoder().decode(payload)) as { sigma?: unknown };
  if (typeof o.sigma !== 'string' || !/^[0-9a-f]{1,64}$/.test(o.sigma)) throw new CustosError('cmp_malformed_message', 'malformed σ share');
  return BigInt(`0x${o.sigma}`);
}
