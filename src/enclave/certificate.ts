import { createHash, X509Certificate } from 'node:crypto';
import { DerReader, type DerElement } from './der-reader.js';
import { AttestationError } from './errors.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
/** DER contents of the ECDSA-SHA2 signature algorithm OIDs a chain certificate may use (SHA-256/384/512). */
const ECDSA_WITH_SHA = new Set(['2a8648ce3d040302', '2a8648ce3d040303', '2a8648ce3d040304']);
const OID_BASIC_CONSTRAINTS = '551d13';
const OID_KEY_USAGE = '551d0f';
/** Critical extensions custos processes; a certificate with any other critical extension is refused (RFC 5280 §4.2). */
const KNOWN_CRITICAL = new Set([OID_BASIC_CONSTRAINTS, OID_KEY_USAGE]);

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
  /** Undefined when the certificate has no keyUsage extension. */
  readonly digitalSignature: boolean | undefined;
  readonly subject: string;
}

/**
 * Parse a DER certificate for chain validation: validity as epoch milliseconds, basic constraints,
 * key usage, and the SHA-256 fingerprint (own strict DER walk for these facts; node:crypto's
 * X509Certificate for names and signatures). Refuses (`attestation_chain`) a certificate that does
 * not parse, is signed with anything but ECDSA-SHA2, repeats an extension, or carries a critical
 * extension custos does not process.
 *
 * @example
 *   const root = parseCertificate(derBytes); root.fingerprintSha256; // '641a03…'
 */
export function parseCertificate(der: Uint8Array, label = 'certificate'): ParsedCertificate {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(der);
  } catch {
    throw new AttestationError('attestation_chain', `${label} is not a DER X.509 certificate`);
  }
  const r = new DerReader(der, 'attestation_chain');
  const [tbsEl, algEl, sigEl, ...rest] = r.children(r.expect(r.root(), 0x30, label));
  r.expect(sigEl, 0x03, `${label} signature`);
  if (rest.length > 0) throw r.fail(`${label} has extra fields`);
  const outerAlg = algorithmOid(r, r.expect(algEl, 0x30, `${label} signatureAlgorithm`));
  const tbs = r.children(r.expect(tbsEl, 0x30, `${label} tbsCertificate`));
  let i = 0;
  if (tbs[0]?.tag === 0xa0) i++; // [0] version
  r.expect(tbs[i++], 0x02, `${label} serialNumber`);
  const innerAlg = algorithmOid(r, r.expect(tbs[i++], 0x30, `${label} signature`));
  if (!ECDSA_WITH_SHA.has(outerAlg) || innerAlg !== outerAlg) throw new AttestationError('attestation_chain', `${label} is not signed with ECDSA-SHA2`);
  r.expect(tbs[i++], 0x30, `${label} issuer`);
  const validity = r.children(r.expect(tbs[i++], 0x30, `${label} validity`));
  if (validity.length !== 2) throw r.fail(`${label} validity must hold two times`);
  const notBefore = derTime(r, validity[0]!);
  const notAfter = derTime(r, validity[1]!);
  r.expect(tbs[i++], 0x30, `${label} subject`);
  r.expect(tbs[i++], 0x30, `${label} subjectPublicKeyInfo`);
  if (tbs[i]?.tag === 0x81) i++; // [1] issuerUniqueID
  if (tbs[i]?.tag === 0x82) i++; // [2] subjectUniqueID
  let isCa = false;
  let pathLenConstraint: number | undefined;
  let keyCertSign: boolean | undefined;
  let digitalSignature: boolean | undefined;
  if (tbs[i]?.tag === 0xa3) {
    const seen = new Set<string>();
    for (const ext of r.children(r.expect(r.children(tbs[i]!)[0], 0x30, `${label} extensions`))) {
      const parts = r.children(r.expect(ext, 0x30, `${label} extension`));
      const oid = hex(r.content(r.expect(parts[0], 0x06, `${label} extension id`)));
      let critical = false;
      let valueEl = parts[1];
      if (valueEl?.tag === 0x01) {
        critical = boolean(r, valueEl);
        valueEl = parts[2];
      }
      const value = r.content(r.expect(valueEl, 0x04, `${label} extension value`));
      if (seen.has(oid)) throw new AttestationError('attestation_chain', `${label} repeats an extension`);
      seen.add(oid);
      if (critical && !KNOWN_CRITICAL.has(oid)) throw new AttestationError('attestation_chain', `${label} has an unknown critical extension (${oid})`);
      const inner = new DerReader(value, 'attestation_chain');
      if (oid === OID_BASIC_CONSTRAINTS) {
        const fields = inner.children(inner.expect(inner.root(), 0x30, `${label} basicConstraints`));
        let f = 0;
        if (fields[f]?.tag === 0x01) isCa = boolean(inner, fields[f++]!);
        if (fields[f]?.tag === 0x02) pathLenConstraint = smallInteger(inner, fields[f++]!);
        if (f !== fields.length) throw inner.fail(`${label} basicConstraints has unexpected fields`);
      } else if (oid === OID_KEY_USAGE) {
        const bits = inner.content(inner.expect(inner.root(), 0x03, `${label} keyUsage`));
        if (bits.length < 2) throw inner.fail(`${label} keyUsage is empty`);
        digitalSignature = (bits[1]! & 0x80) !== 0; // bit 0 of the first octet after the unused-bits count
        keyCertSign = (bits[1]! & 0x04) !== 0; // bit 5
      }
    }
    i++;
  }
  if (i !== tbs.length) throw r.fail(`${label} tbsCertificate has unexpected fields`);
  return {
    der,
    fingerprintSha256: createHash('sha256').update(der).digest('hex'),
    x509,
    notBefore,
    notAfter,
    isCa,
    pathLenConstraint,
    keyCertSign,
    digitalSignature,
    subject: x509.subject.replace(/\n/g, ', '),
  };
}

