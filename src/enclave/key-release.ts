import type { Alert } from '../alerts/outbox.js';
import type { Clock } from '../core/clock.js';
import { CustosError } from '../core/errors.js';
import type { Hsm } from '../hsm/hsm.js';
import { HSM_KEY_LABELS } from '../hsm/standard-keys.js';
import { AttestationError } from './errors.js';
import { KeyReleaseError } from './key-release-errors.js';
import { KEY_RELEASE_SUITE, X25519_PUBLIC_KEY_BYTES, releaseTranscript, releaseUserData, sealToAttestedKey } from './key-release-hpke.js';
import { checkMeasurement, verifyAllowlist, type MeasurementAllowlist, type ReleasePolicy } from './measurement-allowlist.js';
import type { NonceBook } from './nonce-book.js';
import type { PinnedRoot } from './pinned-root.js';
import type { SealingKeyStore } from './sealing-key-store.js';
import { MAX_ATTESTATION_BYTES, verifyAttestation, type VerifiedAttestation } from './verify-attestation.js';

/** One node's request for its sealing key, after it asked for a nonce and attested. */
export interface KeyReleaseRequest {
  nodeId: string;
  /** The nonce `issueReleaseNonce` gave this node (32 bytes). */
  nonce: Uint8Array;
  /** The node's ephemeral X25519 public key (32 bytes); the document must attest exactly this key. */
  publicKey: Uint8Array;
  /** The attestation document (COSE_Sign1, Nitro format) with that nonce, that public key and `releaseUserData(nodeId)`. */
  document: Uint8Array;
}

/** The sealing key, HPKE-encrypted to the attested key; only the attested enclave can open it. */
export interface KeyReleaseResponse {
  nodeId: string;
  suite: typeof KEY_RELEASE_SUITE;
  enc: Uint8Array;
  ciphertext: Uint8Array;
  /** Name of the allowlist entry the measurement matched. */
  measurement: string;
  allowlistVersion: number;
  /** True when this request enrolled the node (its sealing key was generated now). */
  enrolled: boolean;
}

export interface KeyReleaseDeps {
  clock: Clock;
  /** Roots documents may chain to (read on every request, so a rotation takes effect at once). */
  roots: () => readonly PinnedRoot[];
  nonces: NonceBook;
  /** The signed allowlist as stored (JSON value), read on every request. */
  signedAllowlist: () => unknown;
  releasePolicy: ReleasePolicy;
  /** The service's allowlist floor: raised to each accepted version, so an older list is refused later. */
  allowlistFloor?: { version: number };
  hsm: Hsm;
  /** Root KEK label (default `custos-root-kek`). */
  kekLabel?: string;
  store: SealingKeyStore;
  /** When given, only these node ids are served (others: `key_release_unknown_node`). */
  nodeIds?: readonly string[];
  /** Oldest acceptable document (default 60 s). */
  maxAgeMs?: number;
  denyFingerprints?: readonly string[];
  /**
   * Called for every release before the answer leaves (connect to the audit log). If it throws, the
   * release is refused (`key_release_unavailable`): no key leaves unrecorded.
   */
  recordRelease?: (event: KeyReleaseEvent) => void | Promise<void>;
  /** Called for every refusal, before it is thrown; connect to the alerts outbox (`enqueueAlert`). */
  raiseAlert?: (alert: Alert) => void | Promise<void>;
}

/** What `recordRelease` receives: who got a key, for which measurement; never the key. */
export interface KeyReleaseEvent {
  nodeId: string;
  at: number;
  measurement: string;
  allowlistVersion: number;
  pcr0: string;
  moduleId: string;
  root: string;
  enrolled: boolean;
}

export const SEALING_KEY_BYTES = 32;
const NODE_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/**
 * The service's challenge: a fresh single-use nonce the node must put in its attestation.
 *
 * @example
 *   const nonce = issueReleaseNonce(deps); // → node: enclave.attest(releaseUserData(id), ephemeralPk, nonce)
 */
