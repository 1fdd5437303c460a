import { timingSafeEqual } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { PCR_BYTES } from './attestation-document.js';
import { AttestationError } from './errors.js';

/** One allowed enclave build: the PCR values it must show (at least PCR0), hex. */
export interface AllowedMeasurement {
  readonly name: string;
  /** PCR index ("0".."31") → 96 hex characters. Every listed PCR must match; unlisted ones are not checked. */
  readonly pcrs: Readonly<Record<string, string>>;
}

/** The code-signing policy's document: which measurements may receive keys, until when. */
export interface MeasurementAllowlist {
  /** Increases with every release; verifiers refuse a version below the last they accepted. */
  readonly version: number;
  readonly issuedAt: number;
  readonly expiresAt: number;
  readonly measurements: readonly AllowedMeasurement[];
}

export interface AllowlistSignature {
  /** Ed25519 public key of the release signer, hex. */
  readonly signer: string;
  /** Ed25519 signature over `allowlistSigningBytes(allowlist)`, hex. */
  readonly signature: string;
}

export interface SignedAllowlist {
  readonly allowlist: MeasurementAllowlist;
  readonly signatures: readonly AllowlistSignature[];
}

/** M-of-N: the release signers' Ed25519 public keys (hex) and how many distinct ones must sign. */
export interface ReleasePolicy {
  readonly threshold: number;
  readonly signers: readonly string[];
}

const DOMAIN = 'custos-measurement-allowlist-v1\n';
const HEX = (n: number) => new RegExp(`^[0-9a-f]{${n}}$`);
const MAX_MEASUREMENTS = 256;
const MAX_SIGNATURES = 64;

/**
 * The exact bytes release signers sign: a domain line, then the allowlist as JSON with a fixed key
 * order (version, issuedAt, expiresAt, measurements[name, pcrs by ascending index]). Only a
 * validated allowlist is serialised, so the encoding is canonical.
 *
 * @example
 *   const sig = ed25519.sign(allowlistSigningBytes(allowlist), releaseSecretKey);
 */
export function allowlistSigningBytes(allowlist: MeasurementAllowlist): Uint8Array {
  const a = parseAllowlist(allowlist);
  const canonical = {
    version: a.version,
    issuedAt: a.issuedAt,
    expiresAt: a.expiresAt,
    measurements: a.measurements.map((m) => ({
      name: m.name,
      pcrs: Object.fromEntries(Object.keys(m.pcrs).map(Number).sort((x, y) => x - y).map((i) => [String(i), m.pcrs[String(i)]!])),
    })),
  };
  return new TextEncoder().encode(DOMAIN + JSON.stringify(canonical));
}

/**
 * One release signer's signature over an allowlist. The secret key stays with the caller.
 *
 * @example
 *   const signed = { allowlist, signatures: [signAllowlist(allowlist, keyA), signAllowlist(allowlist, keyB)] };
 */
export function signAllowlist(allowlist: MeasurementAllowlist, secretKey: Uint8Array): AllowlistSignature {
  const message = allowlistSigningBytes(allowlist);
  return {
    signer: Buffer.from(ed25519.getPublicKey(secretKey)).toString('hex'),
    signature: Buffer.from(ed25519.sign(message, secretKey)).toString('hex'),
  };
}

/**
 * Verify a signed allowlist under the release policy at time `at`: the document is well formed,
 * at least `threshold` distinct authorised signers signed it (a repeated signer counts once, a
 * signer outside the policy or an invalid signature counts zero), it is issued and not expired at
 * `at`, and its version is not below `minVersion` (no rollback to an older list). Throws
 * `attestation_allowlist`.
 *
 * @example
 *   const allowlist = verifyAllowlist(JSON.parse(text), policy, { at: clock.now(), minVersion: lastVersion });
 */
export function verifyAllowlist(signed: unknown, policy: ReleasePolicy, options: { at: number; minVersion?: number }): MeasurementAllowlist {
  const signers = checkPolicy(policy);
  if (!isRecord(signed) || !Array.isArray(signed.signatures) || !hasOnlyKeys(signed, ['allowlist', 'signatures'])) {
    throw fail('signed allowlist must be { allowlist, signatures[] }');
  }
  if (signed.signatures.length > MAX_SIGNATURES) throw fail(`more than ${MAX_SIGNATURES} signatures`);
  const allowlist = parseAllowlist(signed.allowlist);
  const message = allowlistSigningBytes(allowlist);
  const counted = new Set<string>();
  for (const s of signed.signatures as unknown[]) {
    if (!isRecord(s) || typeof s.signer !== 'string' || typeof s.signature !== 'string') throw fail('a signature entry must be { signer, signature } hex strings');
    const signer = s.signer.toLowerCase();
    if (!signers.has(signer) || counted.has(signer) || !HEX(128).test(s.signature.toLowerCase())) continue;
    let ok = false;
    try {
      ok = ed25519.verify(Buffer.from(s.signature, 'hex'), message, Buffer.from(signer, 'hex'), { zip215: false });
    } catch {
      ok = false;
    }
    if (ok) counted.add(signer);
  }
  if (counted.size < policy.threshold) {
    throw fail(`allowlist has ${counted.size} valid signatures from distinct release signers, the policy needs ${policy.threshold}`);
  }
  if (options.at < allowlist.issuedAt) throw fail('allowlist is issued in the future');
  if (options.at >= allowlist.expiresAt) throw fail('allowlist has expired');
  if (options.minVersion !== undefined && allowlist.version < options.minVersion) {
    throw fail(`allowlist version ${allowlist.version} is older than the accepted version ${options.minVersion}`);
  }
  return allowlist;
}

