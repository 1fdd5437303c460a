/**
 * CMP online signing in one round from a stored presignature (paper, Figure "ECDSA Signing"):
 * m = digest as an integer mod q, r = R.x mod q, each signer broadcasts σ_i = k_i·m + r·χ_i;
 * σ = Σσ_j. The output is normalised to low-S with its recovery id and verified against the
 * public key before it is returned; if it does not verify, the signers whose σ_j fails
 * σ_j·R = m·R̄_j + r·S̄_j are named. The presignature is consumed at the start (single use).
 *
 * @example
 *   let res = startSign({ presignature, digest }, rng); // digest: 32-byte message hash
 *   // deliver res.outbox; res = res.next.finalize(inbox); res.output.compact → 64 bytes r‖s
 */
import { hexToBytes } from '@noble/hashes/utils.js';
import { fromBytes, toBytes, type ByteSource } from '../../bigint/index.js';
import { collectInbox, ProtocolAbort, ProtocolMisuse, type Json, type Message, type RoundResult } from '../round.js';
import { decodePayload, encodePayload, hexInt, parseHexInt, Reader } from './codec.js';
import { compressedXY, scalar } from './group.js';
import { JsonRound, registerStep, type StepResult } from './machine.js';
import { Q } from './params.js';
import { Presignature } from './presignature.js';
import { verifyDigestSignature } from './verify.js';

const PROTOCOL = 'cmp/sign';

export interface EcdsaSignature {
  readonly r: bigint;
  /** Low-S (s ≤ q/2). */
  readonly s: bigint;
  /** 0–3: bit 0 = parity of R.y (after normalisation), bit 1 = R.x ≥ q. */
  readonly recovery: number;
  /** r ‖ s, 64 bytes. */
  readonly compact: Uint8Array;
}

export interface SignParams {
  readonly presignature: Presignature;
  /** The 32-byte digest to sign (e.g. Keccak-256 of an Ethereum transaction, SHA-256d for Bitcoin). */
  readonly digest: Uint8Array;
}

function digestScalar(d: Uint8Array): bigint {
  if (d.length !== 32) throw new ProtocolMisuse('cmp_bad_digest', 'digest must be 32 bytes');
  return scalar(fromBytes(d));
}

export function startSign(p: SignParams, rng: ByteSource): RoundResult<EcdsaSignature> {
  const pre = p.presignature;
  const m = digestScalar(p.digest);
  const { k, chi } = pre.consume();
  const r = scalar(compressedXY(pre.RHex).x);
  if (r === 0n) throw new ProtocolAbort('cmp_bad_nonce', 'R.x is zero modulo q');
  const sigma = scalar(k * m + r * chi);
  const session = `${pre.id}/sign`;
  const state: Json = {
    // the spent presignature's public part (R, R̄_j, S̄_j; k_i and χ_i are dropped once spent)
    presignature: pre.toJson(),
    self: pre.self,
    signers: [...pre.signers],
    publicKey: pre.publicKeyHex,
    R: pre.RHex,
    digest: hexInt(fromBytes(p.digest)),
    sigma: hexInt(sigma),
  };
  const outbox: Message[] = [{ session, from: pre.self, to: null, round: 1, payload: encodePayload({ sigma: hexInt(sigma), pre: pre.publicDigest() }) }];
  return { kind: 'next', next: new JsonRound<EcdsaSignature>(PROTOCOL, 1, session, state, rng), outbox };
}

function round1(state: Json, inbox: readonly Message[], session: string): StepResult<EcdsaSignature> {
  const st = state as { [k: string]: Json };
  const self = st.self as string;
  const signers = st.signers as string[];
  const got = collectInbox(inbox, { session, round: 1, self, from: signers, broadcast: true });
  const sigmas = new Map<string, bigint>([[self, parseHexInt(st.sigma as string)]]);
  const digests = new Map<string, string>();
  for (const [j, payload] of got) {
    const r = new Reader(decodePayload(payload, j), j);
    const sj = r.nat('sigma');
    if (sj >= Q) throw new ProtocolAbort('cmp_malformed_message', `σ of ${j} is out of range`, [j]);
    sigmas.set(j, sj);
    digests.set(j, r.str('pre'));
  }
  let s = scalar([...sigmas.values()].reduce((a, b) => a + b, 0n));
  const R = compressedXY(st.R as string);
  const r = scalar(R.x);
  const digest = toBytes(parseHexInt(st.digest as string), 32);
  let recovery = (R.yOdd ? 1 : 0) | (R.x >= Q ? 2 : 0);
  if (s > Q >> 1n) {
    s = Q - s;
    recovery ^= 1;
  }
  const compact = new Uint8Array(64);
  compact.set(toBytes(r, 32), 0);
  compact.set(toBytes(s, 32), 32);
  if (s === 0n || !verifyDigestSignature(compact, digest, hexToBytes(st.publicKey as string))) identifySigner(st, sigmas, digests);
  return { kind: 'done', output: { r, s, recovery, compact }, outbox: [] };
}

/**
 * The combined signature failed: name the signers whose σ_j fails σ_j·R = m·R̄_j + r·S̄_j (paper,
 * Figure 8's identification with the presignature's public R̄_j = k_j·R, S̄_j = χ_j·R). Since
 * ΣR̄_j = G and ΣS̄_j = X were checked at presigning, an invalid signature means some σ_j fails its
 * check, and an honest one never does. First every signer must hold the same presignature (digest
 * compare); otherwise a presigning broadcast differed and nobody is named.
 */
function identifySigner(st: { [k: string]: Json }, sigmas: ReadonlyMap<string, bigint>, digests: ReadonlyMap<string, string>): never {
  const pre = Presignature.fromJson(st.presignature as Json);
  const mine = pre.publicDigest();
  const differ = [...digests].filter(([, d]) => d !== mine).map(([j]) => j);
  if (differ.length > 0) {
    throw new ProtocolAbort('cmp_presignature_mismatch', `${differ.join(', ')} signed with a different presignature than this party: a presigning broadcast differed`);
  }
  const m = scalar(parseHexInt(st.digest as string));
  const culprits: string[] = [];
  for (const [j, sj] of sigmas) {
    const ok = pre.checkShare(j, sj, m);
    if (ok === null) throw new ProtocolAbort('cmp_bad_signature', 'combined signature does not verify; this presignature predates σ identification, nobody is named');
    if (!ok) culprits.push(j);
  }
  if (culprits.length === 0) throw new ProtocolAbort('cmp_bad_signature', 'combined signature does not verify and no σ_j fails its check');
  throw new ProtocolAbort('cmp_bad_signature_share', `${culprits.sort().join(', ')} sent a wrong σ`, culprits);
}

registerStep<EcdsaSignature>(PROTOCOL, 1, round1);
