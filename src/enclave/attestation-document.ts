import { decodeCbor, type CborValue } from './cbor-decode.js';
import { encodeCbor } from './cbor-encode.js';
import { AttestationError } from './errors.js';

/** Bytes of one PCR value under the SHA384 digest. */
export const PCR_BYTES = 48;
/** Most certificates a `cabundle` may hold (AWS sends four: root, regional, zonal, instance). */
export const MAX_CABUNDLE = 8;
const MAX_CERT_BYTES = 1024;
const MAX_BINDING_BYTES = 1024;
const FIELDS = new Set(['module_id', 'digest', 'timestamp', 'pcrs', 'certificate', 'cabundle', 'public_key', 'user_data', 'nonce']);

/**
 * The payload of an AWS Nitro attestation document (aws-nitro-enclaves-nsm-api,
 * docs/attestation_process.md), with the same field meanings; optional fields are `undefined` when
 * absent or null.
 */
export interface AttestationDocument {
  readonly moduleId: string;
  readonly digest: 'SHA384';
  /** Milliseconds since the Unix epoch, as the NSM wrote it. */
  readonly timestamp: number;
  /** PCR index (0..31) → 48-byte value. */
  readonly pcrs: ReadonlyMap<number, Uint8Array>;
  /** DER of the leaf certificate whose key signed the document. */
  readonly certificate: Uint8Array;
  /** DER certificates, root first, then intermediates in order down to the leaf's issuer. */
  readonly cabundle: readonly Uint8Array[];
  readonly publicKey: Uint8Array | undefined;
  readonly userData: Uint8Array | undefined;
  readonly nonce: Uint8Array | undefined;
}

/**
 * Decode and check the CBOR payload of a Nitro attestation document: every required field present
 * with its type and size, no unknown field, PCR indices 0..31 with 48-byte values, at most
 * `MAX_CABUNDLE` certificates of at most 1024 bytes, `public_key` / `user_data` / `nonce` at most
 * 1024 bytes. Throws `attestation_format` otherwise. Nothing here is authenticated yet.
 *
 * @example
 *   const doc = parseAttestationDocument(cose.payload); doc.pcrs.get(0);
 */
export function parseAttestationDocument(payload: Uint8Array): AttestationDocument {
  const map = decodeCbor(payload, { maxBytes: 16 * 1024, maxDepth: 3, maxItems: 256 });
  if (!(map instanceof Map)) throw bad('attestation document payload must be a map');
  for (const key of map.keys()) {
    if (typeof key !== 'string' || !FIELDS.has(key)) throw bad(`unknown field ${JSON.stringify(key)} in the attestation document`);
  }
  const moduleId = map.get('module_id');
  if (typeof moduleId !== 'string' || moduleId.length === 0 || moduleId.length > 256) throw bad('module_id must be a non-empty text string');
  if (map.get('digest') !== 'SHA384') throw bad('digest must be "SHA384"');
  const timestamp = map.get('timestamp');
  if (typeof timestamp !== 'number' || timestamp <= 0) throw bad('timestamp must be a positive integer (milliseconds)');
  const certificate = bytes(map.get('certificate'), 'certificate', 1, MAX_CERT_BYTES);
  const cabundleValue = map.get('cabundle');
  if (!Array.isArray(cabundleValue) || cabundleValue.length === 0) throw bad('cabundle must be a non-empty array');
  if (cabundleValue.length > MAX_CABUNDLE) throw bad(`cabundle holds ${cabundleValue.length} certificates, more than ${MAX_CABUNDLE}`);
  const cabundle = cabundleValue.map((c, i) => bytes(c, `cabundle[${i}]`, 1, MAX_CERT_BYTES));
  return {
    moduleId,
    digest: 'SHA384',
    timestamp,
    pcrs: parsePcrs(map.get('pcrs')),
    certificate,
    cabundle,
    publicKey: optionalBytes(map.get('public_key'), 'public_key', 1),
    userData: optionalBytes(map.get('user_data'), 'user_data', 0),
    nonce: optionalBytes(map.get('nonce'), 'nonce', 0),
  };
}

/**
 * Encode a document payload in the field order the NSM uses (for the development attester).
 *
 * @example
 *   const payload = encodeAttestationDocument({ moduleId: 'dev-1', digest: 'SHA384', ... });
 */
export function encodeAttestationDocument(doc: AttestationDocument): Uint8Array {
  const pcrs = new Map<number, CborValue>([...doc.pcrs].sort(([a], [b]) => a - b));
  return encodeCbor(
    new Map<string, CborValue>([
      ['module_id', doc.moduleId],
      ['digest', doc.digest],
      ['timestamp', doc.timestamp],
      ['pcrs', pcrs],
      ['certificate', doc.certificate],
      ['cabundle', [...doc.cabundle]],
      ['public_key', doc.publicKey ?? null],
      ['user_data', doc.userData ?? null],
      ['nonce', doc.nonce ?? null],
    ]),
  );
}

function parsePcrs(value: CborValue | undefined): Map<number, Uint8Array> {
  if (!(value instanceof Map) || value.size === 0 || value.size > 32) throw bad('pcrs must be a map of 1 to 32 entries');
  const pcrs = new Map<number, Uint8Array>();
  for (const [index, pcr] of value) {
    if (typeof index !== 'number' || index < 0 || index > 31) throw bad('PCR index must be an integer 0..31');
    pcrs.set(index, bytes(pcr, `PCR${index}`, PCR_BYTES, PCR_BYTES));
  }
  return pcrs;
}

function optionalBytes(value: CborValue | undefined, name: string, min: number): Uint8Array | undefined {
  if (value === undefined || value === null) return undefined;
  return bytes(value, name, min, MAX_BINDING_BYTES);
}

function bytes(value: CborValue | undefined, name: string, min: number, max: number): Uint8Array {
  if (!(value instanceof Uint8Array)) throw bad(`${name} must be a byte string`);
  if (value.length < min || value.length > max) throw bad(`${name} must be ${min === max ? min : `${min} to ${max}`} bytes, got ${value.length}`);
  return value;
}

function bad(message: string): AttestationError {
  return new AttestationError('attestation_format', message);
}
