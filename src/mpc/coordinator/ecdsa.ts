/**
 * The coordinator's side of threshold ECDSA (CGGMP21): the presignature pool and the one-round
 * online signing session. The coordinator holds no secret here either.
 *
 * Pool: presignatures are made per signer subset (presigning is message-independent, 3 rounds,
 * seconds of CPU); the pool remembers, per key and subset, the presignatures every member holds
 * (id and R, public), learns them from finished presigning sessions or from the nodes' own
 * inventories (`GET /v1/keys/:keyId/presignatures`), and a presignature leaves the pool the moment
 * a signing session is started with it, whatever happens next (the nodes mark it spent on disk
 * before they answer, so it is gone on their side too).
 *
 * Online signing (`runOnlineSigning`): every signer answers the session start with its σ share (a
 * signed broadcast envelope, sent only after the node spent the presignature on disk); the
 * coordinator checks each envelope's signature, adds the shares, normalises to low S with the
 * recovery id and verifies the signature under the key: that is the result, after one round trip.
 * It then delivers the shares to the signers in the background, so that each node verifies the
 * same signature and records the withdrawal as signed (bookkeeping: the presignature is already
 * spent). When the shares do not combine into a valid signature the delivery is awaited instead,
 * so that the nodes' own verdicts (and any culprits they name) come back with the failure.
 *
 * @example
 *   const pool = new PresignaturePool();
 *   pool.add('eth-hot', 0, { id, R, signers });
 *   const pre = pool.take('eth-hot', 0, ['node-1', 'node-2', 'node-3']);
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { hexToBytes } from '@noble/hashes/utils.js';
import { CustosError } from '../../core/errors.js';
import { compressedXY } from '../protocols/cmp/group.js';
import { verifyDigestSignature } from '../protocols/cmp/verify.js';
import { ProtocolAbort } from '../protocols/round.js';
import { sigmaOf } from '../node/cmp-driver.js';
import { verifyEnvelopeSignature, type Envelope } from '../transport/envelope.js';
import type { Directory } from '../transport/identity.js';
import { NodeCallFailed, type NodeClient } from './client.js';
import { SessionFailed } from './session.js';

const Q = secp256k1.Point.CURVE().n;

/** A presignature as the coordinator knows it (public). */
export interface PooledPresignature {
  readonly id: string;
  /** R, compressed point hex. */
  readonly R: string;
  readonly signers: readonly string[];
  /** Every signer's R̄_j = k_j·R and S̄_j = χ_j·R (public), as all signers reported them. */
  readonly RBar?: Readonly<Record<string, string>>;
  readonly SBar?: Readonly<Record<string, string>>;
}

export const subsetKey = (signers: readonly string[]): string => [...signers].sort().join(',');

/** Unused presignatures per key, generation and signer subset (in memory). */
export class PresignaturePool {
  private readonly byKey = new Map<string, { generation: number; subsets: Map<string, PooledPresignature[]> }>();

  private entry(keyId: string, generation: number): Map<string, PooledPresignature[]> {
    let e = this.byKey.get(keyId);
    if (!e || e.generation !== generation) {
      // a new generation (refresh) makes every earlier presignature unusable: the nodes dropped them
      e = { generation, subsets: new Map() };
      this.byKey.set(keyId, e);
    }
    return e.subsets;
  }

  add(keyId: string, generation: number, p: PooledPresignature): void {
    const subsets = this.entry(keyId, generation);
    const k = subsetKey(p.signers);
    const list = subsets.get(k) ?? [];
    if (!list.some((x) => x.id === p.id)) list.push({ ...p, signers: [...p.signers].sort() });
    subsets.set(k, list);
  }

  /** Removes and returns one presignature for exactly this subset (oldest first), if any. */
  take(keyId: string, generation: number, signers: readonly string[]): PooledPresignature | undefined {
    return this.entry(keyId, generation).get(subsetKey(signers))?.shift();
  }

  /** Drops one presignature (e.g. a node no longer holds it). */
  drop(keyId: string, id: string): void {
    for (const list of this.byKey.get(keyId)?.subsets.values() ?? []) {
      const i = list.findIndex((x) => x.id === id);
      if (i >= 0) list.splice(i, 1);
    }
  }

  count(keyId: string, generation: number, signers: readonly string[]): number {
    return this.entry(keyId, generation).get(subsetKey(signers))?.length ?? 0;
  }

