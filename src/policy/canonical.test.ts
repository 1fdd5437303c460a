import { describe, expect, it } from 'vitest';
import { canonicalJson, policyHash } from './canonical.js';

describe('canonicalJson', () => {
  it('sorts keys by UTF-16 code units and drops whitespace (RFC 8785 example keys)', () => {
    // RFC 8785 section 3.2.3: "\r" < "1" < U+0080 < U+00F6 < U+20AC < U+1F600 (surrogates D83D DE00) < U+FB33
    const v = { '\u20ac': 1, '\r': 2, '\ufb33': 3, '1': 4, '\ud83d\ude00': 5, '\u0080': 6, '\u00f6': 7 };
    expect(canonicalJson(v)).toBe('{"\\r":2,"1":4,"\u0080":6,"\u00f6":7,"\u20ac":1,"\ud83d\ude00":5,"\ufb33":3}');
    expect(canonicalJson({ b: [1, { d: null, c: true }], a: 'x"y' })).toBe('{"a":"x\\"y","b":[1,{"c":true,"d":null}]}');
  });

  it('refuses floats, bigints, undefined, non-plain objects and deep nesting', () => {
    expect(() => canonicalJson({ a: 1.5 })).toThrow();
    expect(() => canonicalJson({ a: 1n })).toThrow();
    expect(() => canonicalJson({ a: undefined })).toThrow();
    expect(() => canonicalJson(new Date(0))).toThrow();
    let deep: unknown = 1;
    for (let i = 0; i < 100; i++) deep = [deep];
    expect(() => canonicalJson(deep)).toThrow();
  });

  it('hash ignores key order and spacing but not content', () => {
    const a = policyHash(JSON.parse('{ "x": 1, "y": [2, 3] }'));
    expect(policyHash(JSON.parse('{"y":[2,3],"x":1}'))).toBe(a);
    expect(policyHash(JSON.parse('{"y":[3,2],"x":1}'))).not.toBe(a);
    expect(a).toMatch(/^[0-9a-f]{64}$/);
  });
});
