import { parseCertificate, pemToDer, type ParsedCertificate } from './certificate.js';
import { AttestationError } from './errors.js';

/**
 * A root certificate the verifier trusts, pinned by the SHA-256 fingerprint of its DER, with an
 * optional acceptance window used to rotate roots: the old root is pinned with `acceptUntil` set to
 * the cutover, the new one with `acceptFrom` set to it (or earlier, to overlap).
 */
export interface PinnedRoot {
  readonly name: string;
  readonly certificate: ParsedCertificate;
  /** Epoch ms from which documents chaining to this root are accepted (inclusive). */
  readonly acceptFrom: number;
  /** Epoch ms until which documents chaining to this root are accepted (exclusive). */
  readonly acceptUntil: number;
}

export interface PinRootInput {
  name: string;
  /** The root certificate as PEM (shipped with custos or created by `custos init`), or DER. */
  certificate: string | Uint8Array;
  /** Expected SHA-256 fingerprint of the DER, hex, colons and case ignored. */
  fingerprintSha256: string;
  acceptFrom?: number;
  acceptUntil?: number;
}

/**
 * Pin a root: parse the certificate shipped as data and check its fingerprint against the expected
 * one, so a swapped file cannot become a trusted root. Throws `attestation_root` on a mismatch and
 * when the certificate is not a self-signed CA.
 *
 * @example
 *   const root = pinRoot({ name: 'aws-nitro-g1', certificate: pem, fingerprintSha256: '641a0321…bb5b' });
 */
export function pinRoot(input: PinRootInput): PinnedRoot {
  const der = typeof input.certificate === 'string' ? pemToDer(input.certificate) : input.certificate;
  const certificate = parseCertificate(der, `pinned root ${input.name}`);
  const expected = input.fingerprintSha256.replace(/:/g, '').toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(expected)) throw new AttestationError('attestation_root', `pinned fingerprint of ${input.name} is not 32 bytes of hex`);
  if (certificate.fingerprintSha256 !== expected) {
    throw new AttestationError('attestation_root', `root certificate ${input.name} does not have the pinned fingerprint`, {
      expected,
      actual: certificate.fingerprintSha256,
    });
  }
  if (!certificate.isCa || !certificate.x509.checkIssued(certificate.x509) || !certificate.x509.verify(certificate.x509.publicKey)) {
    throw new AttestationError('attestation_root', `root certificate ${input.name} is not a self-signed CA certificate`);
  }
  const acceptFrom = input.acceptFrom ?? Number.NEGATIVE_INFINITY;
  const acceptUntil = input.acceptUntil ?? Number.POSITIVE_INFINITY;
  if (!(acceptFrom < acceptUntil)) throw new AttestationError('attestation_root', `acceptance window of ${input.name} is empty`);
  return { name: input.name, certificate, acceptFrom, acceptUntil };
}