export function issueReleaseNonce(deps: Pick<KeyReleaseDeps, 'nonces'>): Uint8Array {
  return deps.nonces.issue();
}

/**
 * Release a node's sealing key to its attested enclave. In order: the request's shape; the node id
 * (optional list); the document against the pinned roots at `clock.now()`, bound to the request's
 * nonce, public key and the node id (user data); the nonce is then spent (a replay fails); the
 * allowlist signed by M-of-N release signers and not older than the floor; the measurement on it.
 * Only then is the node's wrapped sealing key read, or generated inside the HSM on first enrolment,
 * unwrapped by the HSM, and encrypted with HPKE to the attested key. Every refusal raises an alert
 * and throws a `CustosError` with a stable code (`attestation_*` or `key_release_*`); no error or
 * alert carries key material.
 *
 * @example
 *   const res = await handleReleaseRequest({ nodeId: 'node-1', nonce, publicKey, document }, deps);
 */
export async function handleReleaseRequest(req: KeyReleaseRequest, deps: KeyReleaseDeps): Promise<KeyReleaseResponse> {
  let nodeId: string | undefined;
  let attestation: VerifiedAttestation | undefined;
  try {
    checkRequest(req);
    nodeId = req.nodeId;
    if (deps.nodeIds && !deps.nodeIds.includes(nodeId)) throw new KeyReleaseError('key_release_unknown_node', `node ${nodeId} is not served by this key-release service`);
    const at = deps.clock.now();
    attestation = verifyAttestation(req.document, {
      roots: deps.roots(),
      at,
      maxAgeMs: deps.maxAgeMs ?? 60_000,
      expectedNonce: req.nonce,
      expectedPublicKey: req.publicKey,
      expectedUserData: releaseUserData(nodeId),
      ...(deps.denyFingerprints ? { denyFingerprints: deps.denyFingerprints } : {}),
    });
    deps.nonces.consume(req.nonce);
    const floor = deps.allowlistFloor;
    const allowlist = verifiedAllowlist(deps.signedAllowlist(), deps.releasePolicy, at, floor?.version);
    const entry = checkMeasurement(attestation.pcrs, allowlist);
    if (floor && allowlist.version > floor.version) floor.version = allowlist.version;

    const kek = deps.kekLabel ?? HSM_KEY_LABELS.rootKek;
    const { wrapped, created } = await inService('read or enrol the sealing key', async () => {
      const existing = await deps.store.get(nodeId!);
      if (existing) return { wrapped: existing, created: false };
      return deps.store.putIfAbsent(nodeId!, await deps.hsm.generateWrappedSecret(kek, SEALING_KEY_BYTES), at);
    });
    const sealingKey = await inService('unwrap the sealing key', () => deps.hsm.unwrapSecret(kek, wrapped));
    try {
      const { enc, ciphertext } = await sealToAttestedKey(req.publicKey, sealingKey, releaseTranscript(nodeId, req.document));
      if (deps.recordRelease) {
        const event: KeyReleaseEvent = {
          nodeId,
          at,
          measurement: entry.name,
          allowlistVersion: allowlist.version,
          pcr0: Buffer.from(attestation.pcrs.get(0)!).toString('hex'),
          moduleId: attestation.moduleId,
          root: attestation.root,
          enrolled: created,
        };
        const record = deps.recordRelease;
        await inService('record the release', async () => record(event));
      }
      return { nodeId, suite: KEY_RELEASE_SUITE, enc, ciphertext, measurement: entry.name, allowlistVersion: allowlist.version, enrolled: created };
    } finally {
      sealingKey.fill(0);
    }
  } catch (err) {
    const refusal = asRefusal(err);
    await alert(deps, refusal, nodeId, attestation);
    throw refusal;
  }
}

// Signature checks of frozen allowlists already verified under the same policy object. Time and
// version are checked again on every use, exactly as verifyAllowlist checks them.
const allowlistMemo = new WeakMap<object, { policy: ReleasePolicy; allowlist: MeasurementAllowlist }>();

