import { createHash, createPrivateKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { derToPem, pemToDer } from './certificate.js';
import { issueCertificate } from './issue-certificate.js';
import { pinRoot, type PinnedRoot } from './pinned-root.js';

const YEAR_MS = 365 * 86_400_000;

/**
 * A certificate authority of the development attestation PKI. `privateKeyPem` is secret: store it
 * like any key (custos init writes it with mode 0600) and never log it.
 */
export interface DevelopmentCa {
  readonly name: string;
  readonly certificatePem: string;
  /** PKCS#8 PEM of the CA's P-384 key. Secret. */
  readonly privateKeyPem: string;
  /** Certificates from the root down to this CA, root first: the `cabundle` of documents it issues. */
  readonly chainPem: readonly string[];
  /** SHA-256 of this CA certificate's DER, hex. */
  readonly fingerprintSha256: string;
}

export interface DevelopmentCaOptions {
  /** Validity start, epoch ms (injected). */
  now: number;
  /** Default: ten years for a root, one year for an intermediate. */
  validityMs?: number;
  name?: string;
  /** Intermediates allowed below this CA (default: unlimited for a root, 0 for an intermediate). */
  pathLen?: number;
}

/**
 * Create the development attestation root: a self-signed P-384 CA. `custos init` stores the
 * result; verifiers pin it with `pinDevelopmentRoot` (by fingerprint, like the AWS root).
 *
 * @example
 *   const root = createDevelopmentRoot({ now: clock.now() });
 *   const pinned = pinDevelopmentRoot(root);
 */
export function createDevelopmentRoot(options: DevelopmentCaOptions): DevelopmentCa {
  const name = options.name ?? 'custos development attestation root';
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  const der = issueCertificate({
    subject: name,
    issuer: name,
    subjectPublicKey: publicKey,
    issuerPrivateKey: privateKey,
    notBefore: options.now,
    notAfter: options.now + (options.validityMs ?? 10 * YEAR_MS),
    ca: true,
    ...(options.pathLen !== undefined ? { pathLen: options.pathLen } : {}),
    serial: new Uint8Array(randomBytes(16)),
  });
  const certificatePem = derToPem(der);
  return {
    name,
    certificatePem,
    privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    chainPem: [certificatePem],
    fingerprintSha256: createHash('sha256').update(der).digest('hex'),
  };
}

/**
 * Create an intermediate CA under `parent` (a root or another intermediate). Rotating an
 * intermediate needs no verifier change: issue a new one, move attesters to it, and add the old
 * one's fingerprint to the verifier's `denyFingerprints` if it must stop being accepted at once.
 *
 * @example
 *   const intermediate = createDevelopmentIntermediate(root, { now: clock.now() });
 */
export function createDevelopmentIntermediate(parent: DevelopmentCa, options: DevelopmentCaOptions): DevelopmentCa {
  const name = options.name ?? 'custos development attestation intermediate';
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  const der = issueCertificate({
    subject: name,
    issuer: parent.name,
    subjectPublicKey: publicKey,
    issuerPrivateKey: createPrivateKey(parent.privateKeyPem),
    notBefore: options.now,
    notAfter: options.now + (options.validityMs ?? YEAR_MS),
    ca: true,
    pathLen: options.pathLen ?? 0,
  });
  const certificatePem = derToPem(der);
  return {
    name,
    certificatePem,
    privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    chainPem: [...parent.chainPem, certificatePem],
    fingerprintSha256: createHash('sha256').update(der).digest('hex'),
  };
}

/**
 * Pin a development root for the verifier, by the fingerprint recorded when it was created.
 * `window` rotates roots exactly like the AWS one (old root until the cutover, new one after).
 *
 * @example
 *   verifyAttestation(doc, { roots: [pinDevelopmentRoot(root)], at: clock.now(), maxAgeMs: 60_000 });
 */
export function pinDevelopmentRoot(
  root: Pick<DevelopmentCa, 'name' | 'certificatePem' | 'fingerprintSha256'>,
  window: { acceptFrom?: number; acceptUntil?: number } = {},
): PinnedRoot {
  return pinRoot({ name: root.name, certificate: pemToDer(root.certificatePem), fingerprintSha256: root.fingerprintSha256, ...window });
}
