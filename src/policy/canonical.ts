/**
 * Canonical JSON (the RFC 8785 rules for the values a policy holds: objects with keys sorted by
 * UTF-16 code units, no whitespace, strings escaped as JSON.stringify does, integers only) and the
 * SHA-256 of a policy document in that form. Two documents that differ only in key order or
 * spacing have the same hash; anything else changes it.
 *
 * @example
 *   canonicalJson({ b: 1, a: [true, null, 'x'] }) === '{"a":[true,null,"x"],"b":1}'
 *   policyHash(JSON.parse(text)); // 64 hex characters
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import { CustosError } from '../core/errors.js';
import { isPlainObject } from './schema.js';

const MAX_DEPTH = 64;

function write(v: unknown, depth: number, out: string[]): void {
  if (depth > MAX_DEPTH) throw new CustosError('canonical_json_invalid', 'value is nested too deeply', 422);
  if (v === null || typeof v === 'boolean') out.push(String(v));
  else if (typeof v === 'string') out.push(JSON.stringify(v));
  else if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) throw new CustosError('canonical_json_invalid', 'only safe integers are allowed as numbers', 422);
    out.push(String(v));
  } else if (Array.isArray(v)) {
    out.push('[');
    v.forEach((x, i) => {
      if (i > 0) out.push(',');
      write(x, depth + 1, out);
    });
    out.push(']');
  } else if (isPlainObject(v)) {
    out.push('{');
    Object.keys(v)
      .sort()
      .forEach((k, i) => {
        if (i > 0) out.push(',');
        out.push(JSON.stringify(k), ':');
        write(v[k], depth + 1, out);
      });
    out.push('}');
  } else {
    throw new CustosError('canonical_json_invalid', `a ${typeof v} cannot be written as canonical JSON`, 422);
  }
}

export function canonicalJson(value: unknown): string {
  const out: string[] = [];
  write(value, 0, out);
  return out.join('');
}

/** Hex SHA-256 of the canonical JSON of a policy document. */
export function policyHash(document: unknown): string {
  return bytesToHex(sha256(utf8ToBytes(canonicalJson(document))));
}