/**
 * The allowlist entry the attested PCRs match, or `attestation_measurement`. Every PCR an entry
 * lists must be present and equal; a debug enclave (PCR0 all zeros) never matches.
 *
 * @example
 *   const entry = checkMeasurement(verified.pcrs, allowlist); // { name: 'custos 0.3.1', ... }
 */
export function checkMeasurement(pcrs: ReadonlyMap<number, Uint8Array>, allowlist: MeasurementAllowlist): AllowedMeasurement {
  const pcr0 = pcrs.get(0);
  if (!pcr0 || pcr0.every((b) => b === 0)) throw new AttestationError('attestation_measurement', 'debug enclave (PCR0 is zero) is never allowed');
  for (const entry of allowlist.measurements) {
    const matches = Object.entries(entry.pcrs).every(([index, hex]) => {
      const actual = pcrs.get(Number(index));
      return actual !== undefined && actual.length === PCR_BYTES && timingSafeEqual(actual, Buffer.from(hex, 'hex'));
    });
    if (matches) return entry;
  }
  throw new AttestationError('attestation_measurement', 'enclave measurement is not on the allowlist', {
    pcr0: Buffer.from(pcr0).toString('hex'),
  });
}

function parseAllowlist(value: unknown): MeasurementAllowlist {
  if (!isRecord(value) || !hasOnlyKeys(value, ['version', 'issuedAt', 'expiresAt', 'measurements'])) throw fail('allowlist must have exactly version, issuedAt, expiresAt, measurements');
  const { version, issuedAt, expiresAt, measurements } = value;
  if (!Number.isSafeInteger(version) || (version as number) < 1) throw fail('version must be a positive integer');
  if (!Number.isSafeInteger(issuedAt) || !Number.isSafeInteger(expiresAt) || (expiresAt as number) <= (issuedAt as number)) {
    throw fail('issuedAt and expiresAt must be integers (epoch ms) with expiresAt after issuedAt');
  }
  if (!Array.isArray(measurements) || measurements.length === 0 || measurements.length > MAX_MEASUREMENTS) {
    throw fail(`measurements must list 1 to ${MAX_MEASUREMENTS} entries`);
  }
  return {
    version: version as number,
    issuedAt: issuedAt as number,
    expiresAt: expiresAt as number,
    measurements: measurements.map((m: unknown) => {
      if (!isRecord(m) || !hasOnlyKeys(m, ['name', 'pcrs']) || typeof m.name !== 'string' || m.name.length === 0 || m.name.length > 200 || !isRecord(m.pcrs)) {
        throw fail('a measurement must be { name, pcrs }');
      }
      const pcrs: Record<string, string> = {};
      for (const [index, hex] of Object.entries(m.pcrs)) {
        if (!/^(0|[1-9]|[12][0-9]|3[01])$/.test(index)) throw fail(`PCR index ${index} is not 0..31`);
        if (typeof hex !== 'string' || !HEX(PCR_BYTES * 2).test(hex)) throw fail(`PCR${index} must be ${PCR_BYTES * 2} lower-case hex characters`);
        pcrs[index] = hex;
      }
      if (pcrs['0'] === undefined) throw fail(`measurement ${m.name} must pin PCR0`);
      if (/^0+$/.test(pcrs['0'])) throw fail(`measurement ${m.name} pins a zero PCR0 (debug enclave)`);
      return { name: m.name, pcrs };
    }),
  };
}

function checkPolicy(policy: ReleasePolicy): Set<string> {
  const signers = new Set(policy.signers.map((s) => s.toLowerCase()));
  if (signers.size !== policy.signers.length || [...signers].some((s) => !HEX(64).test(s))) {
    throw fail('release policy signers must be distinct 32-byte Ed25519 public keys in hex');
  }
  if (!Number.isSafeInteger(policy.threshold) || policy.threshold < 1 || policy.threshold > signers.size) {
    throw fail('release policy threshold must be between 1 and the number of signers');
  }
  return signers;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function hasOnlyKeys(v: Record<string, unknown>, keys: readonly string[]): boolean {
  const own = Object.keys(v);
  return own.length === keys.length && keys.every((k) => Object.prototype.hasOwnProperty.call(v, k));
}

function fail(message: string): AttestationError {
  return new AttestationError('attestation_allowlist', message);
}
