import type { CborValue } from './cbor-decode.js';

/**
 * CBOR (RFC 8949) encoder for the subset `decodeCbor` accepts: definite lengths, shortest heads,
 * map entries in the order given (the Nitro document and COSE headers fix their own order).
 * Integers must be safe integers; anything else throws a TypeError (a programming error, not input).
 *
 * @example
 *   encodeCbor(new Map([['a', 1]])); // Uint8Array [0xa1, 0x61, 0x61, 0x01]
 */
export function encodeCbor(value: CborValue): Uint8Array {
  const out: number[] = [];
  write(out, value);
  return Uint8Array.from(out);
}

const utf8 = new TextEncoder();

function write(out: number[], value: CborValue): void {
  if (value === null) {
    out.push(0xf6);
  } else if (value === false) {
    out.push(0xf4);
  } else if (value === true) {
    out.push(0xf5);
  } else if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new TypeError('CBOR encoder: only safe integers are supported');
    if (value >= 0) head(out, 0, value);
    else head(out, 1, -1 - value);
  } else if (typeof value === 'string') {
    const bytes = utf8.encode(value);
    head(out, 3, bytes.length);
    for (const b of bytes) out.push(b);
  } else if (value instanceof Uint8Array) {
    head(out, 2, value.length);
    for (const b of value) out.push(b);
  } else if (Array.isArray(value)) {
    head(out, 4, value.length);
    for (const v of value) write(out, v);
  } else if (value instanceof Map) {
    head(out, 5, value.size);
    for (const [k, v] of value) {
      write(out, k);
      write(out, v);
    }
  } else {
    head(out, 6, value.tag);
    write(out, value.value);
  }
}

function head(out: number[], major: number, arg: number): void {
  const m = major << 5;
  if (arg < 24) {
    out.push(m | arg);
  } else if (arg < 0x100) {
    out.push(m | 24, arg);
  } else if (arg < 0x10000) {
    out.push(m | 25, arg >> 8, arg & 0xff);
  } else if (arg < 0x1_0000_0000) {
    out.push(m | 26, (arg >>> 24) & 0xff, (arg >>> 16) & 0xff, (arg >>> 8) & 0xff, arg & 0xff);
  } else {
    const hi = Math.floor(arg / 0x1_0000_0000);
    const lo = arg >>> 0;
    out.push(m | 27, (hi >>> 24) & 0xff, (hi >>> 16) & 0xff, (hi >>> 8) & 0xff, hi & 0xff);
    out.push((lo >>> 24) & 0xff, (lo >>> 16) & 0xff, (lo >>> 8) & 0xff, lo & 0xff);
  }
}
