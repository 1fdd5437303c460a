/**
 * HMAC of sensitive fields (e.g. customer identifiers) before an entry enters the log, so the
 * log can be handed to auditors without revealing them, as Vault's audit devices do. The value
 * at each configured path is replaced by `hmac-sha256:<base64url>` of HMAC-SHA256(key, canonical
 * JSON of the value); the same value always gives the same token under one key, so an auditor
 * can still follow one customer through the log, and an operator holding the key can answer
 * "does customer X appear" with `hmacField`.
 *
 * Paths are dot-separated member names; `*` matches every element of an array or every member
 * of an object. Paths that do not exist are ignored. The input is not modified.
 *
 * @example
 *   const safe = hmacFields(entry, { key, paths: ['data.customerId', 'data.beneficiaries.*.iban'] });
 */
import { createHmac } from 'node:crypto';
import { CustosError } from '../core/errors.js';
import { canonicalJson } from './canonical.js';

export const HMAC_PREFIX = 'hmac-sha256:';

export interface HmacFieldsOptions {
  /** At least 32 bytes; a secret: it never appears in an error. */
  readonly key: Uint8Array;
  readonly paths: readonly string[];
}

function checkKey(key: Uint8Array): void {
  if (!(key instanceof Uint8Array) || key.length < 32) {
    throw new CustosError('audit_hmac_key_invalid', 'the audit HMAC key must be at least 32 bytes', 500);
  }
}

/** `hmac-sha256:` + base64url(HMAC-SHA256(key, canonicalJson(value))). */
export function hmacField(key: Uint8Array, value: unknown): string {
  checkKey(key);
  const mac = createHmac('sha256', key).update(canonicalJson(value), 'utf8').digest('base64url');
  return HMAC_PREFIX + mac;
}

function apply(value: unknown, path: readonly string[], key: Uint8Array): unknown {
  if (path.length === 0) return hmacField(key, value);
  if (value === null || typeof value !== 'object') return value;
  const [head, ...rest] = path as [string, ...string[]];
  if (Array.isArray(value)) {
    if (head === '*') return value.map((v) => apply(v, rest, key));
    if (!/^(0|[1-9][0-9]*)$/.test(head) || Number(head) >= value.length) return value;
    const copy = value.slice();
    copy[Number(head)] = apply(copy[Number(head)], rest, key);
    return copy;
  }
  const rec = value as Record<string, unknown>;
  const out: Record<string, unknown> = { ...rec };
  for (const k of head === '*' ? Object.keys(rec) : Object.hasOwn(rec, head) ? [head] : []) {
    out[k] = apply(rec[k], rest, key);
  }
  return out;
}

/** A copy of `value` with the value at every path replaced by its HMAC token. */
export function hmacFields<T>(value: T, opts: HmacFieldsOptions): T {
  checkKey(opts.key);
  let out: unknown = value;
  for (const p of opts.paths) {
    const segments = p.split('.');
    if (p.length === 0 || segments.some((s) => s.length === 0)) {
      throw new CustosError('audit_hmac_path_invalid', `invalid field path ${JSON.stringify(p)}`, 500);
    }
    out = apply(out, segments, opts.key);
  }
  return out as T;
}
