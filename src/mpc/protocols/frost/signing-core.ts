/**
 * The RFC 9591 signing arithmetic (§4 helper functions, §5.2 sign, §5.3 aggregate, §5.4 share
 * verification) for the three ciphersuites, written over @noble/curves points and hashes so that
 * work on public values is done once: validated points, binding factors, the group commitment,
 * Lagrange coefficients and the tweaked group key are memoised in small bounded caches keyed by the
 * exact public bytes they derive from. Secret values are never cached.
 *
 * BIP-340 (FROST(secp256k1, SHA-256)-TR) differs from RFC 9591 as frost-secp256k1-tr and noble's
 * `schnorr_FROST` do: the group key is made even-Y (share and verifying shares negated with it),
 * signers negate their nonces when the group commitment R has odd Y, the challenge is BIP-340's
 * tagged hash over x-only encodings, and the signature is x(R) || z.
 *
 * The RFC 9591 test vectors (ed25519, secp256k1) pin this module; BIP-340 signatures are checked
 * with `schnorr.verify` and against noble's `schnorr_FROST.signShare` in the tests.
 *
 * @example
 *   const nonce = generateNonces(suite, share, rng);                  // d, e and D, E
 *   const v = signingValues(suite, effectiveKey, commitments, message);
 *   const z = signatureShare(suite, v, myId, nonce, secretShare);
 */
import { mulAddUnsafe } from '@noble/curves/abstract/curve.js';
import { schnorr, secp256k1_hasher } from '@noble/curves/secp256k1.js';
import { sha256, sha512 } from '@noble/hashes/sha2.js';
import { bytesToHex, concatBytes } from '@noble/hashes/utils.js';
import { pointAdd, pointFromScalar, pointMultiply } from 'tiny-secp256k1';
import { ProtocolMisuse, type PartyId, type Rng } from '../round.js';
import { Memo } from './memo.js';
import type { FrostSuite, GroupPoint, SuiteName } from './suite.js';
import { taprootTweak } from './taproot.js';

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

