import { describe, expect, it } from 'vitest';
import { encodeAttestationDocument, parseAttestationDocument, type AttestationDocument } from './attestation-document.js';
import type { CborValue } from './cbor-decode.js';
import { encodeCbor } from './cbor-encode.js';
import { AttestationError } from './errors.js';

const pcr = (fill: number) => new Uint8Array(48).fill(fill);
const base: AttestationDocument = {
  moduleId: 'i-0123456789abcdef0-enc0123456789abcdef',
  digest: 'SHA384',
  timestamp: 1_725_719_859_545,
  pcrs: new Map([
    [0, pcr(1)],
    [1, pcr(2)],
  ]),
  certificate: new Uint8Array(600).fill(3),
  cabundle: [new Uint8Array(500).fill(4)],
  publicKey: undefined,
  userData: new Uint8Array(0),
  nonce: new Uint8Array(32).fill(5),
};

/** The document as a CBOR map whose fields a test can change. */
function fields(): Map<string, CborValue> {
  return new Map<string, CborValue>([
    ['module_id', base.moduleId],
    ['digest', 'SHA384'],
    ['timestamp', base.timestamp],
    ['pcrs', new Map<number, CborValue>([[0, pcr(1)], [1, pcr(2)]])],
    ['certificate', base.certificate],
    ['cabundle', [...base.cabundle]],
    ['public_key', null],
    ['user_data', new Uint8Array(0)],
    ['nonce', base.nonce!],
  ]);
}

function refusal(map: Map<string, CborValue> | CborValue): string {
  try {
    parseAttestationDocument(encodeCbor(map));
  } catch (err) {
    if (err instanceof AttestationError) return err.code;
    throw err;
  }
  return 'accepted';
}

const withField = (k: string, v: CborValue) => new Map(fields()).set(k, v);
const without = (k: string) => {
  const m = fields();
  m.delete(k);
  return m;
};

describe('parseAttestationDocument', () => {
  it('round-trips the NSM field layout; absent and null optional fields read as undefined', () => {
    const doc = parseAttestationDocument(encodeAttestationDocument(base));
    expect(doc).toEqual(base);
    expect(parseAttestationDocument(encodeCbor(without('public_key'))).publicKey).toBeUndefined();
  });

  it('requires every mandatory field', () => {
    for (const k of ['module_id', 'digest', 'timestamp', 'pcrs', 'certificate', 'cabundle']) expect(refusal(without(k)), k).toBe('attestation_format');
  });

  it('refuses wrong types, values and sizes', () => {
    const cases: [string, CborValue][] = [
      ['module_id', ''],
      ['module_id', 7],
      ['digest', 'SHA256'],
      ['timestamp', 0],
      ['timestamp', -5],
      ['timestamp', '1725719859545'],
      ['pcrs', new Map()],
      ['pcrs', new Map([[0, new Uint8Array(32)]])],
      ['pcrs', new Map([[32, pcr(1)]])],
      ['pcrs', new Map([[-1, pcr(1)]])],
      ['pcrs', new Map([['0', pcr(1)]])],
      ['pcrs', [pcr(1)]],
      ['certificate', new Uint8Array(0)],
      ['certificate', new Uint8Array(1025)],
      ['cabundle', []],
      ['cabundle', Array.from({ length: 9 }, () => new Uint8Array(10))],
      ['cabundle', [new Uint8Array(10), 'x']],
      ['cabundle', null],
      ['public_key', new Uint8Array(0)],
      ['public_key', new Uint8Array(1025)],
      ['user_data', new Uint8Array(1025)],
      ['nonce', new Uint8Array(1025)],
      ['nonce', 'abc'],
    ];
    for (const [k, v] of cases) expect(refusal(withField(k, v)), `${k} = ${JSON.stringify(v)?.slice(0, 40)}`).toBe('attestation_format');
  });

  it('refuses unknown fields and a payload that is not a map', () => {
    expect(refusal(withField('extra', 1))).toBe('attestation_format');
    expect(refusal(new Map<CborValue & (string | number), CborValue>([...fields(), [1, 1]]) as Map<string, CborValue>)).toBe('attestation_format');
    expect(refusal([1, 2])).toBe('attestation_format');
  });

  it('accepts the NSM maximum of 1024 bytes for public_key, user_data and nonce', () => {
    const m = fields();
    m.set('public_key', new Uint8Array(1024)).set('user_data', new Uint8Array(1024)).set('nonce', new Uint8Array(1024));
    expect(refusal(m)).toBe('accepted');
  });
});
