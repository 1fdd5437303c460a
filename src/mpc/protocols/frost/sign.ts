/**
 * FROST signing (RFC 9591 §5) as two rounds per signer:
 *
 * - start: fresh nonces (d, e) from the injected rng; broadcast their commitments (D, E) together
 *   with a hash of what is being signed (message, signer set, key, Taproot tweak), so signers that
 *   disagree on any of it stop before a share exists;
 * - round 1: the signature share z_i = d + e·ρ_i + λ_i·s_i·c, broadcast; the nonces are erased and
 *   the round refuses a second use (a nonce is single-use by construction of the API);
 * - round 2: aggregation, checked with the chain's own verifier; if the signature does not verify,
 *   every share is checked against its verifying share and the cheating signers are named.
 *
 * The arithmetic is `signing-core.ts` (pinned to the RFC 9591 vectors). Ed25519 signatures verify
 * with OpenSSL's RFC 8032 verifier; BIP-340 ones with libsecp256k1's (32-byte messages; noble's
 * `schnorr.verify` otherwise) under the x-only group key, or, with `taprootMerkleRoot` set, under
 * the BIP-341 tweaked output key.
 *
 * @example
 *   let res = startSign({ key, session, signers: ['n1', 'n2', 'n3'], message, rng });
 *   // deliver res.outbox; res = res.next.finalize(round1Inbox); deliver; res = res.next.finalize(round2Inbox)
 *   if (res.kind === 'done') broadcastTx(res.output.signature);
 */
import { schnorr } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, concatBytes, hexToBytes } from '@noble/hashes/utils.js';
import { verifySchnorr } from 'tiny-secp256k1';
import { edVerify } from '../../transport/ed25519.js';
import {
  collectInbox, ProtocolAbort, ProtocolMisuse,
  type Message, type PartyId, type Rng, type Round, type RoundResult, type RoundState,
} from '../round.js';
import { groupPublicKey, keyIdentifiers, keyShareJson, parseKeyShare, type FrostKeyShare } from './key-share.js';
import { nonceId, type NonceLedger } from './nonce-ledger.js';
import { checkSession } from './params.js';
import {
  decodePointCached, effectiveKey, effectiveVerifyingShare, encodeSignature, generateNonces, signatureShare,
  signingValues, verifyingKeyBytes, verifyShare, type SignerCommitment, type SigningValues,
} from './signing-core.js';
import { frostSuite, type FrostSuite } from './suite.js';
import { decodePayload, encodePayload } from './wire.js';

export const SIGN_PROTOCOL = 'frost-sign';
const TAG1 = 'frost/sign/1';
const TAG2 = 'frost/sign/2';

export interface SignParams {
  readonly key: FrostKeyShare;
  /** Fresh hex session id agreed by the signers (16..64 bytes). */
  readonly session: string;
  /** The parties taking part (t ≤ count ≤ n), including this one. */
  readonly signers: readonly PartyId[];
  /** The bytes to sign (for Taproot: the 32-byte BIP-341 sighash). */
  readonly message: Uint8Array;
  /** BIP-340 only: sign for the BIP-341 output key with this merkle root (empty = key-path only, BIP-86). */
  readonly taprootMerkleRoot?: Uint8Array | undefined;
  /** Durable record of used nonces (see nonce-ledger.ts); strongly recommended when states are persisted. */
  readonly nonceLedger?: NonceLedger | undefined;
}

/** The public part of a key share: what a coordinator that holds no share needs to aggregate. */
export type PublicPackage = Pick<FrostKeyShare, 'suite' | 'threshold' | 'parties' | 'identifiers' | 'commitment' | 'verifyingShares'>;

export interface FrostSignature {
  /** 64 bytes: R || z (Ed25519) or x(R) || z (BIP-340). */
  readonly signature: Uint8Array;
  /** The key it verifies under: 32-byte Ed25519 key, 32-byte x-only (BIP-340; tweaked when Taproot), or 33-byte secp256k1. */
  readonly publicKey: Uint8Array;
}

interface Common {
  readonly session: string;
  readonly signers: PartyId[];
  readonly message: string;
  readonly merkleRoot: string | null;
  readonly context: string;
}