function leToBigint(b: Uint8Array): bigint {
  let n = 0n;
  for (let i = b.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(b[i] as number);
  return n;
}
function beToBigint(b: Uint8Array): bigint {
  let n = 0n;
  for (const x of b) n = (n << 8n) | BigInt(x);
  return n;
}

interface Hashes {
  readonly context: string;
  H1(m: Uint8Array): bigint;
  H3(m: Uint8Array): bigint;
  H4(m: Uint8Array): Uint8Array;
  H5(m: Uint8Array): Uint8Array;
  challenge(R: GroupPoint, PK: GroupPoint, msg: Uint8Array): bigint;
}

const L_ED = 2n ** 252n + 27742317777372353535851937790883648493n;
const N_K1 = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

function ed25519Hashes(): Hashes {
  const ctx = 'FROST-ED25519-SHA512-v1';
  const h = (tag: string, m: Uint8Array): Uint8Array => sha512(concatBytes(utf8(ctx + tag), m));
  return {
    context: ctx,
    H1: (m) => leToBigint(h('rho', m)) % L_ED,
    H3: (m) => leToBigint(h('nonce', m)) % L_ED,
    H4: (m) => h('msg', m),
    H5: (m) => h('com', m),
    // RFC 9591 §6.1: H2 is undecorated SHA-512 for RFC 8032 compatibility.
    challenge: (R, PK, msg) => leToBigint(sha512(concatBytes(R.toBytes(), PK.toBytes(), msg))) % L_ED,
  };
}

function secp256k1Hashes(ctx: string, bip340: boolean): Hashes {
  const field = (tag: string) => (m: Uint8Array): bigint => secp256k1_hasher.hashToScalar(m, { DST: utf8(ctx + tag) });
  const h = (tag: string, m: Uint8Array): Uint8Array => sha256(concatBytes(utf8(ctx + tag), m));
  const H2 = field('chal');
  return {
    context: ctx,
    H1: field('rho'),
    H3: field('nonce'),
    H4: (m) => h('msg', m),
    H5: (m) => h('com', m),
    challenge: bip340
      // BIP-340: tagged hash over x-only R and P (the key is even-Y here; R's sign does not matter).
      ? (R, PK, msg) => beToBigint(schnorr.utils.taggedHash('BIP0340/challenge', R.toBytes().subarray(1), PK.toBytes().subarray(1), msg)) % N_K1
      : (R, PK, msg) => H2(concatBytes(R.toBytes(), PK.toBytes(), msg)),
  };
}

const hashes: Record<SuiteName, Hashes> = {
  ed25519: ed25519Hashes(),
  secp256k1: secp256k1Hashes('FROST-secp256k1-SHA256-v1', false),
  bip340: secp256k1Hashes('FROST-secp256k1-SHA256-TR-v1', true),
};

const validPoints = new Memo<GroupPoint>(4096);

/**
 * `suite.decodePoint` with a memo of points already validated in this process (a point's validity
 * is a function of its bytes). Points this party computed itself enter through `rememberPoint`.
 */
export function decodePointCached(suite: FrostSuite, bytes: Uint8Array, from: PartyId, what: string): GroupPoint {
  return validPoints.get(`${suite.name}:${bytesToHex(bytes)}`, () => suite.decodePoint(bytes, from, what));
}

function rememberPoint(suite: FrostSuite, p: GroupPoint): Uint8Array {
  const bytes = p.toBytes();
  validPoints.put(`${suite.name}:${bytesToHex(bytes)}`, p);
  return bytes;
}

/** The group key a signing run actually uses, with the sign flips the secret side must mirror. */
export interface EffectiveKey {
  /** The key the signature verifies under (BIP-340: even-Y, tweaked if Taproot). */
  readonly point: GroupPoint;
  /** s_eff = flip2 · (flip1 · s + tweak) — BIP-340 only; otherwise flips are 1 and tweak 0. */
  readonly flip1: 1 | -1;
  readonly flip2: 1 | -1;
  readonly tweak: bigint;
}

const keys = new Memo<EffectiveKey>(256);

const isOdd = (p: GroupPoint): boolean => ((p.toBytes()[0] as number) & 1) === 1;

/** Even-Y normalisation and the optional BIP-341 tweak of the group key (memoised). */
export function effectiveKey(suite: FrostSuite, groupKey: Uint8Array, merkleRoot: Uint8Array | null): EffectiveKey {
  const root = merkleRoot === null ? '-' : bytesToHex(merkleRoot);
  return keys.get(`${suite.name}:${bytesToHex(groupKey)}:${root}`, () => {
    const P = suite.decodePoint(groupKey, 'self', 'group key');
    if (suite.name !== 'bip340') return { point: P, flip1: 1, flip2: 1, tweak: 0n };
    let Q = P;
    let flip1: 1 | -1 = 1;
    let tweak = 0n;
    if (merkleRoot !== null) {
      if (isOdd(P)) {
        flip1 = -1;
        Q = P.negate();
      }
      tweak = taprootTweak(groupKey, merkleRoot);
      Q = Q.add(suite.Point.BASE.multiply(tweak));
      if (Q.is0()) throw new ProtocolMisuse('frost_bad_tweak', 'tweaked key is the identity');
    }
    const flip2: 1 | -1 = isOdd(Q) ? -1 : 1;
    return { point: flip2 === 1 ? Q : Q.negate(), flip1, flip2, tweak };
  });
}

/** The secret share as used for this run (BIP-340 flips and tweak applied). */
function effectiveSecret(suite: FrostSuite, k: EffectiveKey, s: bigint): bigint {
  const Fn = suite.Fn;
  let x = k.flip1 === 1 ? s : Fn.neg(s);
  x = Fn.add(x, k.tweak);
  return k.flip2 === 1 ? x : Fn.neg(x);
}

/** A party's verifying share as used for this run (public; only needed to name a cheater). */
export function effectiveVerifyingShare(suite: FrostSuite, k: EffectiveKey, Y: GroupPoint): GroupPoint {
  let x = k.flip1 === 1 ? Y : Y.negate();
  if (k.tweak !== 0n) x = x.add(suite.Point.BASE.multiply(k.tweak));
  return k.flip2 === 1 ? x : x.negate();
}

export interface SignerNonces {
  readonly hiding: bigint;
  readonly binding: bigint;
  readonly D: Uint8Array;
  readonly E: Uint8Array;
}

/** RFC 9591 §4.1 nonce_generate twice and §5.1 commit: d, e = H3(random_bytes(32) || s); D = d·G, E = e·G. */
export function generateNonces(suite: FrostSuite, secretShare: bigint, rng: Rng): SignerNonces {
  const H = hashes[suite.name];
  const sBytes = suite.Fn.toBytes(secretShare);
  const draw = (): bigint => {
    const r = rng(32);
    if (!(r instanceof Uint8Array) || r.length !== 32) throw new ProtocolMisuse('frost_bad_rng', 'rng must return the requested number of bytes');
    return H.H3(concatBytes(r, sBytes));
  };
  const hiding = draw();
  const binding = draw();
  if (hiding === 0n || binding === 0n) throw new ProtocolMisuse('frost_bad_rng', 'nonce is zero');
  return { hiding, binding, D: rememberPoint(suite, baseMultiply(suite, hiding)), E: rememberPoint(suite, baseMultiply(suite, binding)) };
}

/**
 * k·G for a SECRET nonce k (0 < k < n). On secp256k1 through libsecp256k1's constant-time
 * generator multiplication (tiny-secp256k1 `pointFromScalar`, made for secret keys; about a tenth
 * of @noble/curves' time here); elsewhere, and if it declines, @noble/curves' constant-time path.
 */
export function baseMultiply(suite: FrostSuite, k: bigint): GroupPoint {
  if (suite.name === 'bip340' || suite.name === 'secp256k1') {
    const scalar = suite.Fn.toBytes(k);
    try {
      const p = pointFromScalar(scalar, true);
      if (p) return suite.Point.fromBytes(p);
    } catch {
      // not a scalar libsecp256k1 takes: the general path below decides
    } finally {
      scalar.fill(0);
    }
  }
  return suite.Point.BASE.multiply(k);
}

/** One signer's published commitment pair, already validated. */
export interface SignerCommitment {
  readonly id: bigint;
  readonly D: GroupPoint;
  readonly E: GroupPoint;
  /** The canonical encodings of D and E (as received; saves re-encoding). */
  readonly Dbytes: Uint8Array;
  readonly Ebytes: Uint8Array;
}

export interface SigningValues {
  readonly key: EffectiveKey;
  /** Group commitment R as computed by RFC 9591 §4.5 (before any BIP-340 negation). */
  readonly R: GroupPoint;
  /** BIP-340: signers negate nonces because R has odd Y. */
  readonly negateNonces: boolean;
  readonly challenge: bigint;
  readonly rho: ReadonlyMap<bigint, bigint>;
  readonly lambda: ReadonlyMap<bigint, bigint>;
}

const values = new Memo<SigningValues>(256);

/**
 * Σ ρ_i·E_i on secp256k1 through libsecp256k1 (tiny-secp256k1: 0.85 ms for three signers here,
 * against 2.1 ms for @noble/curves' multi-scalar multiplication). Public inputs only (binding
 * factors and commitments). Null when an intermediate is the identity or a scalar is zero, which
 * libsecp256k1's point functions do not represent: the caller then takes the @noble/curves path.
 */
export function secp256k1Combination(suite: FrostSuite, points: readonly Uint8Array[], scalars: readonly bigint[]): GroupPoint | null {
  try {
    let acc: Uint8Array | null = null;
    for (let i = 0; i < points.length; i++) {
      const k = scalars[i] as bigint;
      if (k === 0n) return null;
      const term = pointMultiply(points[i] as Uint8Array, suite.Fn.toBytes(k), true);
      if (!term) return null;
      acc = acc === null ? term : pointAdd(acc, term, true);
      if (!acc) return null;
    }
    return acc === null ? null : suite.Point.fromBytes(acc);
  } catch {
    return null; // not a point libsecp256k1 takes: the @noble/curves path decides
  }
}

/**
 * RFC 9591 §4.4 binding factors, §4.5 group commitment, §4.6 challenge and §4.2 Lagrange
 * coefficients for one signing run (memoised by the exact public inputs).
 */
export function signingValues(suite: FrostSuite, key: EffectiveKey, list: readonly SignerCommitment[], msg: Uint8Array): SigningValues {
  const H = hashes[suite.name];
  const Fn = suite.Fn;
  const sorted = [...list].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (let i = 1; i < sorted.length; i++) {
    if ((sorted[i] as SignerCommitment).id === (sorted[i - 1] as SignerCommitment).id) throw new ProtocolMisuse('frost_bad_signers', 'duplicate signer');
  }
  const encoded = concatBytes(...sorted.flatMap((c) => [Fn.toBytes(c.id), c.Dbytes, c.Ebytes]));
  const pk = key.point.toBytes();
  // Everything the values depend on, including the sign flips and tweak the secret side will apply.
  const memoKey = `${suite.name}:${bytesToHex(pk)}:${key.flip1}:${key.flip2}:${key.tweak.toString(16)}:${bytesToHex(sha256(concatBytes(encoded, sha256(msg))))}:${msg.length}`;
  return values.get(memoKey, () => {
    const prefix = concatBytes(pk, H.H4(msg), H.H5(encoded));
    const rho = new Map<bigint, bigint>();
    for (const c of sorted) rho.set(c.id, H.H1(concatBytes(prefix, Fn.toBytes(c.id))));
    let hidingSum = suite.Point.ZERO;
    for (const c of sorted) hidingSum = hidingSum.add(c.D);
    const Rb = (suite.name === 'bip340' ? secp256k1Combination(suite, sorted.map((c) => c.Ebytes), sorted.map((c) => rho.get(c.id) as bigint)) : null)
      ?? mulAddUnsafe(suite.Point as never, sorted.map((c) => c.E) as never[], sorted.map((c) => rho.get(c.id) as bigint)) as unknown as GroupPoint;
    const R = hidingSum.add(Rb);
    if (R.is0()) throw new ProtocolMisuse('frost_degenerate_commitment', 'group commitment is the identity');
    const negateNonces = suite.name === 'bip340' && isOdd(R);
    const Reff = negateNonces ? R.negate() : R;
    const challenge = H.challenge(Reff, key.point, msg);
    // λ_i = Π_{j≠i} x_j / (x_j - x_i), all denominators inverted with one inversion.
    const nums: bigint[] = [];
    const dens: bigint[] = [];
    for (const c of sorted) {
      let num = Fn.create(1n);
      let den = Fn.create(1n);
      for (const o of sorted) {
        if (o.id === c.id) continue;
        num = Fn.mul(num, o.id);
        den = Fn.mul(den, Fn.sub(o.id, c.id));
      }
      nums.push(num);
      dens.push(den);
    }
    const prefixes: bigint[] = [];
    let acc = Fn.create(1n);
    for (const d of dens) {
      prefixes.push(acc);
      acc = Fn.mul(acc, d);
    }
    let inv = Fn.inv(acc);
    const lambda = new Map<bigint, bigint>();
    for (let i = sorted.length - 1; i >= 0; i--) {
      lambda.set((sorted[i] as SignerCommitment).id, Fn.mul(nums[i] as bigint, Fn.mul(inv, prefixes[i] as bigint)));
      inv = Fn.mul(inv, dens[i] as bigint);
    }
    return { key, R, negateNonces, challenge, rho, lambda };
  });
}

/** RFC 9591 §5.2: z_i = d + e·ρ_i + λ_i·s_i·c (BIP-340: nonces negated when R is odd, share adjusted). */
export function signatureShare(suite: FrostSuite, v: SigningValues, id: bigint, nonces: SignerNonces, secretShare: bigint): bigint {
  const Fn = suite.Fn;
  const rho = v.rho.get(id);
  const lambda = v.lambda.get(id);
  if (rho === undefined || lambda === undefined) throw new ProtocolMisuse('frost_bad_signers', 'this signer is not in the commitment list');
  let d = nonces.hiding;
  let e = nonces.binding;
  if (v.negateNonces) {
    d = Fn.neg(d);
    e = Fn.neg(e);
  }
  const s = effectiveSecret(suite, v.key, secretShare);
  return Fn.add(Fn.add(d, Fn.mul(e, rho)), Fn.mul(Fn.mul(lambda, s), v.challenge));
}

/** RFC 9591 §5.4: z_i·G == ±(D_i + ρ_i·E_i) + (c·λ_i)·Y_i, with Y_i the run's effective verifying share. */
export function verifyShare(suite: FrostSuite, v: SigningValues, c: SignerCommitment, z: bigint, Y: GroupPoint): boolean {
  const rho = v.rho.get(c.id) as bigint;
  const lambda = v.lambda.get(c.id) as bigint;
  let comm = c.D.add(c.E.multiplyUnsafe(rho));
  if (v.negateNonces) comm = comm.negate();
  const rhs = comm.add(Y.multiplyUnsafe(suite.Fn.mul(v.challenge, lambda)));
  const lhs = z === 0n ? suite.Point.ZERO : suite.Point.BASE.multiplyUnsafe(z);
  return lhs.equals(rhs);
}

/** RFC 9591 §5.3 signature encoding: R || z (Ed25519: LE z; secp256k1: 33-byte R; BIP-340: x(R) || z). */
export function encodeSignature(suite: FrostSuite, v: SigningValues, z: bigint): Uint8Array {
  const Rb = v.R.toBytes();
  const zb = suite.Fn.toBytes(z);
  return concatBytes(suite.name === 'bip340' ? Rb.subarray(1) : Rb, zb);
}

/** Public key bytes the signature verifies under (BIP-340: x-only). */
export function verifyingKeyBytes(suite: FrostSuite, key: EffectiveKey): Uint8Array {
  const b = key.point.toBytes();
  return suite.name === 'bip340' ? b.subarray(1) : b;
}