  /** Subsets (sorted member lists) that have at least one presignature. */
  stocked(keyId: string, generation: number): string[][] {
    return [...this.entry(keyId, generation)].filter(([, l]) => l.length > 0).map(([k]) => k.split(','));
  }
}

/**
 * Signer subsets of size t drawn from `ordered` (preference order), in the order a signer should
 * be tried: lexicographic over positions, so the most preferred nodes come first.
 */
export function subsetsInOrder(ordered: readonly string[], t: number, limit = 64): string[][] {
  const out: string[][] = [];
  const pick = (start: number, acc: string[]): void => {
    if (out.length >= limit) return;
    if (acc.length === t) {
      out.push([...acc]);
      return;
    }
    for (let i = start; i <= ordered.length - (t - acc.length); i++) pick(i + 1, [...acc, ordered[i] as string]);
  };
  pick(0, []);
  return out;
}

export interface CombinedEcdsa {
  /** r ‖ s (64 bytes), low S. */
  readonly signature: Uint8Array;
  /** 0 or 1: parity of R.y after normalisation (2/3 would mean R.x ≥ n, never seen in practice). */
  readonly recovery: number;
}

/**
 * Combines the relayed σ shares of one online signing session: adds the shares, normalises to low
 * S. With `verify` (the default) null if the result does not verify under `publicKey` over
 * `digest` (some σ share is wrong); without, the caller verifies the candidate once later
 * (`checkedEcdsa`). The envelopes' signatures (who sent which share) are checked against the
 * pinned directory whenever that could matter: before a null (the shares are then judged one by
 * one, and a forged envelope must not frame its supposed sender) and before an unverified
 * candidate. A signature that verifies under the key is valid whoever relayed its parts.
 */
export function combineSigmaShares(o: {
  envelopes: readonly Envelope[]; directory: Directory; signers: readonly string[]; session: string; R: string; publicKey: string; digest: Uint8Array;
  verify?: boolean;
}): CombinedEcdsa | null {
  const checkSenders = (): void => {
    for (const e of o.envelopes) verifyEnvelopeSignature(e, o.directory);
  };
  const seen = new Set<string>();
  let s = 0n;
  for (const e of o.envelopes) {
    if (e.session !== o.session || e.round !== 1 || e.to !== null || e.payload === undefined || !o.signers.includes(e.from) || seen.has(e.from)) {
      checkSenders();
      throw new CustosError('mpc_unexpected_envelope', `unexpected envelope from ${e.from} in an online signing session`, 502);
    }
    seen.add(e.from);
    let sigma: bigint;
    try {
      sigma = sigmaOf(hexToBytes(e.payload));
    } catch (err) {
      checkSenders();
      throw err;
    }
    if (sigma >= Q) {
      checkSenders();
      return null;
    }
    s = (s + sigma) % Q;
  }
  if (seen.size !== o.signers.length) throw new CustosError('mpc_missing_share', 'not every signer sent its σ share', 502);
  const R = compressedXY(o.R); // the pooled R, as the signers reported it at presigning
  const r = R.x % Q;
  let recovery = (R.yOdd ? 1 : 0) | (R.x >= Q ? 2 : 0);
  if (s > Q >> 1n) {
    s = Q - s;
    recovery ^= 1;
  }
  if (r === 0n || s === 0n) {
    checkSenders();
    return null;
  }
  const signature = new secp256k1.Signature(r, s).toBytes('compact');
  if (o.verify === false) {
    checkSenders();
    return { signature, recovery };
  }
  if (verifyDigestSignature(signature, o.digest, hexToBytes(o.publicKey))) return { signature, recovery };
  checkSenders();
  return null;
}

/**
 * Names the signers whose σ share fails σ_j·R = m·R̄_j + r·S̄_j (the presignature's public values,
 * CGGMP21's σ identification), from the signed, relayed broadcasts: evidence the coordinator checks
 * itself. Null when the presignature carries no R̄/S̄ (nothing to check against).
 */