function signingContext(suite: FrostSuite, key: Pick<FrostKeyShare, 'commitment'>, c: Omit<Common, 'context'>): string {
  const enc = new TextEncoder();
  const parts: Uint8Array[] = [enc.encode(`custos/frost/${suite.name}/sign`), hexToBytes(c.session), groupPublicKey(key)];
  parts.push(Uint8Array.of(c.merkleRoot === null ? 0 : 1), hexToBytes(c.merkleRoot ?? ''));
  for (const p of c.signers) {
    const b = enc.encode(p);
    parts.push(Uint8Array.of(b.length & 0xff, b.length >> 8), b);
  }
  parts.push(sha256(hexToBytes(c.message)));
  return bytesToHex(sha256(concatBytes(...parts)));
}

/** The key a signature of this run verifies under (32-byte Ed25519, 32-byte x-only BIP-340, 33-byte secp256k1). */
export function signingPublicKey(key: Pick<FrostKeyShare, 'suite' | 'commitment'>, taprootMerkleRoot?: Uint8Array): Uint8Array {
  const suite = frostSuite(key.suite);
  return verifyingKeyBytes(suite, effectiveKey(suite, groupPublicKey(key), taprootMerkleRoot ?? null));
}

function checkParams(p: SignParams): { suite: FrostSuite; c: Common } {
  const suite = frostSuite(p.key.suite);
  checkSession(p.session);
  if (!(p.message instanceof Uint8Array)) throw new ProtocolMisuse('frost_bad_message', 'message must be bytes');
  if (p.taprootMerkleRoot !== undefined && suite.name !== 'bip340') {
    throw new ProtocolMisuse('frost_bad_merkle_root', 'a taproot merkle root only applies to BIP-340 keys');
  }
  if (p.taprootMerkleRoot !== undefined && p.taprootMerkleRoot.length !== 0 && p.taprootMerkleRoot.length !== 32) {
    throw new ProtocolMisuse('frost_bad_merkle_root', 'taproot merkle root must be empty or 32 bytes');
  }
  const signers = [...p.signers].sort();
  if (new Set(signers).size !== signers.length || !signers.every((s) => p.key.parties.includes(s))) {
    throw new ProtocolMisuse('frost_bad_signers', 'signers must be distinct holders of this key');
  }
  if (!signers.includes(p.key.self)) throw new ProtocolMisuse('frost_bad_signers', 'this party is not among the signers');
  if (signers.length < p.key.threshold) {
    throw new ProtocolMisuse('frost_not_enough_signers', `signing needs at least ${p.key.threshold} signers`);
  }
  const base = {
    session: p.session, signers, message: bytesToHex(p.message),
    merkleRoot: p.taprootMerkleRoot === undefined ? null : bytesToHex(p.taprootMerkleRoot),
  };
  return { suite, c: { ...base, context: signingContext(suite, p.key, base) } };
}

/**
 * Starts a signing run: draws this signer's nonces and returns round 1 (which holds them, once) and
 * the commitment broadcast.
 */
export function startSign(params: SignParams & { readonly rng: Rng }): RoundResult<FrostSignature> {
  const key = params.key;
  const { suite, c } = checkParams(params);
  const nonces = generateNonces(suite, suite.Fn.fromBytes(hexToBytes(key.signingShare)), params.rng);
  const payload = encodePayload(TAG1, c.session, [nonces.D, nonces.E, hexToBytes(c.context)]);
  const round = new SignRound1(key, c, {
    hiding: bytesToHex(suite.Fn.toBytes(nonces.hiding)), binding: bytesToHex(suite.Fn.toBytes(nonces.binding)),
    D: bytesToHex(nonces.D), E: bytesToHex(nonces.E),
  }, params.nonceLedger);
  return { kind: 'next', next: round, outbox: [{ session: c.session, from: key.self, to: null, round: 1, payload }] };
}

interface NonceState {
  readonly hiding: string;
  readonly binding: string;
  readonly D: string;
  readonly E: string;
}

function isNonceState(x: unknown): x is NonceState {
  const o = x as Record<string, unknown> | null;
  return typeof o === 'object' && o !== null && ['hiding', 'binding', 'D', 'E'].every((k) => typeof o[k] === 'string');
}

/**
 * Restores a signing round from `serialize()` output. A round-1 state holds the nonces: the store
 * that keeps it must delete it as soon as the round has been finalized (it is single-use).
 */
