/**
 * A party's FROST key share: what DKG produces, refresh replaces and signing consumes. It is plain
 * JSON-safe data (hex strings), so a signing node can seal it and load it in another process.
 * `signingShare` is the only secret field; everything else is the public key package every party
 * agrees on (group commitment, verifying shares), checked for consistency on load.
 *
 * @example
 *   const json = JSON.stringify(keyShare);               // seal this, it holds the secret share
 *   const again = parseKeyShare(JSON.parse(json));       // throws frost_bad_key_share if inconsistent
 */
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { ProtocolMisuse, type Json, type PartyId } from '../round.js';
import {
  evaluateCommitment, frostSuite, type FrostSuite, type GroupPoint, type IdentifierScheme, type PartyIdentifiers, type SuiteName,
} from './suite.js';
import type { FrostPublic, FrostSecret } from '@noble/curves/abstract/frost.js';

export interface FrostKeyShare {
  readonly suite: SuiteName;
  /** This party. */
  readonly self: PartyId;
  /** Minimum number of signers (t). */
  readonly threshold: number;
  /** All n parties holding a share, sorted. */
  readonly parties: readonly PartyId[];
  /** How parties map to RFC 9591 identifiers. */
  readonly identifiers: IdentifierScheme;
  /** SECRET: this party's signing share (hex scalar). */
  readonly signingShare: string;
  /** Group VSS commitment (t encoded points, hex); element 0 is the group public key. */
  readonly commitment: readonly string[];
  /** Each party's verifying share s_j·G (hex point). */
  readonly verifyingShares: Readonly<Record<PartyId, string>>;
  /** 0 after DKG, +1 after every refresh. */
  readonly generation: number;
}

/** The RFC 9591 identifiers of this key's parties. */
export function keyIdentifiers(suite: FrostSuite, key: Pick<FrostKeyShare, 'identifiers' | 'parties'>): PartyIdentifiers {
  return suite.identifiers(key.identifiers, key.parties);
}

/** The group public key: 32 bytes (Ed25519) or 33 bytes compressed secp256k1 (internal, untweaked). */
export function groupPublicKey(key: Pick<FrostKeyShare, 'commitment'>): Uint8Array {
  return hexToBytes(key.commitment[0] as string);
}

const bad = (why: string): ProtocolMisuse => new ProtocolMisuse('frost_bad_key_share', `invalid FROST key share: ${why}`);

function isHex(s: unknown, bytes: number): s is string {
  return typeof s === 'string' && s.length === bytes * 2 && /^[0-9a-f]+$/.test(s);
}

/**
 * Validates untrusted JSON as a key share: shapes, that the signing share matches this party's
 * verifying share, and that every verifying share lies on the committed polynomial.
 */
export function parseKeyShare(json: unknown): FrostKeyShare {
  if (typeof json !== 'object' || json === null) throw bad('not an object');
  const o = json as Record<string, unknown>;
  if (o.suite !== 'ed25519' && o.suite !== 'bip340' && o.suite !== 'secp256k1') throw bad('unknown suite');
  if (o.identifiers !== 'derived' && o.identifiers !== 'index') throw bad('identifier scheme');
  const suite = frostSuite(o.suite);
  const parties = o.parties;
  if (!Array.isArray(parties) || parties.some((p) => typeof p !== 'string')) throw bad('parties');
  const n = parties.length;
  const t = o.threshold;
  if (typeof t !== 'number' || !Number.isSafeInteger(t) || t < 2 || t > n) throw bad('threshold');
  if (new Set(parties).size !== n || [...parties].sort().join('\u0000') !== parties.join('\u0000')) throw bad('parties not sorted and unique');
  if (typeof o.self !== 'string' || !parties.includes(o.self)) throw bad('self');
  if (!isHex(o.signingShare, suite.Fn.BYTES)) throw bad('signing share');
  const commitment = o.commitment;
  if (!Array.isArray(commitment) || commitment.length !== t || !commitment.every((c) => isHex(c, suite.pointBytes))) throw bad('commitment');
  const vs = o.verifyingShares;
  if (typeof vs !== 'object' || vs === null) throw bad('verifying shares');
  const vsr = vs as Record<string, unknown>;
  if (Object.keys(vsr).length !== n || !parties.every((p) => isHex(vsr[p], suite.pointBytes))) throw bad('verifying shares');
  const g = o.generation;
  if (typeof g !== 'number' || !Number.isSafeInteger(g) || g < 0) throw bad('generation');
  const key: FrostKeyShare = {
    suite: o.suite,
    self: o.self,
    threshold: t,
    parties: [...(parties as string[])],
    identifiers: o.identifiers,
    signingShare: o.signingShare,
    commitment: [...(commitment as string[])],
    verifyingShares: Object.fromEntries(parties.map((p) => [p, vsr[p] as string])),
    generation: g,
  };
  checkKeyShare(suite, key);
  return key;
}

/** Checks the public package against the commitment and the secret share against its verifying share. */
export function checkKeyShare(suite: FrostSuite, key: FrostKeyShare): void {
  let C: GroupPoint[];
  try {
    C = key.commitment.map((c) => suite.decodePoint(hexToBytes(c), key.self, 'commitment'));
  } catch {
    throw bad('commitment point');
  }
  const ids = keyIdentifiers(suite, key);
  for (const p of key.parties) {
    const expected = evaluateCommitment(suite, C, ids.scalar(p));
    if (bytesToHex(suite.encodePoint(expected)) !== key.verifyingShares[p]) throw bad('verifying share off the commitment');
  }
  const s = suite.Fn.fromBytes(hexToBytes(key.signingShare));
  if (s === 0n) throw bad('zero signing share');
  const mine = suite.Point.BASE.multiply(s); // s is non-zero here
  if (bytesToHex(mine.toBytes()) !== key.verifyingShares[key.self]) throw bad('signing share does not match verifying share');
}

/** noble's public package for this key (identifiers are RFC 9591 hex scalars). */
export function noblePublic(suite: FrostSuite, key: FrostKeyShare): FrostPublic {
  return {
    signers: { min: key.threshold, max: key.parties.length },
    commitments: key.commitment.map((c) => hexToBytes(c)),
    verifyingShares: Object.fromEntries(key.parties.map((p) => [keyIdentifiers(suite, key).hex(p), hexToBytes(key.verifyingShares[p] as string)])),
  } as FrostPublic;
}

/** noble's secret package for this key. */
export function nobleSecret(suite: FrostSuite, key: FrostKeyShare): FrostSecret {
  return { identifier: keyIdentifiers(suite, key).hex(key.self), signingShare: hexToBytes(key.signingShare) } as FrostSecret;
}

/** A JSON-safe copy of a key share (for `RoundState` and for sealing; it holds the secret share). */
export function keyShareJson(key: FrostKeyShare): { [field: string]: Json } {
  return {
    suite: key.suite, self: key.self, threshold: key.threshold, parties: [...key.parties], identifiers: key.identifiers,
    signingShare: key.signingShare, commitment: [...key.commitment],
    verifyingShares: { ...key.verifyingShares }, generation: key.generation,
  };
}
