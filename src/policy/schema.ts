/**
 * Strict readers for the policy document: every object lists the keys it allows (unknown keys are
 * refused), integers must be safe integers in range, amounts must be decimal strings (never JSON
 * numbers, so no float ever reaches the money path). Each failure names the JSON path.
 *
 * @example
 *   const o = readObject(json, '$', ['version'], ['version']);
 *   const version = readInt(o.version, '$.version', 1, 2 ** 31);
 */
import { CustosError } from '../core/errors.js';
import { parseAmount } from '../core/money.js';

export class PolicyInvalidError extends CustosError {
  readonly path: string;
  readonly reason: string;
  readonly line: number | null;
  constructor(path: string, reason: string, line: number | null = null) {
    super('policy_invalid', `${line === null ? '' : `line ${line}, `}${path}: ${reason}`, 422, line === null ? { path } : { path, line });
    this.path = path;
    this.reason = reason;
    this.line = line;
  }
}

export function fail(path: string, reason: string): never {
  throw new PolicyInvalidError(path, reason);
}

export const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;

export function readObject(v: unknown, path: string, allowed: readonly string[], required: readonly string[] = []): Record<string, unknown> {
  if (!isPlainObject(v)) fail(path, 'must be an object');
  for (const k of Object.keys(v)) if (!allowed.includes(k)) fail(`${path}.${k}`, 'unknown key');
  for (const k of required) if (!(k in v)) fail(`${path}.${k}`, 'is required');
  return v;
}

export function readInt(v: unknown, path: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) fail(path, 'must be an integer');
  if (v < min || v > max) fail(path, `must be between ${min} and ${max}`);
  return v;
}

export function readBool(v: unknown, path: string): boolean {
  if (typeof v !== 'boolean') fail(path, 'must be true or false');
  return v;
}

export function readString(v: unknown, path: string, pattern: RegExp, what: string): string {
  if (typeof v !== 'string' || !pattern.test(v)) fail(path, `must be ${what}`);
  return v;
}

export function readEnum<T extends string>(v: unknown, path: string, values: readonly T[]): T {
  if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) fail(path, `must be one of ${values.join(', ')}`);
  return v as T;
}

/** A non-negative decimal string with at most `decimals` places, as base units. */
export function readAmount(v: unknown, path: string, decimals: number): bigint {
  if (typeof v === 'number') fail(path, 'amounts must be decimal strings such as "1.5", not JSON numbers');
  if (typeof v === 'string' && v.startsWith('-')) fail(path, 'must not be negative');
  try {
    return parseAmount(v as string, decimals, 'amount');
  } catch (e) {
    if (e instanceof CustosError && e.code === 'amount_too_precise') fail(path, `has more than ${decimals} decimal places`);
    return fail(path, 'must be a plain non-negative decimal string such as "1.25"');
  }
}

export const NAME = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/;

/** An object used as a map: keys must match `keyPattern`, values are read by `f`. */
export function readMap<T>(v: unknown, path: string, keyPattern: RegExp, f: (value: unknown, path: string, key: string) => T, maxKeys = 100_000): Record<string, T> {
  if (!isPlainObject(v)) fail(path, 'must be an object');
  const keys = Object.keys(v);
  if (keys.length > maxKeys) fail(path, `has more than ${maxKeys} entries`);
  const out: Record<string, T> = Object.create(null) as Record<string, T>;
  for (const k of keys) {
    if (!keyPattern.test(k)) fail(`${path}.${k}`, 'is not a valid name');
    out[k] = f(v[k], `${path}.${k}`, k);
  }
  return out;
}

export function readArray<T>(v: unknown, path: string, max: number, f: (value: unknown, path: string) => T): T[] {
  if (!Array.isArray(v)) fail(path, 'must be an array');
  if (v.length > max) fail(path, `has more than ${max} entries`);
  return v.map((x, i) => f(x, `${path}[${i}]`));
}
