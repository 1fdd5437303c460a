/**
 * The signing authorization: the only thing that makes a signing node produce a signature share.
 * It is issued (signed with the policy key, Ed25519) when a withdrawal reaches `approved`
 * (src/approvals/authorization.ts: issueSigningAuthorization), and every node checks it on its own
 * before it takes part: the policy key's signature, expiry, that the key it names is the key asked
 * for, that the withdrawal it carries (the fields the approvers' withdrawal digest covers) names the
 * same id, chain, destination and amount, that every approval from a pinned approver is that
 * approver's valid Ed25519 signature over the approval statement of exactly this withdrawal digest,
 * policy version and decision `approve` (src/approvals/statement.ts), that the distinct approvers
 * with a valid signature meet the node's configured minimum, and that the digest it names is the
 * digest the node itself derives from the unsigned transaction (with destination and amount, when
 * the chain parser returns them, equal to the authorization's). There is no path that signs a bare
 * digest, and a policy key alone (without the approvers' keys) cannot produce an authorization a
 * node accepts when its minimum is above zero.
 *
 * Approvals by approvers the node does not pin are not counted (an approver added after the node
 * was provisioned); a pinned approver's approval whose signature does not verify refuses the whole
 * authorization (authorization_approval_invalid): only a forged or misassembled authorization
 * carries one.
 *
 * The signed bytes are a domain tag followed by canonical JSON of the fields in a fixed order.
 *
 * @example
 *   const signed = signAuthorization(auth, policySecretKey);
 *   const ok = verifyAuthorization(signed, { policyPublicKey, now: clock.now(), keyId, minApprovals: 2, approverKeys, deriveDigest });
 *   // ok.message: the bytes the node signs
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { withdrawalDigest } from '../../approvals/digest.js';
import { approvalStatementBytes, type ApprovalStatement } from '../../approvals/statement.js';
import { NATIVE_ASSET } from '../../core/chain.js';
import { CustosError } from '../../core/errors.js';
import { decodeApprovalToken, verifyApproval, type ApprovalAlgorithm, type ApprovalKey } from '../../hsm/approval-token.js';
import { edSign, edVerify } from '../transport/ed25519.js';

export interface Approval {
  /** Who approved (the approver id, as registered and pinned). */
  readonly approver: string;
  /** When custos recorded the approval (ms since the epoch); never after `expiresAt`. */
  readonly at: number;
  /** The expiry the approver signed into the statement (ms since the epoch). */
  readonly expiresAt: number;
  /** The approver's Ed25519 signature (hex) over the approval statement (decision `approve`). */
  readonly signature: string;
}

/**
 * The withdrawal as the approvers' withdrawal digest covers it (src/approvals/digest.ts), amounts
 * as decimal strings of base units: the node recomputes the digest from these fields.
 */
export interface AuthorizedWithdrawal {
  readonly id: string;
  readonly customerId: string;
  readonly chain: string;
  readonly asset: string;
  readonly to: string;
  readonly amount: string;
  readonly fee: string | null;
  readonly memo: string | null;
  readonly createdAt: number;
}

/** An approver's approval public key pinned in the node's configuration. */
export interface PinnedApproverKey {
  readonly approver: string;
  /** Ed25519 public key, 64 lowercase hex characters. */
  readonly publicKey: string;
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
  /** The withdrawal the approvals are for; its id, chain, destination and amount equal the fields above. */
  readonly withdrawal: AuthorizedWithdrawal;
  readonly approvals: readonly Approval[];
  /** Expiry (ms since the epoch). */
  readonly expiresAt: number;
  /**
   * The HSM approval token (src/hsm/approval-token.ts, wire form) of a withdrawal whose policy
   * required one; nodes whose value tiers require it verify it against their pinned HSM keys.
   */
  readonly hsmToken?: string;
}

/**
 * A node's own value rule, independent of the policy service: from `atLeast` base units of
 * `asset`, at least `minApprovals` distinct valid approvals and, with `hsmApproval`, a valid HSM
 * approval token for exactly this withdrawal. A compromised policy service that marks a large
 * withdrawal as needing no approvals still cannot make such a node sign it.
 */
export interface ValueTier {
  readonly asset: string;
  readonly atLeast: bigint;
  readonly minApprovals?: number;
  readonly hsmApproval?: boolean;
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
  /** What the transaction moves: the native asset (`ETH`, `BTC`, `SOL`) or a token contract address. */
  readonly asset?: string;
  /** Account-based chains with replay protection (Ethereum): the chain id the transaction commits to. */
  readonly chainId?: number;
}