export function restoreSign(state: RoundState, options: { readonly nonceLedger?: NonceLedger } = {}): Round<FrostSignature> {
  if (state.protocol !== SIGN_PROTOCOL) throw new ProtocolMisuse('frost_bad_state', 'not a FROST signing state');
  const d = (typeof state.data === 'object' && state.data !== null ? state.data : {}) as Record<string, unknown>;
  const c0 = (d.common ?? null) as Common | null;
  if (typeof c0 !== 'object' || c0 === null || !Array.isArray(c0.signers) || typeof c0.message !== 'string') {
    throw new ProtocolMisuse('frost_bad_state', 'malformed signing state');
  }
  checkSession(c0.session);
  if (state.session !== c0.session) throw new ProtocolMisuse('frost_bad_state', 'session mismatch in signing state');
  const key = parseKeyShare(d.key);
  const { c } = checkParams({
    key, session: c0.session, signers: c0.signers, message: hexToBytes(c0.message),
    taprootMerkleRoot: c0.merkleRoot === null ? undefined : hexToBytes(c0.merkleRoot),
  });
  if (state.round === 1) {
    const nonces = d.nonces;
    if (!isNonceState(nonces)) throw new ProtocolMisuse('frost_bad_state', 'malformed signing state');
    return new SignRound1(key, c, nonces, options.nonceLedger);
  }
  if (state.round === 2) {
    const cm = d.commitments as Record<string, unknown> | null;
    const own = d.ownShare;
    const ok = typeof cm === 'object' && cm !== null && c.signers.every((p) => {
      const pair = cm[p];
      return Array.isArray(pair) && pair.length === 2 && pair.every((x) => typeof x === 'string');
    });
    if (!ok || typeof own !== 'string') throw new ProtocolMisuse('frost_bad_state', 'malformed signing state');
    return new SignRound2(key, c, cm as Record<PartyId, [string, string]>, own);
  }
  throw new ProtocolMisuse('frost_bad_state', 'unknown signing round');
}

function commitmentList(suite: FrostSuite, key: PublicPackage, signers: readonly PartyId[], commitments: Record<PartyId, [string, string]>): SignerCommitment[] {
  const ids = keyIdentifiers(suite, key);
  return signers.map((p) => {
    const [h, b] = commitments[p] as [string, string];
    const Dbytes = hexToBytes(h);
    const Ebytes = hexToBytes(b);
    return {
      id: ids.scalar(p), Dbytes, Ebytes,
      D: decodePointCached(suite, Dbytes, p, 'hiding nonce commitment'),
      E: decodePointCached(suite, Ebytes, p, 'binding nonce commitment'),
    };
  });
}

function runValues(suite: FrostSuite, key: Pick<FrostKeyShare, 'commitment'>, c: Common, list: SignerCommitment[]): SigningValues {
  const ek = effectiveKey(suite, groupPublicKey(key), c.merkleRoot === null ? null : hexToBytes(c.merkleRoot));
  return signingValues(suite, ek, list, hexToBytes(c.message));
}

/** Round 1: consumes the nonces exactly once to produce this signer's share. */
class SignRound1 implements Round<FrostSignature> {
  readonly protocol = SIGN_PROTOCOL;
  readonly number = 1;
  private nonces: NonceState | null;
  constructor(private readonly key: FrostKeyShare, private readonly c: Common, nonces: NonceState, private readonly ledger?: NonceLedger) {
    this.nonces = nonces;
  }
  get session(): string {
    return this.c.session;
  }

  finalize(inbox: readonly Message[]): RoundResult<FrostSignature> {
    const n = this.nonces;
    if (n === null) throw new ProtocolMisuse('frost_nonce_reused', 'these signing nonces were already used; start a new signing session');
    const { key, c } = this;
    const suite = frostSuite(key.suite);
    const got = collectInbox(inbox, { session: c.session, round: 1, self: key.self, from: c.signers, broadcast: true });
    const commitments = readCommitments(suite, c, got);
    commitments[key.self] = [n.D, n.E];
    // Consume before use: whatever happens next, these nonces never sign again (in this object, and
    // through the ledger in any restored copy of it).
    this.nonces = null;
    if (this.ledger && !this.ledger.consume(nonceId(hexToBytes(n.D), hexToBytes(n.E)))) {
      throw new ProtocolMisuse('frost_nonce_reused', 'these signing nonces were already used by a restored copy of this round');
    }
    const v = runValues(suite, key, c, commitmentList(suite, key, c.signers, commitments));
    const me = keyIdentifiers(suite, key).scalar(key.self);
    const z = signatureShare(suite, v, me, {
      hiding: suite.Fn.fromBytes(hexToBytes(n.hiding)), binding: suite.Fn.fromBytes(hexToBytes(n.binding)),
      D: hexToBytes(n.D), E: hexToBytes(n.E),
    }, suite.Fn.fromBytes(hexToBytes(key.signingShare)));
    const share = suite.Fn.toBytes(z);
    const payload = encodePayload(TAG2, c.session, [share]);
    const next = new SignRound2(key, c, commitments, bytesToHex(share));
    return { kind: 'next', next, outbox: [{ session: c.session, from: key.self, to: null, round: 2, payload }] };
  }

