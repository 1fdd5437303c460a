import { randomBytes, sign, type KeyObject } from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  AlgorithmIdentifier,
  AttributeTypeAndValue,
  AttributeValue,
  BasicConstraints,
  Certificate,
  Extension,
  Extensions,
  KeyUsage,
  KeyUsageFlags,
  Name,
  RelativeDistinguishedName,
  SubjectPublicKeyInfo,
  TBSCertificate,
  Validity,
  Version,
  id_ce_basicConstraints,
  id_ce_keyUsage,
} from '@peculiar/asn1-x509';

const ECDSA_WITH_SHA384 = '1.2.840.10045.4.3.3';
const OID_CN = '2.5.4.3';
const OID_O = '2.5.4.10';

export interface IssueCertificateInput {
  /** Subject common name. */
  subject: string;
  /** Organisation of subject and issuer (default "custos development": the development attestation PKI). */
  organisation?: string;
  subjectPublicKey: KeyObject;
  /** Issuer common name (the subject itself for a self-signed root). */
  issuer: string;
  /** EC P-384 key of the issuer; the certificate is signed ecdsa-with-SHA384. */
  issuerPrivateKey: KeyObject;
  notBefore: number;
  notAfter: number;
  ca: boolean;
  /** For a CA: how many intermediates may follow it. */
  pathLen?: number;
  /** 16 bytes; random by default. */
  serial?: Uint8Array;
  /** Extra extensions, DER values (used by tests to add e.g. an unknown critical extension). */
  extraExtensions?: readonly { oid: string; critical: boolean; value: Uint8Array }[];
}

/**
 * Build and sign an X.509 v3 certificate (ecdsa-with-SHA384) for the development attestation PKI:
 * basic constraints (critical) and key usage (critical: keyCertSign + cRLSign for a CA,
 * digitalSignature for a leaf). Returns the DER.
 *
 * @example
 *   const der = issueCertificate({ subject: 'root', issuer: 'root', subjectPublicKey: pub, issuerPrivateKey: priv,
 *     notBefore: now, notAfter: now + YEAR, ca: true, pathLen: 1 });
 */
export function issueCertificate(input: IssueCertificateInput): Uint8Array {
  const serial = input.serial ?? new Uint8Array(randomBytes(16));
  // A positive INTEGER: clear the top bit, and never start with a zero octet.
  const serialBytes = Uint8Array.from(serial);
  serialBytes[0] = (serialBytes[0]! & 0x7f) | 0x01;
  const algorithm = new AlgorithmIdentifier({ algorithm: ECDSA_WITH_SHA384 });
  const usage = input.ca ? KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign : KeyUsageFlags.digitalSignature;
  const extensions = [
    extension(id_ce_basicConstraints, true, AsnConvert.serialize(new BasicConstraints(input.ca ? { cA: true, ...(input.pathLen !== undefined ? { pathLenConstraint: input.pathLen } : {}) } : { cA: false }))),
    extension(id_ce_keyUsage, true, AsnConvert.serialize(new KeyUsage(usage))),
    ...(input.extraExtensions ?? []).map((e) => extension(e.oid, e.critical, e.value)),
  ];
  const tbs = new TBSCertificate({
    version: Version.v3,
    serialNumber: serialBytes.buffer,
    signature: algorithm,
    issuer: name(input.issuer, input.organisation),
    subject: name(input.subject, input.organisation),
    validity: new Validity({ notBefore: new Date(input.notBefore), notAfter: new Date(input.notAfter) }),
    subjectPublicKeyInfo: AsnConvert.parse(input.subjectPublicKey.export({ format: 'der', type: 'spki' }), SubjectPublicKeyInfo),
    extensions: new Extensions(extensions),
  });
  const tbsDer = new Uint8Array(AsnConvert.serialize(tbs));
  const signature = sign('sha384', tbsDer, input.issuerPrivateKey);
  const certificate = new Certificate({ tbsCertificate: tbs, signatureAlgorithm: algorithm, signatureValue: new Uint8Array(signature).buffer });
  return new Uint8Array(AsnConvert.serialize(certificate));
}

function extension(oid: string, critical: boolean, value: ArrayBuffer | Uint8Array): Extension {
  return new Extension({ extnID: oid, critical, extnValue: new OctetString(value instanceof Uint8Array ? value : new Uint8Array(value)) });
}

function name(commonName: string, organisation = 'custos development'): Name {
  const rdn = (type: string, text: string) =>
    new RelativeDistinguishedName([new AttributeTypeAndValue({ type, value: new AttributeValue({ utf8String: text }) })]);
  return new Name([rdn(OID_O, organisation), rdn(OID_CN, commonName)]);
}
