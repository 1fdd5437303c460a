import { describe, expect, it } from 'vitest';
import { decodeCbor } from './cbor-decode.js';
import { encodeCbor } from './cbor-encode.js';
import { AttestationError } from './errors.js';

const h = (hex: string): Uint8Array => new Uint8Array(Buffer.from(hex.replace(/\s/g, ''), 'hex'));

function refusal(bytes: Uint8Array, options = {}): string {
  try {
    decodeCbor(bytes, options);
  } catch (err) {
    if (err instanceof AttestationError) return err.code;
    throw err;
  }
  return 'accepted';
}

describe('decodeCbor', () => {
  it('decodes the RFC 8949 Appendix A examples it supports', () => {
    expect(decodeCbor(h('00'))).toBe(0);
    expect(decodeCbor(h('17'))).toBe(23);
    expect(decodeCbor(h('1818'))).toBe(24);
    expect(decodeCbor(h('1903e8'))).toBe(1000);
    expect(decodeCbor(h('1a000f4240'))).toBe(1000000);
    expect(decodeCbor(h('1b000000e8d4a51000'))).toBe(1000000000000);
    expect(decodeCbor(h('20'))).toBe(-1);
    expect(decodeCbor(h('3903e7'))).toBe(-1000);
    expect(decodeCbor(h('f4'))).toBe(false);
    expect(decodeCbor(h('f5'))).toBe(true);
    expect(decodeCbor(h('f6'))).toBe(null);
    expect(decodeCbor(h('4401020304'))).toEqual(h('01020304'));
    expect(decodeCbor(h('62225c'))).toBe('"\\');
    expect(decodeCbor(h('63e6b0b4'))).toBe('\u6c34');
    expect(decodeCbor(h('8301820203820405'))).toEqual([1, [2, 3], [4, 5]]);
    expect(decodeCbor(h('a201020304'))).toEqual(new Map([[1, 2], [3, 4]]));
    expect(decodeCbor(h('a26161016162820203'))).toEqual(new Map<string, unknown>([['a', 1], ['b', [2, 3]]]));
  });

  it('round-trips what encodeCbor writes, with shortest heads', () => {
    const value = new Map<string | number, never>([
      ['module_id', 'i-1' as never],
      [1, -35 as never],
      ['big', 2 ** 53 - 1 as never],
      ['bytes', new Uint8Array(300).fill(9) as never],
      ['list', [null, true, false, -70000, 'x'] as never],
    ]);
    expect(decodeCbor(encodeCbor(value))).toEqual(value);
    expect(encodeCbor(1000)).toEqual(h('1903e8'));
    expect(encodeCbor(-35)).toEqual(h('3822'));
    expect(encodeCbor(2 ** 32)).toEqual(h('1b0000000100000000'));
    expect(() => encodeCbor(1.5)).toThrow(TypeError);
  });

  it('refuses indefinite lengths of every kind', () => {
    for (const hex of ['5f41014102ff', '7f6161ff', '9f01ff', 'bf616101ff', 'ff']) expect(refusal(h(hex)), hex).toBe('attestation_format');
  });

  it('refuses trailing bytes, truncation, and lengths past the end', () => {
    expect(refusal(h('0000'))).toBe('attestation_format');
    expect(refusal(h(''))).toBe('attestation_format');
    expect(refusal(h('19 03'))).toBe('attestation_format');
    expect(refusal(h('44 0102'))).toBe('attestation_format');
    expect(refusal(h('5b 0000000100000000'))).toBe('attestation_format'); // 4 GiB byte string declared
    expect(refusal(h('9b 0000000100000000'))).toBe('attestation_format'); // 4 G items declared: refused before allocating
    expect(refusal(h('bb 001fffffffffffff'))).toBe('attestation_format');
    expect(refusal(h('1b ffffffffffffffff'))).toBe('attestation_format'); // beyond 2^53
  });

  it('refuses duplicate map keys, including the same key in a longer encoding', () => {
    expect(refusal(h('a2 6161 01 6161 02'))).toBe('attestation_format');
    expect(refusal(h('a2 01 01 1801 02'))).toBe('attestation_format');
    expect(decodeCbor(h('a2 01 01 6131 02'))).toEqual(new Map<number | string, number>([[1, 1], ['1', 2]])); // 1 and "1" differ
  });

  it('refuses non-scalar map keys, floats, undefined, other simple values, reserved info and invalid UTF-8', () => {
    for (const hex of ['a1 80 01', 'a1 40 01', 'f97c00', 'fa47c35000', 'fb3ff199999999999a', 'f7', 'f0', 'f818', '1c', '62 c328']) {
      expect(refusal(h(hex)), hex).toBe('attestation_format');
    }
  });

  it('refuses tags unless allowed', () => {
    expect(refusal(h('d2 80'))).toBe('attestation_format');
    expect(decodeCbor(h('d2 80'), { allowedTags: [18] })).toEqual({ tag: 18, value: [] });
    expect(refusal(h('c1 00'), { allowedTags: [18] })).toBe('attestation_format');
  });

  it('refuses oversized inputs, deep nesting and too many items without exhausting the stack', () => {
    expect(refusal(new Uint8Array(64 * 1024 + 1))).toBe('attestation_too_large');
    expect(refusal(new Uint8Array(100_000).fill(0x81))).toBe('attestation_too_large');
    expect(refusal(new Uint8Array(60_000).fill(0x81), { maxBytes: 100_000, maxDepth: 100_000 })).toBe('attestation_too_large'); // item cap
    const many = new Uint8Array(5002);
    many.set(h('99 1387')); // array of 4999 zeros
    expect(refusal(many)).toBe('attestation_too_large');
  });

  it('never crashes on random input (every result is a value or an AttestationError)', () => {
    let seed = 12345;
    const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24;
    for (let n = 0; n < 2000; n++) {
      const bytes = Uint8Array.from({ length: 1 + (n % 40) }, rnd);
      const r = refusal(bytes);
      expect(['accepted', 'attestation_format', 'attestation_too_large']).toContain(r);
    }
  });
});
