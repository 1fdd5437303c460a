/**
 * FROST signing (RFC 9591 §5) as two rounds per signer, on @noble/curves' `commit`, `signShare`
 * and `aggregate`:
 *
 * - start: fresh nonces (d, e) from the injected rng; broadcast their commitments (D, E) together
 *   with a hash of what is being signed (message, signer set, key, Taproot tweak), so signers that
 *   disagree on any of it stop before a share exists;
 * - round 1: the signature share z_i = d + e·ρ_i + λ_i·s_i·c, broadcast; the nonces are erased and
 *   the round refuses a second use (a nonce is single-use by construction of the API);
 * - round 2: aggregation; if the group signature does not verify, every share is checked against
 *   its verifying share and the cheating signers are named.
 *
 * Ed25519 signatures verify with `ed25519.verify`; BIP-340 ones with `schnorr.verify` under the
 * x-only group key, or, with `taprootMerkleRoot` set, under the BIP-341 tweaked output key.
 *
 * @example
 *   let res = startSign({ key, session, signers: ['n1', 'n2', 'n3'], message, rng });
 *   // deliver res.outbox; res = res.next.finalize(round1Inbox); deliver; res = res.next.finalize(round2Inbox)
 *   if (res.kind === 'done') broadcastTx(res.output.signature);
 */
import type { FrostPublic, FrostSecret, NonceCommitments, Nonces } from '@noble/curves/abstract/frost.js';
import { ed25519 } from '@noble/curves/ed25519.js';
import { schnorr } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, concatBytes, hexToBytes } from '@noble/hashes/utils.js';
import {
  collectInbox, ProtocolAbort, ProtocolMisuse,
  type Message, type PartyId, type Rng, type Round, type RoundResult, type RoundState,
} from '../round.js';
import { groupPublicKey, keyIdentifiers, keyShareJson, nobleSecret, noblePublic, parseKeyShare, type FrostKeyShare } from './key-share.js';
import { checkSession } from './params.js';
import { frostSuite, type FrostSuite } from './suite.js';
import { taprootOutputKey, tweakPublic, tweakSecret } from './taproot.js';
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
}

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

