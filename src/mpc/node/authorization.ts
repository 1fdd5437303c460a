/**
 * The signing authorization: the only thing that makes a signing node produce a signature share.
 * It is issued (signed with the policy key, Ed25519) when a withdrawal reaches `approved`, and every
 * node checks it on its own before it takes part: the policy key's signature, expiry, that the
 * approvals meet the node's configured minimum (distinct approvers), that the key it names is the
 * key asked for, and that the digest it names is the digest the node itself derives from the
 * unsigned transaction (with destination and amount, when the chain parser returns them, equal to
 * the authorization's). There is no path that signs a bare digest.
 *
 * The signed bytes are a domain tag followed by canonical JSON of the fields in a fixed order.
 *
 * @example
 *   const signed = signAuthorization(auth, policySecretKey);
 *   const ok = verifyAuthorization(signed, { policyPublicKey, now: clock.now(), keyId, deriveDigest });
 *   // ok.message: the bytes the node signs
 */
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { CustosError } from '../../core/errors.js';
import { edSign, edVerify } from '../transport/ed25519.js';

export interface Approval {
  /** Who approved (an operator id). */
  readonly approver: string;
  /** When (ms since the epoch). */
  readonly at: number;
}

export interface SigningAuthorization {
  readonly withdrawalId: string;
  /** The key that signs (as named at key generation). */
  readonly keyId: string;
  /** Chain name understood by `deriveDigest` (e.g. `solana`, `ethereum`, `bitcoin`). */
  readonly chain: string;
  /** The unsigned transaction (hex). */
  readonly unsignedTx: string;
  /** The bytes to sign as the chain defines them (hex): the node re-derives and compares. */
  readonly digest: string;
  /** Destination address. */
  readonly to: string;
  /** Amount in base units (decimal string of a bigint). */
  readonly amount: string;
  readonly policyVersion: number;
  readonly approvals: readonly Approval[];
  /** Expiry (ms since the epoch). */
  readonly expiresAt: number;
}

export interface SignedAuthorization {
  readonly authorization: SigningAuthorization;
  /** Ed25519 signature by the policy key over `authorizationBytes(authorization)` (hex). */
  readonly signature: string;
}

/** What the chain module derives from an unsigned transaction. */
export interface DerivedDigest {
  /** The bytes the threshold signature is over (Solana: the message; Ethereum/Bitcoin: the 32-byte sighash). */
  readonly digest: Uint8Array;
  /** Destination and amount parsed from the transaction, when the chain module can parse them. */
  readonly to?: string;
  readonly amount?: bigint;
  /** BIP-340 keys only: sign for the BIP-341 output key with this merkle root (empty = BIP-86 key path). */
  readonly taprootMerkleRoot?: Uint8Array;
}

/** Injected by whoever wires the chain modules; must parse the transaction itself. */
export type DeriveDigest = (chain: string, unsignedTx: Uint8Array) => DerivedDigest;

/**
 * The default for raw-message signing (Solana-style: the signature is over the message bytes
 * themselves). It parses nothing, so destination and amount are not cross-checked by it.
 */
export const rawMessageDigest: DeriveDigest = (_chain, unsignedTx) => ({ digest: unsignedTx });

const DOMAIN = new TextEncoder().encode('custos/signing-authorization/v1\n');
const ID = /^[A-Za-z0-9_.:-]{1,128}$/;
const HEX = /^(?:[0-9a-f]{2})+$/;
const MAX_TX_HEX = 2 * 128 * 1024;

export class AuthorizationRefused extends CustosError {
  constructor(code: string, message: string) {
    super(code, message, 403);
    this.name = 'AuthorizationRefused';
  }
}

const bad = (why: string) => new AuthorizationRefused('authorization_malformed', `malformed signing authorization: ${why}`);

