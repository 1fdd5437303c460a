import { describe, expect, it } from 'vitest';
import { CanonicalJsonError, MAX_DEPTH, canonicalJson, canonicalJsonBytes } from './canonical.js';

describe('canonicalJson', () => {
  it('sorts members by UTF-16 code units (RFC 8785 §3.2.3 example)', () => {
    const input = {
      '\u20ac': 'Euro Sign',
      '\r': 'Carriage Return',
      '\ufb33': 'Hebrew Letter Dalet With Dagesh',
      '1': 'One',
      '\ud83d\ude00': 'Emoji: Grinning Face',
      '\u0080': 'Control',
      '\u00f6': 'Latin Small Letter O With Diaeresis',
    };
    expect(canonicalJson(input)).toBe(
      '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis",' +
        '"\u20ac":"Euro Sign","\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
    );
  });
  it('serialises numbers in ECMAScript form (RFC 8785 Appendix B values)', () => {
    expect(canonicalJson([0, -0, 5e-324, 1.7976931348623157e308, 9007199254740992, 1e21, 1e-7, 1e20])).toBe(
      '[0,0,5e-324,1.7976931348623157e+308,9007199254740992,1e+21,1e-7,100000000000000000000]',
    );
  });
  it('writes nested data without white space, bigints as decimal strings', () => {
    const entry = {
      seq: 12n,
      actor: 'operator:7',
      decision: { outcome: 'approve', reasons: ['limit ok', 'address ok'] },
      amount: 1_000_000_000_000_000_000_000n,
      prev: null,
      ok: true,
      note: 'line\n"quoted"\u0001',
    };
    expect(canonicalJson(entry)).toBe(
      '{"actor":"operator:7","amount":"1000000000000000000000","decision":{"outcome":"approve","reasons":["limit ok","address ok"]},' +
        '"note":"line\\n\\"quoted\\"\\u0001","ok":true,"prev":null,"seq":"12"}',
    );
    expect(canonicalJson({ b: 1, a: 2 })).toBe(canonicalJson({ a: 2, b: 1 }));
    expect(new TextDecoder().decode(canonicalJsonBytes({ é: 'ü' }))).toBe('{"é":"ü"}');
    expect(canonicalJson(Object.assign(Object.create(null) as object, { z: 1 }))).toBe('{"z":1}');
  });
  const refused: Array<[string, unknown]> = [
    ['NaN', { a: NaN }],
    ['Infinity', [Infinity]],
    ['-Infinity', -Infinity],
    ['undefined member', { a: undefined }],
    ['undefined element', [undefined]],
    ['function', { f: () => 1 }],
    ['symbol', Symbol('x')],
    ['Date', { at: new Date(0) }],
    ['Map', new Map()],
    ['Uint8Array', new Uint8Array(2)],
    ['class instance', new (class Foo {})()],
    ['lone high surrogate', 'a\ud800'],
    ['lone low surrogate key', { '\udc00': 1 }],
    ['sparse array', [1, , 3]], // eslint-disable-line no-sparse-arrays
    ['symbol key', { [Symbol('k')]: 1 }],
  ];
  for (const [what, v] of refused) {
    it(`refuses ${what}`, () => expect(() => canonicalJson(v)).toThrow(CanonicalJsonError));
  }
  it('refuses cycles but allows shared (acyclic) references', () => {
    const a: Record<string, unknown> = {};
    a.self = a;
    expect(() => canonicalJson(a)).toThrow(/cycle/);
    const shared = { x: 1 };
    expect(canonicalJson({ p: shared, q: shared })).toBe('{"p":{"x":1},"q":{"x":1}}');
  });
  it('refuses nesting deeper than MAX_DEPTH', () => {
    let deep: unknown = 1;
    for (let i = 0; i < MAX_DEPTH; i++) deep = [deep];
    expect(() => canonicalJson(deep)).not.toThrow();
    expect(() => canonicalJson([deep])).toThrow(/deeper/);
  });
});