function algorithmOid(r: DerReader, el: DerElement): string {
  return hex(r.content(r.expect(r.children(el)[0], 0x06, 'algorithm identifier')));
}

function boolean(r: DerReader, el: DerElement): boolean {
  const c = r.content(el);
  if (c.length !== 1 || (c[0] !== 0 && c[0] !== 0xff)) throw r.fail('BOOLEAN is not DER');
  return c[0] === 0xff;
}

function smallInteger(r: DerReader, el: DerElement): number {
  const c = r.content(el);
  if (c.length === 0 || c.length > 2 || (c[0]! & 0x80) !== 0) throw r.fail('INTEGER out of range');
  return c.reduce((n, b) => n * 256 + b, 0);
}

/** UTCTime (YYMMDDHHMMSSZ, years 1950..2049) or GeneralizedTime (YYYYMMDDHHMMSSZ), as epoch ms. */
function derTime(r: DerReader, el: DerElement): number {
  const text = Buffer.from(r.content(el)).toString('latin1');
  let m: RegExpExecArray | null;
  let year: number;
  if (el.tag === 0x17 && (m = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text))) {
    const yy = Number(m[1]);
    year = yy < 50 ? 2000 + yy : 1900 + yy;
  } else if (el.tag === 0x18 && (m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text))) {
    year = Number(m[1]);
  } else {
    throw r.fail('certificate time is neither UTCTime nor GeneralizedTime in Z form');
  }
  const [month, day, hour, minute, second] = [2, 3, 4, 5, 6].map((k) => Number(m![k]));
  const t = Date.UTC(year, month! - 1, day, hour, minute, second);
  const d = new Date(t);
  if (d.getUTCMonth() !== month! - 1 || d.getUTCDate() !== day || hour! > 23 || minute! > 59 || second! > 59) throw r.fail('certificate time is not a valid date');
  return t;
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
