import { timingSafeEqual } from 'node:crypto';
import { parseAttestationDocument } from './attestation-document.js';
import { verifyCertificateChain } from './certificate-chain.js';
import { parseCoseSign1, verifyCoseSign1 } from './cose-sign1.js';
import { AttestationError, type AttestationErrorCode } from './errors.js';
import type { PinnedRoot } from './pinned-root.js';

/** Largest attestation document accepted (real Nitro documents are 4 to 8 KiB). */
export const MAX_ATTESTATION_BYTES = 16 * 1024;

export interface VerifyAttestationOptions {
  /** Roots the chain may end in (AWS, development, or both during a migration). */
  roots: readonly PinnedRoot[];
  /** Validation time, epoch milliseconds, from the caller's injected clock. */
  at: number;
  /** Oldest acceptable document: `timestamp >= at - maxAgeMs`. */
  maxAgeMs: number;
  /** Tolerated clock skew for a document dated after `at` (default 60 s). */
  maxFutureSkewMs?: number;
  /** When given, the document must carry exactly this nonce. */
  expectedNonce?: Uint8Array;
  /** When given, the document must carry exactly this public key. */
  expectedPublicKey?: Uint8Array;
  /** When given, the document must carry exactly this user data. */
  expectedUserData?: Uint8Array;
  /** Withdrawn intermediate or leaf certificates (SHA-256 hex). */
  denyFingerprints?: readonly string[];
}

/** What a verified document attests. Every field is authenticated by the chain to a pinned root. */
export interface VerifiedAttestation {
  readonly moduleId: string;
  readonly timestamp: number;
  readonly pcrs: ReadonlyMap<number, Uint8Array>;
  /** True when PCR0 (the enclave image measurement) is all zeros, as in a debug-mode enclave. */
  readonly isDebug: boolean;
  readonly publicKey: Uint8Array | undefined;
  readonly userData: Uint8Array | undefined;
  readonly nonce: Uint8Array | undefined;
  /** Name of the pinned root the chain ends in. */
  readonly root: string;
  /** SHA-256 (hex) of the leaf certificate that signed the document. */
  readonly leafFingerprintSha256: string;
}

/**
 * Verify an AWS Nitro attestation document (or a development one, same format) at an injected time:
 * COSE_Sign1 ES384 structure, certificate chain to a pinned root valid at `at`, the signature under
 * the leaf key, the document's freshness, and the nonce / public key / user data bindings asked for.
 * Throws an `AttestationError` with a stable code; returns the authenticated contents.
 *
 * @example
 *   const att = verifyAttestation(bytes, { roots: [awsNitroRoot()], at: clock.now(), maxAgeMs: 300_000, expectedNonce });
 *   att.pcrs.get(0); // 48-byte image measurement
 */
export function verifyAttestation(document: Uint8Array, options: VerifyAttestationOptions): VerifiedAttestation {
  if (!Number.isFinite(options.at) || !(options.maxAgeMs >= 0)) {
    throw new TypeError('verifyAttestation needs a finite validation time and a non-negative maxAgeMs');
  }
  if (document.length > MAX_ATTESTATION_BYTES) {
    throw new AttestationError('attestation_too_large', `attestation document is ${document.length} bytes, over ${MAX_ATTESTATION_BYTES}`);
  }
  const cose = parseCoseSign1(document, MAX_ATTESTATION_BYTES);
  const doc = parseAttestationDocument(cose.payload);
  const chain = verifyCertificateChain({
    leaf: doc.certificate,
    cabundle: doc.cabundle,
    roots: options.roots,
    at: options.at,
    ...(options.denyFingerprints ? { denyFingerprints: options.denyFingerprints } : {}),
  });
  verifyCoseSign1(cose, chain.leafPublicKey);

  if (doc.timestamp < options.at - options.maxAgeMs) {
    throw new AttestationError('attestation_expired', `attestation document is older than ${options.maxAgeMs} ms`);
  }
  if (doc.timestamp > options.at + (options.maxFutureSkewMs ?? 60_000)) {
    throw new AttestationError('attestation_expired', 'attestation document is dated in the future');
  }
  checkBinding(doc.nonce, options.expectedNonce, 'attestation_nonce', 'nonce');
  checkBinding(doc.publicKey, options.expectedPublicKey, 'attestation_public_key', 'public_key');
  checkBinding(doc.userData, options.expectedUserData, 'attestation_user_data', 'user_data');

  const pcr0 = doc.pcrs.get(0);
  return {
    moduleId: doc.moduleId,
    timestamp: doc.timestamp,
    pcrs: doc.pcrs,
    isDebug: pcr0 === undefined || pcr0.every((b) => b === 0),
    publicKey: doc.publicKey,
    userData: doc.userData,
    nonce: doc.nonce,
    root: chain.root.name,
    leafFingerprintSha256: chain.leaf.fingerprintSha256,
  };
}

function checkBinding(actual: Uint8Array | undefined, expected: Uint8Array | undefined, code: AttestationErrorCode, field: string): void {
  if (expected === undefined) return;
  if (actual === undefined) throw new AttestationError(code, `attestation document has no ${field}`);
  if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) {
    throw new AttestationError(code, `${field} does not match the expected value`);
  }
}
