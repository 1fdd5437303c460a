/**
 * Canonical JSON for audit entries, in the style of RFC 8785 (JCS): object members sorted by
 * the UTF-16 code units of their names, no white space, strings and numbers serialised as
 * ECMAScript JSON.stringify does. Additionally, for audit data:
 *
 * - `bigint` is written as a JSON string of its decimal digits (money in base units);
 * - non-finite numbers, `undefined`, functions, symbols, lone surrogates, sparse arrays,
 *   non-plain objects (Date, Map, Uint8Array, class instances), cycles and nesting deeper than
 *   MAX_DEPTH are refused with CanonicalJsonError instead of being dropped or coerced.
 *
 * The same value always gives the same bytes, so the leaf hash of an entry is reproducible by
 * an auditor from the exported JSON.
 *
 * @example
 *   canonicalJson({ b: 1n, a: [true, null, 'x'] }); // '{"a":[true,null,"x"],"b":"1"}'
 */
import { CustosError } from '../core/errors.js';

export const MAX_DEPTH = 64;

export class CanonicalJsonError extends CustosError {
  constructor(message: string) {
    super('audit_entry_not_canonical', message, 400);
    this.name = 'CanonicalJsonError';
  }
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function str(s: string, path: string): string {
  if (LONE_SURROGATE.test(s)) throw new CanonicalJsonError(`${path}: string holds a lone surrogate`);
  return JSON.stringify(s);
}

function encode(value: unknown, path: string, depth: number, stack: Set<object>): string {
  switch (typeof value) {
    case 'string':
      return str(value, path);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      return `"${value.toString(10)}"`;
    case 'number':
      if (!Number.isFinite(value)) throw new CanonicalJsonError(`${path}: number is not finite`);
      return JSON.stringify(value); // ECMAScript shortest round-trip form; -0 becomes 0
    case 'object':
      break;
    default:
      throw new CanonicalJsonError(`${path}: ${typeof value} has no JSON form`);
  }
  if (value === null) return 'null';
  if (depth >= MAX_DEPTH) throw new CanonicalJsonError(`${path}: nested deeper than ${MAX_DEPTH}`);
  if (stack.has(value)) throw new CanonicalJsonError(`${path}: cycle`);
  stack.add(value);
  try {
    if (Array.isArray(value)) {
      const parts: string[] = [];
      for (let i = 0; i < value.length; i++) {
        if (!(i in value)) throw new CanonicalJsonError(`${path}[${i}]: hole in array`);
        parts.push(encode(value[i], `${path}[${i}]`, depth + 1, stack));
      }
      return `[${parts.join(',')}]`;
    }
    const proto = Object.getPrototypeOf(value) as unknown;
    if (proto !== Object.prototype && proto !== null) {
      throw new CanonicalJsonError(`${path}: only plain objects are allowed`);
    }
    if (Object.getOwnPropertySymbols(value).length > 0) {
      throw new CanonicalJsonError(`${path}: symbol keys are not allowed`);
    }
    const rec = value as Record<string, unknown>;
    const keys = Object.keys(rec).sort(); // default sort compares UTF-16 code units, as RFC 8785 §3.2.3
    const parts = keys.map((k) => `${str(k, path)}:${encode(rec[k], `${path}.${k}`, depth + 1, stack)}`);
    return `{${parts.join(',')}}`;
  } finally {
    stack.delete(value);
  }
}

/** Why the one-pass encoder hands a value to the long way: it needs JSON's conversions. */
const NEEDS_JSON = Symbol('needs JSON');
const SURROGATE = /[\uD800-\uDFFF]/;

/**
 * The one-pass form of `canonicalJson(JSON.parse(JSON.stringify(value, bigints as decimal
 * strings)))` for values made only of plain objects, arrays, strings, finite numbers, booleans,
 * null, bigints and undefined object members (dropped, as JSON drops them). Anything JSON would
 * convert or refuse (toJSON, class instances, Maps, typed arrays, functions, symbols, array
 * holes or undefined elements, non-finite numbers, surrogates, cycles, depth) yields NEEDS_JSON.
 */
function encodeJsonLike(value: unknown, depth: number): string | typeof NEEDS_JSON {
  switch (typeof value) {
    case 'string':
      return SURROGATE.test(value) ? NEEDS_JSON : JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      // JSON.stringify would call a BigInt.prototype.toJSON that some library installed
      return 'toJSON' in BigInt.prototype ? NEEDS_JSON : `"${value.toString(10)}"`;
    case 'number':
      return Number.isFinite(value) ? JSON.stringify(value) : NEEDS_JSON;
    case 'object':
      break;
    default:
      return NEEDS_JSON;
  }
  if (value === null) return 'null';
  if (depth >= MAX_DEPTH) return NEEDS_JSON;
  if (Array.isArray(value)) {
    if (Object.getPrototypeOf(value) !== Array.prototype || 'toJSON' in value) return NEEDS_JSON;
    let out = '[';
    for (let i = 0; i < value.length; i++) {
      const v: unknown = value[i];
      if (v === undefined) return NEEDS_JSON; // a hole or undefined: JSON writes null
      const e = encodeJsonLike(v, depth + 1);
      if (e === NEEDS_JSON) return NEEDS_JSON;
      out += i === 0 ? e : `,${e}`;
    }
    return `${out}]`;
  }
  const proto = Object.getPrototypeOf(value) as unknown;
  if ((proto !== Object.prototype && proto !== null) || 'toJSON' in value) return NEEDS_JSON;
  const rec = value as Record<string, unknown>;
  const keys = Object.keys(rec).sort();
  let out = '{';
  let first = true;
  for (const k of keys) {
    if (k === '__proto__' || SURROGATE.test(k)) return NEEDS_JSON;
    const v = rec[k];
    if (v === undefined) continue;
    const e = encodeJsonLike(v, depth + 1);
    if (e === NEEDS_JSON) return NEEDS_JSON;
    out += `${first ? '' : ','}${JSON.stringify(k)}:${e}`;
    first = false;
  }
  return `${out}}`;
}

/**
 * Canonical JSON of `value` as JSON would present it (JSON.stringify with bigints as decimal
 * strings, then parsed): undefined members dropped, Dates as ISO strings, and so on. Values that
 * need none of JSON's conversions, as audit entries normally do, are encoded in one pass; the
 * rest take the long way, with its errors.
 */
export function canonicalJsonOfJson(value: unknown): string {
  const fast = encodeJsonLike(value, 0);
  return fast === NEEDS_JSON ? canonicalJson(jsonRoundTrip(value)) : fast;
}

/** `value` through JSON.stringify (bigints as decimal strings) and JSON.parse. */
export function jsonRoundTrip(value: unknown): unknown {
  const text = JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  return text === undefined ? undefined : JSON.parse(text);
}

/** Canonical JSON text of `value`. */
export function canonicalJson(value: unknown): string {
  return encode(value, '$', 0, new Set());
}

/** Canonical JSON of `value` as UTF-8 bytes (the input of the leaf hash). */
export function canonicalJsonBytes(value: unknown): Uint8Array {
  return new TextEncoder().encode(canonicalJson(value));
}