export function sigmaCulprits(o: { envelopes: readonly Envelope[]; presignature: PooledPresignature; digest: Uint8Array }): string[] | null {
  const { RBar, SBar } = o.presignature;
  if (!RBar || !SBar || o.digest.length !== 32) return null;
  const R = secp256k1.Point.fromHex(o.presignature.R);
  const r = R.x % Q;
  const m = BigInt(`0x${Buffer.from(o.digest).toString('hex')}`) % Q;
  const culprits: string[] = [];
  for (const e of o.envelopes) {
    if (e.payload === undefined || RBar[e.from] === undefined || SBar[e.from] === undefined) continue;
    let ok: boolean;
    try {
      const sigma = sigmaOf(hexToBytes(e.payload));
      const lhs = sigma % Q === 0n ? secp256k1.Point.ZERO : R.multiplyUnsafe(sigma % Q);
      const rb = secp256k1.Point.fromHex(RBar[e.from] as string);
      const sb = secp256k1.Point.fromHex(SBar[e.from] as string);
      const rhs = (m === 0n ? secp256k1.Point.ZERO : rb.multiplyUnsafe(m)).add(sb.multiplyUnsafe(r));
      ok = sigma < Q && lhs.equals(rhs);
    } catch {
      ok = false;
    }
    if (!ok) culprits.push(e.from);
  }
  return culprits.sort();
}

/** The ECDSA signature a node returned, checked under the key (for `recoverSignature`-style paths). */
export function checkedEcdsa(signatureHex: unknown, digest: Uint8Array, publicKey: string): Uint8Array | null {
  if (typeof signatureHex !== 'string' || !/^[0-9a-f]{128}$/.test(signatureHex) || digest.length !== 32) return null;
  const signature = hexToBytes(signatureHex);
  return verifyDigestSignature(signature, digest, hexToBytes(publicKey)) ? signature : null;
}

async function settle(node: readonly string[], calls: readonly Promise<unknown>[]): Promise<{ answers: Map<string, unknown>; failures: NodeCallFailed[] }> {
  const settled = await Promise.allSettled(calls);
  const answers = new Map<string, unknown>();
  const failures: NodeCallFailed[] = [];
  settled.forEach((x, i) => {
    const id = node[i] as string;
    if (x.status === 'fulfilled') answers.set(id, x.value);
    else failures.push(x.reason instanceof NodeCallFailed ? x.reason : new NodeCallFailed(id, 'node_error', 'failed', { unreachable: true }));
  });
  return { answers, failures };
}

/**
 * One online signing session: start on every signer (each answers with its σ share), combine and
 * verify here, deliver the shares back in the background (`completion`, never rejects: it resolves
 * with the nodes that failed to complete). Throws `SessionFailed` when a signer refuses or is down
 * at the start, or when the shares do not combine (with the nodes' own abort reasons).
 */
export async function runOnlineSigning(o: {
  clients: readonly NodeClient[]; session: string; body: unknown; combine: (envelopes: readonly Envelope[]) => CombinedEcdsa | null;
  /** On a failed combination: the signers whose σ share fails its public check (null: cannot tell). */
  identify?: (envelopes: readonly Envelope[]) => string[] | null;
  tamper?: ((e: Envelope, recipient: string) => Envelope) | undefined;
}): Promise<{ combined: CombinedEcdsa; completion: Promise<NodeCallFailed[]> }> {
  const ids = o.clients.map((c) => c.id);
  const started = await settle(ids, o.clients.map((c) => c.start(o.body)));
  if (started.failures.length > 0) throw new SessionFailed(started.failures);
  const wire = [...started.answers.values()].flatMap((a) => {
    const env = (a as { envelopes?: unknown }).envelopes;
    return Array.isArray(env) ? (env as Envelope[]) : [];
  });
  const deliver = async (): Promise<NodeCallFailed[]> => (await settle(ids, o.clients.map((c) => c.advance(o.session, {
    envelopes: wire.filter((e) => e.from !== c.id && (e.to === null || e.to === c.id)).map((e) => (o.tamper ? o.tamper(e, c.id) : e)),
  })))).failures;
  let combined: CombinedEcdsa | null;
  try {
    combined = o.combine(wire);
  } catch (err) {
    void deliver();
    throw err;
  }
  if (!combined) {
    const culprits = o.identify?.(wire) ?? [];
    if (culprits.length > 0) {
      void deliver(); // the nodes close the session (and name the same signers)
      throw new ProtocolAbort('cmp_bad_signature_share', `${culprits.join(', ')} sent a σ share that fails its check against the presignature`, culprits);
    }
    const failures = await deliver();
    if (failures.length > 0) throw new SessionFailed(failures);
    throw new CustosError('mpc_sign_failed', 'the σ shares do not combine into a valid signature', 502);
  }
  // the caller has its signature now; the delivery starts on the next turn of the event loop
  const completion = new Promise<void>((resolve) => setImmediate(resolve)).then(deliver);
  return { combined, completion };
}