function signingContext(suite: FrostSuite, key: FrostKeyShare, c: Omit<Common, 'context'>): string {
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

/** The public and secret packages this signing run uses (tweaked for Taproot). */
function packages(suite: FrostSuite, key: FrostKeyShare, merkleRoot: string | null): { pub: FrostPublic; secret: FrostSecret | null } {
  const pub = noblePublic(suite, key);
  const secret = key.signingShare === '' ? null : nobleSecret(suite, key);
  if (merkleRoot === null) return { pub, secret };
  const root = hexToBytes(merkleRoot);
  return {
    pub: tweakPublic(pub, root),
    secret: secret && tweakSecret(secret, groupPublicKey(key), root),
  };
}

/** The key a signature of this run verifies under. */
export function signingPublicKey(key: Pick<FrostKeyShare, 'suite' | 'commitment'>, taprootMerkleRoot?: Uint8Array): Uint8Array {
  const P = groupPublicKey(key);
  if (key.suite !== 'bip340') return P;
  return taprootMerkleRoot === undefined ? P.subarray(1) : taprootOutputKey(P, taprootMerkleRoot);
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

/** Adapts the injected rng to noble's signature, refusing short output. */
function nobleRng(rng: Rng): (n?: number) => Uint8Array<ArrayBuffer> {
  return (n = 32) => {
    const out = rng(n);
    if (!(out instanceof Uint8Array) || out.length !== n) throw new ProtocolMisuse('frost_bad_rng', 'rng must return the requested number of bytes');
    return Uint8Array.from(out);
  };
}

/**
 * Starts a signing run: draws this signer's nonces and returns round 1 (which holds them, once) and
 * the commitment broadcast.
 */
export function startSign(params: SignParams & { readonly rng: Rng }): RoundResult<FrostSignature> {
  const key = params.key;
  const { suite, c } = checkParams(params);
  const { secret } = packages(suite, key, null);
  const { nonces, commitments } = suite.frost.commit(secret as FrostSecret, nobleRng(params.rng));
  const payload = encodePayload(TAG1, c.session, [commitments.hiding, commitments.binding, hexToBytes(c.context)]);
  const round = new SignRound1(key, c, { hiding: bytesToHex(nonces.hiding), binding: bytesToHex(nonces.binding) });
  nonces.hiding.fill(0);
  nonces.binding.fill(0);
  return { kind: 'next', next: round, outbox: [{ session: c.session, from: key.self, to: null, round: 1, payload }] };
}

/**
 * Restores a signing round from `serialize()` output. A round-1 state holds the nonces: the store
 * that keeps it must delete it as soon as the round has been finalized (it is single-use).
 */
export function restoreSign(state: RoundState): Round<FrostSignature> {
  if (state.protocol !== SIGN_PROTOCOL) throw new ProtocolMisuse('frost_bad_state', 'not a FROST signing state');
  const d = state.data as Record<string, unknown>;
  const c = d.common as unknown as Common;
  checkSession(c.session);
  if (state.session !== c.session) throw new ProtocolMisuse('frost_bad_state', 'session mismatch in signing state');
  if (state.round === 1) {
    const key = parseKeyShare(d.key);
    const again = checkParams({ key, session: c.session, signers: c.signers, message: hexToBytes(c.message), taprootMerkleRoot: c.merkleRoot === null ? undefined : hexToBytes(c.merkleRoot) });
    const n = d.nonces as { hiding: string; binding: string };
    return new SignRound1(key, again.c, { hiding: String(n.hiding), binding: String(n.binding) });
  }
  if (state.round === 2) {
    const pubKey = d.key as unknown as FrostKeyShare;
    return new SignRound2(pubKey, c, d.commitments as unknown as Record<PartyId, [string, string]>, String(d.ownShare));
  }
  throw new ProtocolMisuse('frost_bad_state', 'unknown signing round');
}

/** Round 1: consumes the nonces exactly once to produce this signer's share. */
class SignRound1 implements Round<FrostSignature> {
  readonly protocol = SIGN_PROTOCOL;
  readonly number = 1;
  private nonces: { hiding: string; binding: string } | null;
  constructor(private readonly key: FrostKeyShare, private readonly c: Common, nonces: { hiding: string; binding: string }) {
    this.nonces = nonces;
  }
  get session(): string {
    return this.c.session;
  }

  finalize(inbox: readonly Message[]): RoundResult<FrostSignature> {
    const nonceHex = this.nonces;
    if (nonceHex === null) throw new ProtocolMisuse('frost_nonce_reused', 'these signing nonces were already used; start a new signing session');
    const { key, c } = this;
    const suite = frostSuite(key.suite);
    const got = collectInbox(inbox, { session: c.session, round: 1, self: key.self, from: c.signers, broadcast: true });
    const commitments: Record<PartyId, [string, string]> = {};
    for (const [from, payload] of got) {
      const [h, b, ctx] = decodePayload(payload, TAG1, c.session, 3, from) as [Uint8Array, Uint8Array, Uint8Array];
      suite.decodePoint(h, from, 'hiding nonce commitment');
      suite.decodePoint(b, from, 'binding nonce commitment');
      if (bytesToHex(ctx) !== c.context) {
        throw new ProtocolAbort('frost_sign_context_mismatch', `${from} is signing something else (message, signers, key or tweak differ)`, [from]);
      }
      commitments[from] = [bytesToHex(h), bytesToHex(b)];
    }
    // Consume before use: whatever happens next, these nonces never sign again.
    this.nonces = null;
    const nonces: Nonces = { hiding: hexToBytes(nonceHex.hiding), binding: hexToBytes(nonceHex.binding) } as Nonces;
    const ownD = suite.Point.BASE.multiply(suite.Fn.fromBytes(nonces.hiding)).toBytes();
    const ownE = suite.Point.BASE.multiply(suite.Fn.fromBytes(nonces.binding)).toBytes();
    commitments[key.self] = [bytesToHex(ownD), bytesToHex(ownE)];
    const list = commitmentList(suite, key, c.signers, commitments);
    const { pub, secret } = packages(suite, key, c.merkleRoot);
    const share = suite.frost.signShare(secret as FrostSecret, pub, nonces, list, hexToBytes(c.message));
    nonces.hiding.fill(0);
    nonces.binding.fill(0);
    const payload = encodePayload(TAG2, c.session, [share]);
    const next = new SignRound2(publicView(key), c, commitments, bytesToHex(share));
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

/** The key share without its secret (all that aggregation needs). */
function publicView(key: FrostKeyShare): FrostKeyShare {
  return { ...key, signingShare: '' };
}

function commitmentList(suite: FrostSuite, key: FrostKeyShare, signers: readonly PartyId[], commitments: Record<PartyId, [string, string]>): NonceCommitments[] {
  const ids = keyIdentifiers(suite, key);
  return signers.map((p) => {
    const [h, b] = commitments[p] as [string, string];
    return { identifier: ids.hex(p), hiding: hexToBytes(h), binding: hexToBytes(b) } as NonceCommitments;
  });
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
    const ids = keyIdentifiers(suite, key);
    const shares: Record<string, Uint8Array> = { [ids.hex(key.self)]: hexToBytes(this.ownShare) };
    const partyOf = new Map<string, PartyId>(c.signers.map((p) => [ids.hex(p), p]));
    const culprits: PartyId[] = [];
    for (const [from, payload] of got) {
      const [z] = decodePayload(payload, TAG2, c.session, 1, from) as [Uint8Array];
      const zi = suite.decodeScalar(z, from, 'signature share');
      // A share ≥ the group order is malformed, not merely wrong: name it without asking noble.
      if (!suite.Fn.isValid(zi)) culprits.push(from);
      shares[ids.hex(from)] = z;
    }
    if (culprits.length > 0) throw new ProtocolAbort('frost_bad_signature_share', `invalid signature share from ${culprits.join(', ')}`, culprits);
    const signature = aggregateShares(suite, key, c, this.commitments, shares, partyOf);
    return { kind: 'done', output: signature, outbox: [] };
  }

  serialize(): RoundState {
    return {
      protocol: SIGN_PROTOCOL, round: 2, session: this.c.session,
      data: {
        common: { ...this.c },
        key: keyShareJson(this.key),
        commitments: this.commitments, ownShare: this.ownShare,
      },
    };
  }
}

function aggregateShares(
  suite: FrostSuite, key: FrostKeyShare, c: Common, commitments: Record<PartyId, [string, string]>,
  shares: Record<string, Uint8Array>, partyOf: Map<string, PartyId>,
): FrostSignature {
  const { pub } = packages(suite, key, c.merkleRoot);
  const list = commitmentList(suite, key, c.signers, commitments);
  const message = hexToBytes(c.message);
  let signature: Uint8Array;
  try {
    signature = suite.frost.aggregate(pub, list, message, shares);
  } catch (e) {
    // noble verifies the group signature, and on failure every share against its verifying share.
    const cheaters = (e as { cheaters?: unknown }).cheaters;
    const named = Array.isArray(cheaters) ? cheaters.map((id) => partyOf.get(String(id)) ?? String(id)) : [];
    throw new ProtocolAbort('frost_bad_signature_share', named.length > 0
      ? `signature share from ${named.join(', ')} does not verify`
      : 'signature shares do not aggregate to a valid signature', named);
  }
  const merkleRoot = c.merkleRoot === null ? undefined : hexToBytes(c.merkleRoot);
  const publicKey = signingPublicKey(key, merkleRoot);
  // Independent check with the plain single-key verifier the chain will use.
  const ok = suite.name === 'ed25519' ? ed25519.verify(signature, message, publicKey)
    : suite.name === 'bip340' ? schnorr.verify(signature, message, publicKey)
      : suite.frost.verify(signature, message, publicKey);
  if (!ok) throw new ProtocolAbort('frost_signature_invalid', 'aggregated signature does not verify', []);
  return { signature, publicKey };
}
