import { describe, expect, it, vi } from 'vitest';
import { MAX_DEPTH, canonicalJson, canonicalJsonOfJson, jsonRoundTrip } from './canonical.js';
import { encodeEntry } from './chain.js';

/** The definition canonicalJsonOfJson must equal, outcome for outcome (text, or the same error). */
function reference(v: unknown): string {
  return canonicalJson(jsonRoundTrip(v));
}
function outcome(f: () => string): { text: string } | { error: string } {
  try {
    return { text: f() };
  } catch (e) {
    return { error: `${(e as Error).constructor.name}: ${(e as Error).message}` };
  }
}

/** Small seeded PRNG (mulberry32), so a failure names a reproducible case. */
function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Thing {
  x = 1;
}
const STRINGS = ['', 'a', 'plain text', 'quote " and \\ backslash', '\n\t\u0000\u001f', '\u20ac\u00f6', '\ud83d\ude00', '\ud800', 'x\udc00', '__proto__', 'toJSON', '1', '10', '-0'];
const ODD: (() => unknown)[] = [
  () => undefined,
  () => NaN,
  () => Infinity,
  () => -0,
  () => new Date(1732417200000),
  () => new Map([['a', 1]]),
  () => new Uint8Array([1, 2]),
  () => new Thing(),
  () => () => 1,
  () => Symbol('s'),
  () => ({ toJSON: () => 'converted' }),
  () => ({ toJSON: 'not a function' }),
  () => JSON.parse('{"__proto__": {"a": 1}}') as unknown,
  () => Object.assign(Object.create(null) as object, { b: 2, a: 1 }),
  () => [1, , 3], // eslint-disable-line no-sparse-arrays
  () => [undefined, 1],
];

function gen(r: () => number, depth: number): unknown {
  const pick = r();
  if (depth > 4 || pick < 0.45) {
    const k = Math.floor(r() * 7);
    if (k === 0) return STRINGS[Math.floor(r() * STRINGS.length)];
    if (k === 1) return Math.floor((r() - 0.5) * 1e6) / (r() < 0.5 ? 1 : 7);
    if (k === 2) return BigInt(Math.floor((r() - 0.5) * 1e9)) * 10n ** BigInt(Math.floor(r() * 30));
    if (k === 3) return r() < 0.5;
    if (k === 4) return null;
    if (k === 5 && r() < 0.3) return (ODD[Math.floor(r() * ODD.length)] as () => unknown)();
    return `s${Math.floor(r() * 100)}`;
  }
  if (pick < 0.7) return Array.from({ length: Math.floor(r() * 4) }, () => gen(r, depth + 1));
  const o: Record<string, unknown> = {};
  const n = Math.floor(r() * 5);
  for (let i = 0; i < n; i++) o[r() < 0.2 ? (STRINGS[Math.floor(r() * STRINGS.length)] as string) : `k${Math.floor(r() * 20)}`] = gen(r, depth + 1);
  return o;
}

describe('canonicalJsonOfJson', () => {
  it('equals canonicalJson after a JSON round trip for 5,000 random values, odd ones included', () => {
    const r = rng(20261124);
    for (let i = 0; i < 5000; i++) {
      const v = gen(r, 0);
      expect(outcome(() => canonicalJsonOfJson(v)), `case ${i}`).toEqual(outcome(() => reference(v)));
    }
  });

  it('drops undefined members, writes bigints as strings, and takes the long way for what JSON converts', () => {
    expect(canonicalJsonOfJson({ b: 2n, a: undefined, c: [1, 'x'] })).toBe('{"b":"2","c":[1,"x"]}');
    expect(canonicalJsonOfJson({ at: new Date(0) })).toBe('{"at":"1970-01-01T00:00:00.000Z"}');
    expect(canonicalJsonOfJson({ n: NaN, u: [undefined] })).toBe('{"n":null,"u":[null]}');
    expect(canonicalJsonOfJson({ m: new Map([['a', 1]]) })).toBe('{"m":{}}');
  });

  it('refuses what the long way refuses, with the same error', () => {
    expect(outcome(() => canonicalJsonOfJson({ s: 'bad \ud800' }))).toEqual(outcome(() => reference({ s: 'bad \ud800' })));
    let deep: unknown = 1;
    for (let i = 0; i <= MAX_DEPTH; i++) deep = [deep];
    expect(outcome(() => canonicalJsonOfJson(deep))).toEqual(outcome(() => reference(deep)));
    expect(outcome(() => canonicalJsonOfJson(deep))).toHaveProperty('error');
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    expect(() => canonicalJsonOfJson(cyclic)).toThrow(TypeError); // JSON.stringify's own refusal, as before
  });

  it('leaves audit entries byte-equal to the JSON round trip they were defined by', () => {
    const e = { at: 1732417200000, actor: 'credential:cred_x', action: 'withdrawal.transition', subject: 'withdrawal:wd_1',
      data: { from: 'received', to: 'approved', nonce: 7n, fee: 21000n, decisions: [{ stage: 'syntax', outcome: 'pass', reasons: [] }], memo: undefined } };
    const plain = { time: new Date(e.at).toISOString(), actor: e.actor, action: e.action, subject: e.subject, data: e.data };
    const want = reference(plain);
    // …in one pass: no JSON text is made and parsed back
    const parse = vi.spyOn(JSON, 'parse');
    try {
      expect(encodeEntry(e)).toBe(want);
      expect(parse).not.toHaveBeenCalled();
    } finally {
      parse.mockRestore();
    }
  });
});