  serialize(): RoundState {
    if (this.nonces === null) throw new ProtocolMisuse('frost_nonce_reused', 'these signing nonces were already used');
    return {
      protocol: SIGN_PROTOCOL, round: 1, session: this.c.session,
      data: { common: { ...this.c }, key: keyShareJson(this.key), nonces: { ...this.nonces } },
    };
  }
}

const verified = new Set<string>();

/**
 * BIP-340 verification: libsecp256k1 (tiny-secp256k1) for the 32-byte messages Taproot signs
 * (about a tenth of @noble/curves' time here), @noble/curves for other lengths.
 */
export function bip340Verify(sig: Uint8Array, msg: Uint8Array, pub: Uint8Array): boolean {
  if (msg.length !== 32 || sig.length !== 64 || pub.length !== 32) return schnorr.verify(sig, msg, pub);
  try {
    return verifySchnorr(msg, pub, sig);
  } catch {
    return false; // a public key that is not a valid x coordinate
  }
}

/** The chain's verifier for this suite; successful results are remembered (public inputs only). */
function standardVerify(suite: FrostSuite, sig: Uint8Array, msg: Uint8Array, pub: Uint8Array): boolean {
  const memo = bytesToHex(sha256(concatBytes(Uint8Array.of(sig.length, pub.length), sig, pub, msg)));
  if (verified.has(memo)) return true;
  const ok = suite.name === 'ed25519' ? edVerify(sig, msg, bytesToHex(pub))
    : suite.name === 'bip340' ? bip340Verify(sig, msg, pub)
      : suite.frost.verify(sig, msg, pub);
  if (ok) {
    if (verified.size >= 1024) verified.delete(verified.values().next().value as string);
    verified.add(memo);
  }
  return ok;
}

/** Round 2: aggregates the shares; a share that does not verify names its signer. */
class SignRound2 implements Round<FrostSignature> {
  readonly protocol = SIGN_PROTOCOL;
  readonly number = 2;
  constructor(
    private readonly key: FrostKeyShare,
    private readonly c: Common,
    private readonly commitments: Record<PartyId, [string, string]>,
    private readonly ownShare: string,
  ) {}
  get session(): string {
    return this.c.session;
  }

  finalize(inbox: readonly Message[]): RoundResult<FrostSignature> {
    const { key, c } = this;
    const suite = frostSuite(key.suite);
    const got = collectInbox(inbox, { session: c.session, round: 2, self: key.self, from: c.signers, broadcast: true });
    const shares = readShares(suite, c, got);
    shares.set(key.self, suite.Fn.fromBytes(hexToBytes(this.ownShare)));
    return { kind: 'done', output: aggregate(suite, key, c, this.commitments, shares), outbox: [] };
  }

  serialize(): RoundState {
    return {
      protocol: SIGN_PROTOCOL, round: 2, session: this.c.session,
      data: { common: { ...this.c }, key: keyShareJson(this.key), commitments: this.commitments, ownShare: this.ownShare },
    };
  }
}

/** Decodes and checks round-1 commitment broadcasts (points valid, same signing context). */
function readCommitments(suite: FrostSuite, c: Common, got: Map<PartyId, Uint8Array>): Record<PartyId, [string, string]> {
  const commitments: Record<PartyId, [string, string]> = {};
  for (const [from, payload] of got) {
    const [h, b, ctx] = decodePayload(payload, TAG1, c.session, 3, from) as [Uint8Array, Uint8Array, Uint8Array];
    decodePointCached(suite, h, from, 'hiding nonce commitment');
    decodePointCached(suite, b, from, 'binding nonce commitment');
    if (bytesToHex(ctx) !== c.context) {
      throw new ProtocolAbort('frost_sign_context_mismatch', `${from} is signing something else (message, signers, key or tweak differ)`, [from]);
    }
    commitments[from] = [bytesToHex(h), bytesToHex(b)];
  }
  return commitments;
}

