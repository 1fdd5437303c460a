import { createHash, X509Certificate } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { BasicConstraints, Certificate, KeyUsage, id_ce_basicConstraints, id_ce_keyUsage } from '@peculiar/asn1-x509';
import { AttestationError } from './errors.js';

/** ECDSA signature algorithms a certificate in an attestation chain may use. */
const ECDSA_WITH_SHA = new Set(['1.2.840.10045.4.3.2', '1.2.840.10045.4.3.3', '1.2.840.10045.4.3.4']);
/** Critical extensions custos understands; a certificate with any other critical extension is refused (RFC 5280 §4.2). */
const KNOWN_CRITICAL = new Set([id_ce_basicConstraints, id_ce_keyUsage]);

/** One certificate of an attestation chain, parsed once, with the facts chain validation needs. */
export interface ParsedCertificate {
  readonly der: Uint8Array;
  /** Lower-case hex SHA-256 of the DER, as `openssl x509 -fingerprint -sha256` shows it without colons. */
  readonly fingerprintSha256: string;
  readonly x509: X509Certificate;
  readonly notBefore: number;
  readonly notAfter: number;
  readonly isCa: boolean;
  readonly pathLenConstraint: number | undefined;
  /** Undefined when the certificate has no keyUsage extension. */
  readonly keyCertSign: boolean | undefined;
  readonly subject: string;
}

/**
 * Parse a DER certificate for chain validation: validity as epoch milliseconds, basic constraints,
 * key usage, and the SHA-256 fingerprint. Refuses (`attestation_chain`) a certificate that does not
 * parse, is signed with anything but ECDSA-SHA2, or carries a critical extension custos does not
 * process.
 *
 * @example
 *   const root = parseCertificate(derBytes); root.fingerprintSha256; // '641a03…'
 */
export function parseCertificate(der: Uint8Array, label = 'certificate'): ParsedCertificate {
  let x509: X509Certificate;
  let asn: Certificate;
  try {
    x509 = new X509Certificate(der);
    asn = AsnConvert.parse(der, Certificate);
  } catch {
    throw new AttestationError('attestation_chain', `${label} is not a DER X.509 certificate`);
  }
  const tbs = asn.tbsCertificate;
  if (!ECDSA_WITH_SHA.has(asn.signatureAlgorithm.algorithm) || tbs.signature.algorithm !== asn.signatureAlgorithm.algorithm) {
    throw new AttestationError('attestation_chain', `${label} is not signed with ECDSA-SHA2`);
  }
  let isCa = false;
  let pathLenConstraint: number | undefined;
  let keyCertSign: boolean | undefined;
  const seen = new Set<string>();
  for (const ext of tbs.extensions ?? []) {
    if (seen.has(ext.extnID)) throw new AttestationError('attestation_chain', `${label} repeats extension ${ext.extnID}`);
    seen.add(ext.extnID);
    try {
      if (ext.extnID === id_ce_basicConstraints) {
        const bc = AsnConvert.parse(ext.extnValue, BasicConstraints);
        isCa = bc.cA;
        pathLenConstraint = bc.pathLenConstraint;
      } else if (ext.extnID === id_ce_keyUsage) {
        keyCertSign = AsnConvert.parse(ext.extnValue, KeyUsage).toJSON().includes('keyCertSign');
      }
    } catch {
      throw new AttestationError('attestation_chain', `${label} has a malformed ${ext.extnID} extension`);
    }
    if (ext.critical && !KNOWN_CRITICAL.has(ext.extnID)) {
      throw new AttestationError('attestation_chain', `${label} has an unknown critical extension ${ext.extnID}`);
    }
  }
  return {
    der,
    fingerprintSha256: createHash('sha256').update(der).digest('hex'),
    x509,
    notBefore: tbs.validity.notBefore.getTime().getTime(),
    notAfter: tbs.validity.notAfter.getTime().getTime(),
    isCa,
    pathLenConstraint,
    keyCertSign,
    subject: x509.subject.replace(/\n/g, ', '),
  };
}

/**
 * DER bytes of the first certificate in a PEM text.
 *
 * @example
 *   const der = pemToDer(readFileSync('root.pem', 'utf8'));
 */
export function pemToDer(pem: string): Uint8Array {
  const m = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----/.exec(pem);
  if (!m?.[1]) throw new AttestationError('attestation_format', 'no PEM certificate found');
  return new Uint8Array(Buffer.from(m[1].replace(/\s+/g, ''), 'base64'));
}

/**
 * PEM text of a DER certificate.
 *
 * @example
 *   derToPem(der).startsWith('-----BEGIN CERTIFICATE-----'); // true
 */
export function derToPem(der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
}