/**
 * Injected by whoever wires the chain modules; must parse the transaction itself. `claimedDigest`
 * (the digest the authorization names) only selects among digests the transaction defines (one per
 * Bitcoin input); the node still compares what it derived with the claim.
 */
export type DeriveDigest = (chain: string, unsignedTx: Uint8Array, claimedDigest?: Uint8Array) => DerivedDigest;

/**
 * The default for raw-message signing (Solana-style: the signature is over the message bytes
 * themselves). It parses nothing, so destination and amount are not cross-checked by it.
 */
export const rawMessageDigest: DeriveDigest = (_chain, unsignedTx) => ({ digest: unsignedTx });

const DOMAIN = new TextEncoder().encode('custos/signing-authorization/v1\n');
const ID = /^[A-Za-z0-9_.:-]{1,128}$/;
const HEX = /^(?:[0-9a-f]{2})+$/;
const MAX_TX_HEX = 2 * 128 * 1024;
const AMOUNT = /^(?:0|[1-9][0-9]{0,77})$/;

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
    if (typeof r.approver !== 'string' || !ID.test(r.approver) || !Number.isSafeInteger(r.at) || !Number.isSafeInteger(r.expiresAt)) throw bad('approvals');
    if (typeof r.signature !== 'string' || !/^[0-9a-f]{128}$/.test(r.signature)) throw bad('approvals');
    return { approver: r.approver, at: r.at as number, expiresAt: r.expiresAt as number, signature: r.signature };
  });
  const w = (typeof a.withdrawal === 'object' && a.withdrawal !== null ? a.withdrawal : null) as Record<string, unknown> | null;
  if (!w) throw bad('withdrawal');
  const wstr = (k: string, re: RegExp, nullable = false): string | null => {
    const v = w[k];
    if (nullable && v === null) return null;
    if (typeof v !== 'string' || v.length > 256 || !re.test(v)) throw bad(`withdrawal.${k}`);
    return v;
  };
  if (!Number.isSafeInteger(w.createdAt) || (w.createdAt as number) < 0) throw bad('withdrawal.createdAt');
  const withdrawal: AuthorizedWithdrawal = {
    id: wstr('id', ID) as string, customerId: wstr('customerId', ID) as string, chain: wstr('chain', /^[a-z0-9-]{1,32}$/) as string,
    asset: wstr('asset', /^[A-Z0-9]{1,16}$/) as string, to: wstr('to', /^[\x21-\x7e]{1,128}$/) as string, amount: wstr('amount', AMOUNT) as string,
    fee: wstr('fee', AMOUNT, true), memo: wstr('memo', /^[^]{0,256}$/u, true), createdAt: w.createdAt as number,
  };
  return {
    signature: o.signature,
    authorization: {
      withdrawalId: str('withdrawalId', ID), keyId: str('keyId', ID), chain: str('chain', /^[a-z0-9-]{1,32}$/),
      unsignedTx: str('unsignedTx', HEX, MAX_TX_HEX), digest: str('digest', HEX, MAX_TX_HEX), to: str('to', /^[\x21-\x7e]{1,128}$/),
      amount: str('amount', AMOUNT), policyVersion: int('policyVersion'), withdrawal, approvals, expiresAt: int('expiresAt'),
      ...(a.hsmToken === undefined ? {} : { hsmToken: str('hsmToken', /^[\x20-\x7e]+$/, 16384) }),
    },
  };
}