/** Decodes round-2 signature shares, naming senders of non-canonical ones. */
function readShares(suite: FrostSuite, c: Common, got: Map<PartyId, Uint8Array>): Map<PartyId, bigint> {
  const shares = new Map<PartyId, bigint>();
  const malformed: PartyId[] = [];
  for (const [from, payload] of got) {
    const [z] = decodePayload(payload, TAG2, c.session, 1, from) as [Uint8Array];
    const zi = z.length === suite.Fn.BYTES ? bytesToBigintChecked(suite, z) : null;
    if (zi === null) malformed.push(from);
    else shares.set(from, zi);
  }
  if (malformed.length > 0) throw new ProtocolAbort('frost_bad_signature_share', `invalid signature share from ${malformed.join(', ')}`, malformed);
  return shares;
}

/**
 * RFC 9591 §5.3 aggregation, checked with the chain's verifier; on failure §5.4 per-share checks
 * name the cheating signers.
 */
function aggregate(
  suite: FrostSuite, key: PublicPackage, c: Common, commitments: Record<PartyId, [string, string]>, shares: Map<PartyId, bigint>,
): FrostSignature {
  const list = commitmentList(suite, key, c.signers, commitments);
  const v = runValues(suite, key, c, list);
  let z = 0n;
  for (const p of c.signers) z = suite.Fn.add(z, shares.get(p) as bigint);
  const signature = encodeSignature(suite, v, z);
  const publicKey = verifyingKeyBytes(suite, v.key);
  const message = hexToBytes(c.message);
  if (standardVerify(suite, signature, message, publicKey)) return { signature, publicKey };
  const culprits = c.signers.filter((p, i) => {
    const Y = suite.decodePoint(hexToBytes(key.verifyingShares[p] as string), p, 'verifying share');
    return !verifyShare(suite, v, list[i] as SignerCommitment, shares.get(p) as bigint, effectiveVerifyingShare(suite, v.key, Y));
  });
  throw new ProtocolAbort('frost_bad_signature_share', culprits.length > 0
    ? `signature share from ${culprits.join(', ')} does not verify`
    : 'signature shares do not aggregate to a valid signature', culprits);
}

export interface AggregateParams {
  /** The key's public package (e.g. `publicPackage(keyShare)`, or kept by the coordinator). */
  readonly key: PublicPackage;
  readonly session: string;
  readonly signers: readonly PartyId[];
  readonly message: Uint8Array;
  readonly taprootMerkleRoot?: Uint8Array | undefined;
  /** The signers' round-1 broadcasts and round-2 broadcasts, as relayed. */
  readonly round1: readonly Message[];
  readonly round2: readonly Message[];
}

/**
 * Aggregation by a party that holds no share (the coordinator): checks every signer's round-1 and
 * round-2 messages exactly as a signer would and returns the signature, or aborts naming the
 * signers whose share does not verify.
 */
export function aggregateSignature(p: AggregateParams): FrostSignature {
  const suite = frostSuite(p.key.suite);
  checkSession(p.session);
  const signers = [...p.signers].sort();
  if (new Set(signers).size !== signers.length || !signers.every((s) => p.key.parties.includes(s)) || signers.length < p.key.threshold) {
    throw new ProtocolMisuse('frost_bad_signers', `signers must be at least ${p.key.threshold} distinct holders of this key`);
  }
  const base = {
    session: p.session, signers, message: bytesToHex(p.message),
    merkleRoot: p.taprootMerkleRoot === undefined ? null : bytesToHex(p.taprootMerkleRoot),
  };
  const c: Common = { ...base, context: signingContext(suite, p.key, base) };
  const observer = '\u0000aggregator';
  const commitments = readCommitments(suite, c, collectInbox(p.round1, { session: c.session, round: 1, self: observer, from: signers, broadcast: true }));
  const shares = readShares(suite, c, collectInbox(p.round2, { session: c.session, round: 2, self: observer, from: signers, broadcast: true }));
  return aggregate(suite, p.key, c, commitments, shares);
}

/** The public package of a key share (drops the secret share). */
export function publicPackage(key: FrostKeyShare): PublicPackage {
  return {
    suite: key.suite, threshold: key.threshold, parties: [...key.parties], identifiers: key.identifiers,
    commitment: [...key.commitment], verifyingShares: { ...key.verifyingShares },
  };
}

/** A canonical scalar (< group order) or null. */
function bytesToBigintChecked(suite: FrostSuite, b: Uint8Array): bigint | null {
  try {
    return suite.Fn.fromBytes(b);
  } catch {
    return null;
  }
}