/** Validates untrusted JSON as a signed authorization (shape only; `verifyAuthorization` checks meaning). */
export function parseSignedAuthorization(json: unknown): SignedAuthorization {
  const o = (typeof json === 'object' && json !== null ? json : null) as Record<string, unknown> | null;
  if (!o || typeof o.signature !== 'string' || !/^[0-9a-f]{128}$/.test(o.signature)) throw bad('signature');
  const a = (typeof o.authorization === 'object' && o.authorization !== null ? o.authorization : null) as Record<string, unknown> | null;
  if (!a) throw bad('authorization');
  const str = (k: string, re: RegExp, max = 256): string => {
    const v = a[k];
    if (typeof v !== 'string' || v.length > max || !re.test(v)) throw bad(k);
    return v;
  };
  const int = (k: string): number => {
    const v = a[k];
    if (!Number.isSafeInteger(v) || (v as number) < 0) throw bad(k);
    return v as number;
  };
  if (!Array.isArray(a.approvals) || a.approvals.length > 64) throw bad('approvals');
  const approvals = a.approvals.map((x: unknown) => {
    const r = (typeof x === 'object' && x !== null ? x : {}) as Record<string, unknown>;
    if (typeof r.approver !== 'string' || !ID.test(r.approver) || !Number.isSafeInteger(r.at)) throw bad('approvals');
    return { approver: r.approver, at: r.at as number };
  });
  return {
    signature: o.signature,
    authorization: {
      withdrawalId: str('withdrawalId', ID), keyId: str('keyId', ID), chain: str('chain', /^[a-z0-9-]{1,32}$/),
      unsignedTx: str('unsignedTx', HEX, MAX_TX_HEX), digest: str('digest', HEX, MAX_TX_HEX), to: str('to', /^[\x21-\x7e]{1,128}$/),
      amount: str('amount', /^(?:0|[1-9][0-9]{0,77})$/), policyVersion: int('policyVersion'), approvals, expiresAt: int('expiresAt'),
    },
  };
}

/** The canonical bytes the policy key signs. */
export function authorizationBytes(a: SigningAuthorization): Uint8Array {
  const canonical = {
    withdrawalId: a.withdrawalId, keyId: a.keyId, chain: a.chain, unsignedTx: a.unsignedTx, digest: a.digest, to: a.to,
    amount: a.amount, policyVersion: a.policyVersion,
    approvals: a.approvals.map((x) => ({ approver: x.approver, at: x.at })), expiresAt: a.expiresAt,
  };
  const body = new TextEncoder().encode(JSON.stringify(canonical));
  const out = new Uint8Array(DOMAIN.length + body.length);
  out.set(DOMAIN, 0);
  out.set(body, DOMAIN.length);
  return out;
}

/** Signs an authorization with the policy key (32-byte Ed25519 secret). */
export function signAuthorization(a: SigningAuthorization, policySecretKey: Uint8Array): SignedAuthorization {
  return { authorization: a, signature: bytesToHex(edSign(policySecretKey, authorizationBytes(a))) };
}

export interface VerifyOptions {
  /** The policy key's Ed25519 public key (hex), configured into the node. */
  readonly policyPublicKey: string;
  readonly now: number;
  /** The key the coordinator asks this node to sign with. */
  readonly keyId: string;
  /** Minimum number of distinct approvers (node configuration). */
  readonly minApprovals: number;
  readonly deriveDigest: DeriveDigest;
}

export interface VerifiedAuthorization {
  readonly authorization: SigningAuthorization;
  /** The bytes to sign, derived by this node. */
  readonly message: Uint8Array;
  readonly taprootMerkleRoot?: Uint8Array;
}

/** Checks a signed authorization; throws `AuthorizationRefused` with a code saying why. */
export function verifyAuthorization(json: unknown, o: VerifyOptions): VerifiedAuthorization {
  const s = parseSignedAuthorization(json);
  const a = s.authorization;
  if (!edVerify(hexToBytes(s.signature), authorizationBytes(a), o.policyPublicKey)) throw new AuthorizationRefused('authorization_bad_signature', 'the signing authorization is not signed by the policy key');
  if (a.expiresAt <= o.now) throw new AuthorizationRefused('authorization_expired', 'the signing authorization has expired');
  if (a.keyId !== o.keyId) throw new AuthorizationRefused('authorization_wrong_key', 'the signing authorization names another key');
  const approvers = new Set(a.approvals.map((x) => x.approver));
  if (approvers.size < o.minApprovals) {
    throw new AuthorizationRefused('authorization_not_enough_approvals', `the authorization carries ${approvers.size} distinct approvals, ${o.minApprovals} required`);
  }
  let derived: DerivedDigest;
  try {
    derived = o.deriveDigest(a.chain, hexToBytes(a.unsignedTx));
  } catch {
    throw new AuthorizationRefused('authorization_bad_transaction', `the unsigned ${a.chain} transaction does not parse`);
  }
  if (bytesToHex(derived.digest) !== a.digest) {
    throw new AuthorizationRefused('authorization_digest_mismatch', 'the digest does not match the one derived from the unsigned transaction');
  }
  if (derived.to !== undefined && derived.to !== a.to) {
    throw new AuthorizationRefused('authorization_destination_mismatch', 'the transaction pays another destination than the authorization names');
  }
  if (derived.amount !== undefined && derived.amount !== BigInt(a.amount)) {
    throw new AuthorizationRefused('authorization_amount_mismatch', 'the transaction moves another amount than the authorization names');
  }
  return { authorization: a, message: derived.digest, ...(derived.taprootMerkleRoot ? { taprootMerkleRoot: derived.taprootMerkleRoot } : {}) };
}
