/**
 * The two FROST ciphersuites custos runs, behind one small interface: FROST(Ed25519, SHA-512) for
 * Solana and FROST(secp256k1, SHA-256)-TR for Bitcoin Taproot (BIP-340 signatures). The RFC 9591
 * signing steps are @noble/curves' (`ed25519_FROST`, `schnorr_FROST`); this module adds what the
 * DKG and the share refresh need: point and scalar codecs that reject bad encodings, party
 * identifiers, and a domain-separated hash to scalars.
 *
 * @example
 *   const suite = frostSuite('ed25519');
 *   const ids = suite.identifiers('derived', ['node-1', 'node-2']);
 *   ids.hex('node-1');                                 // RFC 9591 identifier (hex scalar)
 *   const P = suite.decodePoint(bytes, 'node-2', 'commitment');
 */
import { ed25519, ed25519_FROST } from '@noble/curves/ed25519.js';
import { schnorr_FROST, secp256k1, secp256k1_FROST } from '@noble/curves/secp256k1.js';
import type { FROST } from '@noble/curves/abstract/frost.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { bytesToHex, concatBytes, hexToBytes } from '@noble/hashes/utils.js';
import { ProtocolAbort, ProtocolMisuse, type PartyId } from '../round.js';
import { Memo } from './memo.js';

/**
 * `ed25519`: FROST(Ed25519, SHA-512), Solana. `bip340`: FROST(secp256k1, SHA-256)-TR, Taproot.
 * `secp256k1`: plain RFC 9591 FROST(secp256k1, SHA-256) (its signatures are not BIP-340; kept for
 * the RFC test vectors and for interoperability).
 */
export type SuiteName = 'ed25519' | 'bip340' | 'secp256k1';

/**
 * How parties map to RFC 9591 identifiers. `derived` (default): hashed from the party id, so it
 * never depends on the party list. `index`: 1-based position in the sorted party list (what RFC 9591
 * test vectors and most dealers use).
 */
export type IdentifierScheme = 'derived' | 'index';

/** The identifiers of one key's parties. */
export interface PartyIdentifiers {
  /** RFC 9591 identifier as noble's canonical hex. */
  hex(party: PartyId): string;
  scalar(party: PartyId): bigint;
}

/** The point operations the protocols use (both curves' noble points satisfy it). */
export interface GroupPoint {
  add(other: GroupPoint): GroupPoint;
  subtract(other: GroupPoint): GroupPoint;
  negate(): GroupPoint;
  multiply(scalar: bigint): GroupPoint;
  multiplyUnsafe(scalar: bigint): GroupPoint;
  equals(other: GroupPoint): boolean;
  is0(): boolean;
  toBytes(): Uint8Array;
  assertValidity(): void;
  isTorsionFree(): boolean;
}

interface PointConstructor {
  BASE: GroupPoint;
  ZERO: GroupPoint;
  fromBytes(bytes: Uint8Array): GroupPoint;
}

interface ScalarField {
  ORDER: bigint;
  BYTES: number;
  create(n: bigint): bigint;
  add(a: bigint, b: bigint): bigint;
  sub(a: bigint, b: bigint): bigint;
  mul(a: bigint, b: bigint): bigint;
  neg(a: bigint): bigint;
  inv(a: bigint): bigint;
  isValid(n: bigint): boolean;
  is0(n: bigint): boolean;
  fromBytes(b: Uint8Array): bigint;
  toBytes(n: bigint): Uint8Array;
}

export interface FrostSuite {
  readonly name: SuiteName;
  /** noble's RFC 9591 implementation for this suite. */
  readonly frost: FROST;
  readonly Point: PointConstructor;
  readonly Fn: ScalarField;
  /** Length of an encoded point (32 for Ed25519, 33 compressed for secp256k1). */
  readonly pointBytes: number;
  /** Identifiers of `parties` (sorted) under `scheme`; throws for a party outside the list. */
  identifiers(scheme: IdentifierScheme, parties: readonly PartyId[]): PartyIdentifiers;
  /**
   * Decodes a public point from a peer: rejects bad encodings, the identity (unless `allowIdentity`,
   * encoded as all-zero bytes) and points outside the prime-order subgroup, naming `from`.
   */
  decodePoint(bytes: Uint8Array, from: PartyId, what: string, allowIdentity?: boolean): GroupPoint;
  /** Encodes a point; the identity becomes all-zero bytes (only refresh commitments carry it). */
  encodePoint(p: GroupPoint): Uint8Array;
  /** Decodes a canonical scalar (must be < order), naming `from` on failure. */
  decodeScalar(bytes: Uint8Array, from: PartyId, what: string): bigint;
  /** Domain-separated hash to a scalar (SHA-512 reduced mod the group order). */
  hashToScalar(domain: string, ...parts: Uint8Array[]): bigint;
}

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