function verifiedAllowlist(signed: unknown, policy: ReleasePolicy, at: number, minVersion: number | undefined): MeasurementAllowlist {
  const memo = typeof signed === 'object' && signed !== null && Object.isFrozen(signed) ? allowlistMemo.get(signed) : undefined;
  if (memo && memo.policy === policy) {
    const a = memo.allowlist;
    const fail = (m: string) => new AttestationError('attestation_allowlist', m);
    if (at < a.issuedAt) throw fail('allowlist is issued in the future');
    if (at >= a.expiresAt) throw fail('allowlist has expired');
    if (minVersion !== undefined && a.version < minVersion) throw fail(`allowlist version ${a.version} is older than the accepted version ${minVersion}`);
    return a;
  }
  const allowlist = verifyAllowlist(signed, policy, { at, ...(minVersion !== undefined ? { minVersion } : {}) });
  if (typeof signed === 'object' && signed !== null && isDeepFrozen(signed)) allowlistMemo.set(signed, { policy, allowlist });
  return allowlist;
}

function isDeepFrozen(v: unknown): boolean {
  return typeof v !== 'object' || v === null || (Object.isFrozen(v) && Object.values(v).every(isDeepFrozen));
}

function checkRequest(req: KeyReleaseRequest): void {
  const bad = (m: string) => new KeyReleaseError('key_release_invalid_request', m);
  if (typeof req !== 'object' || req === null) throw bad('request must be an object');
  if (typeof req.nodeId !== 'string' || !NODE_ID.test(req.nodeId)) throw bad('nodeId must be 1 to 64 characters A-Z a-z 0-9 _ . - (not starting with a symbol)');
  if (!(req.nonce instanceof Uint8Array) || req.nonce.length !== 32) throw bad('nonce must be 32 bytes');
  if (!(req.publicKey instanceof Uint8Array) || req.publicKey.length !== X25519_PUBLIC_KEY_BYTES) throw bad('publicKey must be a 32-byte X25519 public key');
  if (!(req.document instanceof Uint8Array) || req.document.length === 0) throw bad('document must be non-empty bytes');
  if (req.document.length > MAX_ATTESTATION_BYTES) throw new AttestationError('attestation_too_large', `attestation document is over ${MAX_ATTESTATION_BYTES} bytes`);
}

async function inService<T>(what: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    // HSM and store errors carry CKR_* names or file problems, never key bytes; keep only the code.
    const code = err instanceof CustosError ? err.code : 'internal';
    throw new KeyReleaseError('key_release_unavailable', `key release could not ${what}`, { cause: code });
  }
}

function asRefusal(err: unknown): CustosError {
  if (err instanceof CustosError) return err;
  return new KeyReleaseError('key_release_unavailable', 'key release failed unexpectedly');
}

const WARNING_CODES = new Set(['key_release_invalid_request', 'key_release_unavailable', 'attestation_format', 'attestation_too_large', 'attestation_expired']);

async function alert(deps: KeyReleaseDeps, refusal: CustosError, nodeId: string | undefined, attestation: VerifiedAttestation | undefined): Promise<void> {
  if (!deps.raiseAlert) return;
  const details: Record<string, unknown> = { code: refusal.code, reason: refusal.message };
  if (nodeId !== undefined) details.nodeId = nodeId;
  if (attestation) {
    details.moduleId = attestation.moduleId;
    details.root = attestation.root;
    details.pcr0 = Buffer.from(attestation.pcrs.get(0) ?? new Uint8Array()).toString('hex');
  }
  try {
    await deps.raiseAlert({
      kind: 'key_release.refused',
      severity: WARNING_CODES.has(refusal.code) ? 'warning' : 'critical',
      summary: `key release refused${nodeId !== undefined ? ` for node ${nodeId}` : ''}: ${refusal.code}`,
      details,
    });
  } catch {
    // The refusal stands whether or not the alert could be recorded; the caller still gets it.
  }
}