/** The canonical bytes the policy key signs. */
export function authorizationBytes(a: SigningAuthorization): Uint8Array {
  const canonical = {
    withdrawalId: a.withdrawalId, keyId: a.keyId, chain: a.chain, unsignedTx: a.unsignedTx, digest: a.digest, to: a.to,
    amount: a.amount, policyVersion: a.policyVersion,
    withdrawal: {
      id: a.withdrawal.id, customerId: a.withdrawal.customerId, chain: a.withdrawal.chain, asset: a.withdrawal.asset, to: a.withdrawal.to,
      amount: a.withdrawal.amount, fee: a.withdrawal.fee, memo: a.withdrawal.memo, createdAt: a.withdrawal.createdAt,
    },
    approvals: a.approvals.map((x) => ({ approver: x.approver, at: x.at, expiresAt: x.expiresAt, signature: x.signature })), expiresAt: a.expiresAt,
    // Only when present, so authorizations without a token keep their bytes.
    ...(a.hsmToken === undefined ? {} : { hsmToken: a.hsmToken }),
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
  /** Minimum number of distinct approvers with a valid approval signature (node configuration). */
  readonly minApprovals: number;
  /** The approvers' approval public keys this node trusts (node configuration); several per approver during a rotation. */
  readonly approverKeys: readonly PinnedApproverKey[];
  readonly deriveDigest: DeriveDigest;
  /** This node's value tiers (node configuration); none: `minApprovals` for every amount. */
  readonly valueTiers?: readonly ValueTier[];
  /** The HSM approval public keys this node trusts, for tiers with `hsmApproval`. */
  readonly hsmApprovalKeys?: readonly ApprovalKey[];
  /** Token contracts this node pins, by asset symbol (e.g. `USDC` → its ERC-20 address). */
  readonly tokens?: Readonly<Record<string, string>>;
  /** Chain ids this node pins, by chain (e.g. `{ ethereum: 1 }`): a transaction for another network is refused. */
  readonly chainIds?: Readonly<Record<string, number>>;
}

const NATIVE_ASSETS: ReadonlySet<string> = new Set(Object.values(NATIVE_ASSET));

/**
 * The asset the transaction moves must be the approved withdrawal's: the same native asset, or a
 * token contract this node pins under the withdrawal's asset symbol. Without the pin a token
 * transfer is refused: the same amount of another token held by the wallet could be worth far more.
 */
function checkAsset(moved: string, approved: string, tokens: Readonly<Record<string, string>> | undefined): void {
  if (NATIVE_ASSETS.has(moved) || NATIVE_ASSETS.has(approved)) {
    if (moved !== approved) throw new AuthorizationRefused('authorization_asset_mismatch', `the transaction moves ${NATIVE_ASSETS.has(moved) ? moved : 'a token'}, the withdrawal is in ${approved}`);
    return;
  }
  const pinned = tokens?.[approved];
  if (pinned === undefined) throw new AuthorizationRefused('authorization_asset_unpinned', `this node pins no contract for ${approved}`);
  if (pinned.toLowerCase() !== moved.toLowerCase()) throw new AuthorizationRefused('authorization_asset_mismatch', `the transaction moves another token than ${approved}`);
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
  // A small-order policy key would verify a forged signature of anything (see usablePublicKey).
  if (!usablePublicKey(o.policyPublicKey) || !edVerify(hexToBytes(s.signature), authorizationBytes(a), o.policyPublicKey)) {
    throw new AuthorizationRefused('authorization_bad_signature', 'the signing authorization is not signed by the policy key');
  }
  if (a.expiresAt <= o.now) throw new AuthorizationRefused('authorization_expired', 'the signing authorization has expired');
  if (a.keyId !== o.keyId) throw new AuthorizationRefused('authorization_wrong_key', 'the signing authorization names another key');
  const approvers = verifiedApprovers(a, o.approverKeys);
  const tiers = (o.valueTiers ?? []).filter((t) => t.asset === a.withdrawal.asset && BigInt(a.amount) >= t.atLeast);
  const minApprovals = Math.max(o.minApprovals, ...tiers.map((t) => t.minApprovals ?? 0));
  if (approvers.size < minApprovals) {
    throw new AuthorizationRefused('authorization_not_enough_approvals', `the authorization carries ${approvers.size} distinct approvals by pinned approvers, ${minApprovals} required`);
  }
  if (tiers.some((t) => t.hsmApproval)) checkHsmApproval(a, o);
  let derived: DerivedDigest;
  try {
    derived = o.deriveDigest(a.chain, hexToBytes(a.unsignedTx), hexToBytes(a.digest));
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
  if (derived.asset !== undefined) checkAsset(derived.asset, a.withdrawal.asset, o.tokens);
  const pinnedChainId = o.chainIds?.[a.chain];
  if (pinnedChainId !== undefined && derived.chainId !== pinnedChainId) {
    throw new AuthorizationRefused('authorization_chain_id_mismatch', `the transaction is for chain id ${String(derived.chainId)}; this node signs ${a.chain} for chain id ${pinnedChainId} only`);
  }
  return { authorization: a, message: derived.digest, ...(derived.taprootMerkleRoot ? { taprootMerkleRoot: derived.taprootMerkleRoot } : {}) };
}

/** The HSM approval token a value tier requires: present, and valid for exactly this withdrawal under a pinned HSM key. */
function checkHsmApproval(a: SigningAuthorization, o: VerifyOptions): void {
  if (a.hsmToken === undefined) {
    throw new AuthorizationRefused('authorization_hsm_approval_required', `withdrawals of this size in ${a.withdrawal.asset} need an HSM approval token; the authorization carries none`);
  }
  const keys = o.hsmApprovalKeys ?? [];
  if (keys.length === 0) throw new AuthorizationRefused('authorization_hsm_not_configured', 'this node requires HSM approvals but pins no HSM approval key');
  const w = a.withdrawal;
  try {
    verifyApproval(decodeApprovalToken(a.hsmToken), {
      trustedKeys: [...keys],
      now: o.now,
      expected: {
        withdrawalId: a.withdrawalId,
        withdrawalDigest: withdrawalDigest({ ...w, amount: BigInt(w.amount), fee: w.fee === null ? null : BigInt(w.fee) }),
        asset: w.asset,
        amount: BigInt(a.amount),
        destination: a.to,
        policyVersion: a.policyVersion,
      },
    });
  } catch (err) {
    const why = err instanceof CustosError ? ` (${err.code})` : '';
    throw new AuthorizationRefused('authorization_hsm_approval_invalid', `the HSM approval token is not valid for this withdrawal${why}`);
  }
}

/**
 * The distinct pinned approvers whose approval signature verifies for this authorization's
 * withdrawal (digest recomputed here), policy version and decision `approve`. Throws when the
 * withdrawal does not match the authorization or a pinned approver's signature is invalid.
 */
export function verifiedApprovers(a: SigningAuthorization, approverKeys: readonly PinnedApproverKey[]): Set<string> {
  const w = a.withdrawal;
  if (w.id !== a.withdrawalId || w.chain !== a.chain || w.to !== a.to || w.amount !== a.amount) {
    throw new AuthorizationRefused('authorization_withdrawal_mismatch', 'the approved withdrawal names another id, chain, destination or amount than the authorization');
  }
  const digest = withdrawalDigest({ ...w, amount: BigInt(w.amount), fee: w.fee === null ? null : BigInt(w.fee) });
  const pinned = new Map<string, string[]>();
  // A small-order key would verify a forged signature of any message (OpenSSL accepts R = identity,
  // S = 0 under the identity key): such a key never counts, however it was configured.
  for (const k of approverKeys) if (usablePublicKey(k.publicKey)) pinned.set(k.approver, [...(pinned.get(k.approver) ?? []), k.publicKey]);
  const out = new Set<string>();
  for (const x of a.approvals) {
    const keys = pinned.get(x.approver);
    if (!keys) continue; // not an approver this node knows: not counted
    const statement: ApprovalStatement = {
      withdrawalId: a.withdrawalId, withdrawalDigest: digest, policyVersion: a.policyVersion, decision: 'approve', approver: x.approver, expiresAt: x.expiresAt,
    };
    const bytes = approvalStatementBytes(statement);
    if (x.at > x.expiresAt || !keys.some((k) => edVerify(hexToBytes(x.signature), bytes, k))) {
      throw new AuthorizationRefused('authorization_approval_invalid', `the approval of ${x.approver} is not a valid signature of this withdrawal, policy version and decision by a pinned key`);
    }
    out.add(x.approver);
  }
  return out;
}

const usable = new Map<string, boolean>();
function usablePublicKey(hex: string): boolean {
  let ok = usable.get(hex);
  if (ok === undefined) {
    try {
      ok = /^[0-9a-f]{64}$/.test(hex) && !ed25519.Point.fromBytes(hexToBytes(hex)).isSmallOrder();
    } catch {
      ok = false;
    }
    if (usable.size >= 4096) usable.clear();
    usable.set(hex, ok);
  }
  return ok;
}

/** Validates the `approverKeys` of a node configuration: a list of {approver, publicKey}, no key pinned for two approvers. */
export function parsePinnedApproverKeys(json: unknown): PinnedApproverKey[] {
  const fail = (why: string) => new CustosError('node_bad_config', `approverKeys: ${why}`);
  if (json === undefined) return [];
  if (!Array.isArray(json) || json.length > 1000) throw fail('must be a list of {approver, publicKey}');
  const owner = new Map<string, string>();
  return json.map((x: unknown) => {
    const r = (typeof x === 'object' && x !== null ? x : {}) as Record<string, unknown>;
    if (typeof r.approver !== 'string' || !ID.test(r.approver)) throw fail('approver must be an id');
    if (typeof r.publicKey !== 'string' || !/^[0-9a-f]{64}$/.test(r.publicKey)) throw fail('publicKey must be 32-byte hex');
    if (!usablePublicKey(r.publicKey)) throw fail(`the key of ${r.approver} is not a usable Ed25519 point (not on the curve, or of small order: it would verify signatures of any message)`);
    const prev = owner.get(r.publicKey);
    if (prev !== undefined && prev !== r.approver) throw fail(`one key is pinned for ${prev} and ${r.approver}: one person could count twice`);
    owner.set(r.publicKey, r.approver);
    return { approver: r.approver, publicKey: r.publicKey };
  });
}

/** Value tiers and HSM approval keys as a node's configuration file holds them (amounts as decimal strings, keys as hex). */
export interface NodeValueRulesJSON {
  readonly valueTiers?: readonly { asset: string; atLeast: string; minApprovals?: number; hsmApproval?: boolean }[];
  readonly hsmApprovalKeys?: readonly { algorithm: ApprovalAlgorithm; publicKey: string }[];
}

/**
 * Validates a node's value rules (node_bad_config on anything malformed) and returns them in the
 * form verifyAuthorization takes.
 *
 * @example
 *   parseNodeValueRules({ valueTiers: [{ asset: 'SOL', atLeast: '100000000000', minApprovals: 2, hsmApproval: true }],
 *     hsmApprovalKeys: [{ algorithm: 'ed25519', publicKey: '…64 hex…' }] });
 */
export function parseNodeValueRules(o: NodeValueRulesJSON): { valueTiers: ValueTier[]; hsmApprovalKeys: ApprovalKey[] } {
  const fail = (why: string) => new CustosError('node_bad_config', `node value rules: ${why}`);
  const tiersIn: unknown = o.valueTiers ?? [];
  const keysIn: unknown = o.hsmApprovalKeys ?? [];
  if (!Array.isArray(tiersIn) || tiersIn.length > 256) throw fail('valueTiers must be a list');
  if (!Array.isArray(keysIn) || keysIn.length > 16) throw fail('hsmApprovalKeys must be a list');
  const valueTiers = tiersIn.map((t: unknown): ValueTier => {
    const r = (typeof t === 'object' && t !== null ? t : {}) as Record<string, unknown>;
    if (typeof r.asset !== 'string' || !/^[A-Z0-9]{1,16}$/.test(r.asset)) throw fail('each tier names an asset');
    if (typeof r.atLeast !== 'string' || !AMOUNT.test(r.atLeast)) throw fail('atLeast is a decimal string of base units');
    if (r.minApprovals !== undefined && (!Number.isSafeInteger(r.minApprovals) || (r.minApprovals as number) < 0 || (r.minApprovals as number) > 64)) throw fail('minApprovals is an integer from 0 to 64');
    if (r.hsmApproval !== undefined && typeof r.hsmApproval !== 'boolean') throw fail('hsmApproval is true or false');
    return { asset: r.asset, atLeast: BigInt(r.atLeast), ...(r.minApprovals === undefined ? {} : { minApprovals: r.minApprovals as number }), ...(r.hsmApproval ? { hsmApproval: true } : {}) };
  });
  const hsmApprovalKeys = keysIn.map((k: unknown): ApprovalKey => {
    const r = (typeof k === 'object' && k !== null ? k : {}) as Record<string, unknown>;
    if (r.algorithm === 'ed25519') {
      if (typeof r.publicKey !== 'string' || !usablePublicKey(r.publicKey)) throw fail('an Ed25519 HSM approval key is 64 hex characters of a full-order point');
    } else if (r.algorithm === 'ecdsa-secp256k1-sha256') {
      if (typeof r.publicKey !== 'string' || !/^(?:0[23][0-9a-f]{64}|04[0-9a-f]{128})$/.test(r.publicKey)) throw fail('a secp256k1 HSM approval key is a SEC1 point in hex');
    } else throw fail('algorithm is ed25519 or ecdsa-secp256k1-sha256');
    return { algorithm: r.algorithm, publicKey: hexToBytes(r.publicKey) };
  });
  if (valueTiers.some((t) => t.hsmApproval) && hsmApprovalKeys.length === 0) throw fail('a tier requires HSM approvals but no HSM approval key is pinned');
  return { valueTiers, hsmApprovalKeys };
}