function makeSuite(name: SuiteName, frost: FROST, Point: PointConstructor, pointBytes: number): FrostSuite {
  const Fn = frost.utils.Fn as unknown as ScalarField;
  const zero = new Uint8Array(pointBytes);
  const identifierSets = new Memo<PartyIdentifiers>(256);
  const makeIdentifiers = (scheme: IdentifierScheme, parties: readonly PartyId[]): PartyIdentifiers => {
    const hex = new Map<PartyId, string>();
    [...parties].sort().forEach((p, i) => {
      hex.set(p, scheme === 'index' ? frost.Identifier.fromNumber(i + 1) : frost.Identifier.derive(`custos/party/${p}`));
    });
    const scalars = new Map<PartyId, bigint>([...hex].map(([p, h]) => [p, Fn.fromBytes(hexToBytes(h))]));
    const get = <V>(m: Map<PartyId, V>, p: PartyId): V => {
      const v = m.get(p);
      if (v === undefined) throw new ProtocolMisuse('frost_unknown_party', 'party is not part of this key');
      return v;
    };
    return { hex: (p) => get(hex, p), scalar: (p) => get(scalars, p) };
  };
  const suite: FrostSuite = {
    name,
    frost,
    Point,
    Fn,
    pointBytes,
    identifiers(scheme, parties) {
      if (scheme !== 'derived' && scheme !== 'index') throw new ProtocolMisuse('frost_bad_identifier_scheme', 'unknown identifier scheme');
      return identifierSets.get(`${scheme}\u0000${[...parties].sort().join('\u0000')}`, () => makeIdentifiers(scheme, parties));
    },
    decodePoint(bytes, from, what, allowIdentity = false) {
      const bad = (): ProtocolAbort =>
        new ProtocolAbort('frost_bad_point', `invalid ${what} point from ${from}`, [from]);
      if (bytes.length !== pointBytes) throw bad();
      if (bytes.every((b) => b === 0)) {
        if (allowIdentity) return Point.ZERO;
        throw bad();
      }
      let p: GroupPoint;
      try {
        p = Point.fromBytes(bytes);
        p.assertValidity();
      } catch {
        throw bad();
      }
      if (p.is0() || !p.isTorsionFree()) throw bad();
      // Canonical encodings only: the bytes a party committed to are the bytes everybody hashes.
      if (bytesToHex(p.toBytes()) !== bytesToHex(bytes)) throw bad();
      return p;
    },
    encodePoint(p) {
      return p.is0() ? zero.slice() : p.toBytes();
    },
    decodeScalar(bytes, from, what) {
      if (bytes.length !== Fn.BYTES) {
        throw new ProtocolAbort('frost_bad_scalar', `invalid ${what} from ${from}`, [from]);
      }
      let n: bigint;
      try {
        n = Fn.fromBytes(bytes);
      } catch {
        throw new ProtocolAbort('frost_bad_scalar', `invalid ${what} from ${from}`, [from]);
      }
      return n;
    },
    hashToScalar(domain, ...parts) {
      const tag = utf8(`custos/frost/${name}/${domain}`);
      const h = sha512(concatBytes(Uint8Array.of(tag.length), tag, ...parts));
      let n = 0n;
      for (const b of h) n = (n << 8n) | BigInt(b);
      return Fn.create(n);
    },
  };
  return suite;
}

const suites: Record<SuiteName, FrostSuite> = {
  ed25519: makeSuite('ed25519', ed25519_FROST, ed25519.Point as unknown as PointConstructor, 32),
  bip340: makeSuite('bip340', schnorr_FROST, secp256k1.Point as unknown as PointConstructor, 33),
  secp256k1: makeSuite('secp256k1', secp256k1_FROST, secp256k1.Point as unknown as PointConstructor, 33),
};

/** Returns the ciphersuite by name; throws `ProtocolMisuse` for an unknown name. */
export function frostSuite(name: SuiteName): FrostSuite {
  const s = (suites as Record<string, FrostSuite | undefined>)[name];
  if (!s) throw new ProtocolMisuse('frost_unknown_suite', 'unknown FROST ciphersuite');
  return s;
}

const evaluations = new Memo<GroupPoint>(4096);

/**
 * Evaluates the public polynomial Σ C_k·x^k (Feldman check of a share at identifier x). Memoised:
 * every party of a key evaluates the same group commitment at the same identifiers.
 */
export function evaluateCommitment(suite: FrostSuite, commitment: readonly GroupPoint[], x: bigint): GroupPoint {
  const key = `${suite.name}:${x.toString(16)}:${commitment.map((p) => bytesToHex(suite.encodePoint(p))).join('')}`;
  return evaluations.get(key, () => evaluateUncached(suite, commitment, x));
}

function evaluateUncached(suite: FrostSuite, commitment: readonly GroupPoint[], x: bigint): GroupPoint {
  let acc = suite.Point.ZERO;
  for (let k = commitment.length - 1; k >= 0; k--) {
    acc = acc.multiplyUnsafe(x).add(commitment[k] as GroupPoint);
  }
  return acc;
}

/** Evaluates a secret polynomial Σ a_k·x^k (Horner, in the scalar field). */
export function evaluatePolynomial(suite: FrostSuite, coefficients: readonly bigint[], x: bigint): bigint {
  let acc = 0n;
  for (let k = coefficients.length - 1; k >= 0; k--) acc = suite.Fn.add(suite.Fn.mul(acc, x), coefficients[k] as bigint);
  return acc;
}

/** s·G for a secret scalar: constant-time, and 0 maps to the identity. */
export function baseMulSecret(suite: FrostSuite, s: bigint): GroupPoint {
  return s === 0n ? suite.Point.ZERO : suite.Point.BASE.multiply(s);
}

/** Uniform non-zero scalar from injected randomness (64 bytes reduced: negligible bias). */
export function randomScalar(suite: FrostSuite, rng: (n: number) => Uint8Array): bigint {
  for (;;) {
    const bytes = rng(64);
    if (!(bytes instanceof Uint8Array) || bytes.length !== 64) {
      throw new ProtocolMisuse('frost_bad_rng', 'rng must return the requested number of bytes');
    }
    let n = 0n;
    for (const b of bytes) n = (n << 8n) | BigInt(b);
    const s = suite.Fn.create(n);
    if (s !== 0n) return s;
  }
}
