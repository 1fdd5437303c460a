import { AttestationError } from './errors.js';

/** A decoded CBOR data item (the subset custos accepts; see `decodeCbor`). */
export type CborValue =
  | number
  | string
  | boolean
  | null
  | Uint8Array
  | CborValue[]
  | CborMap
  | CborTagged;

/** Map keys are restricted to integers and text strings, as COSE and the Nitro document use. */
export type CborMap = Map<number | string, CborValue>;

export interface CborTagged {
  readonly tag: number;
  readonly value: CborValue;
}

export interface CborDecodeOptions {
  /** Refuse inputs longer than this many bytes (default 64 KiB). */
  maxBytes?: number;
  /** Refuse nesting deeper than this (default 16). */
  maxDepth?: number;
  /** Refuse more data items than this in total (default 4096). */
  maxItems?: number;
  /** Tags that may appear; any other tag is refused (default: none). */
  allowedTags?: readonly number[];
}

const DEFAULTS = { maxBytes: 64 * 1024, maxDepth: 16, maxItems: 4096 };

/**
 * Strict CBOR (RFC 8949) decoder for security-relevant documents. It accepts definite-length
 * unsigned and negative integers within the safe-integer range, byte and text strings (text must
 * be valid UTF-8), arrays, maps with integer or text keys, false/true/null, and only the tags the
 * caller allows. It refuses indefinite lengths, floats, undefined and other simple values,
 * duplicate map keys, trailing bytes, lengths that run past the input, reserved additional-info
 * values, and inputs over the size, depth or item limits. Every refusal is an `AttestationError`
 * with code `attestation_format` (or `attestation_too_large`), never a crash.
 *
 * @example
 *   decodeCbor(Uint8Array.of(0xa1, 0x61, 0x61, 0x01)); // Map { 'a' => 1 }
 */
export function decodeCbor(input: Uint8Array, options: CborDecodeOptions = {}): CborValue {
  const maxBytes = options.maxBytes ?? DEFAULTS.maxBytes;
  if (input.length > maxBytes) {
    throw new AttestationError('attestation_too_large', `CBOR input is ${input.length} bytes, over the limit of ${maxBytes}`);
  }
  const reader = new Reader(input, options.maxDepth ?? DEFAULTS.maxDepth, options.maxItems ?? DEFAULTS.maxItems, new Set(options.allowedTags ?? []));
  const value = reader.item(0);
  if (reader.pos !== input.length) {
    throw format(`${input.length - reader.pos} trailing bytes after the CBOR item`);
  }
  return value;
}

function format(message: string): AttestationError {
  return new AttestationError('attestation_format', `malformed CBOR: ${message}`);
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

class Reader {
  pos = 0;
  private items = 0;

  constructor(
    private readonly buf: Uint8Array,
    private readonly maxDepth: number,
    private readonly maxItems: number,
    private readonly allowedTags: ReadonlySet<number>,
  ) {}

  item(depth: number): CborValue {
    if (depth > this.maxDepth) {
      throw new AttestationError('attestation_too_large', `CBOR nesting deeper than ${this.maxDepth}`);
    }
    this.items += 1;
    if (this.items > this.maxItems) {
      throw new AttestationError('attestation_too_large', `CBOR input has more than ${this.maxItems} items`);
    }
    const initial = this.byte();
    const major = initial >> 5;
    const info = initial & 0x1f;
    if (major === 7) return this.simple(info);
    const arg = this.argument(info);
    switch (major) {
      case 0:
        return arg;
      case 1:
        return -1 - arg;
      case 2:
        return this.take(arg).slice();
      case 3:
        try {
          return utf8.decode(this.take(arg));
        } catch {
          throw format('text string is not valid UTF-8');
        }
      case 4: {
        this.fits(arg);
        const out: CborValue[] = [];
        for (let i = 0; i < arg; i++) out.push(this.item(depth + 1));
        return out;
      }
      case 5: {
        this.fits(arg * 2);
        const out: CborMap = new Map();
        for (let i = 0; i < arg; i++) {
          const key = this.item(depth + 1);
          if (typeof key !== 'number' && typeof key !== 'string') throw format('map key is neither an integer nor a text string');
          if (out.has(key)) throw format(`duplicate map key ${JSON.stringify(key)}`);
          out.set(key, this.item(depth + 1));
        }
        return out;
      }
      default: {
        // major 6: tag
        if (!this.allowedTags.has(arg)) throw format(`tag ${arg} is not allowed here`);
        return { tag: arg, value: this.item(depth + 1) };
      }
    }
  }

  private simple(info: number): CborValue {
    if (info === 20) return false;
    if (info === 21) return true;
    if (info === 22) return null;
    if (info === 31) throw format('indefinite-length break or item is not allowed');
    throw format(`simple value or float (additional info ${info}) is not allowed`);
  }

  /** The head's argument; integers beyond 2^53 - 1 are refused so every value is an exact number. */
  private argument(info: number): number {
    if (info < 24) return info;
    switch (info) {
      case 24:
        return this.byte();
      case 25:
        return this.byte() * 0x100 + this.byte();
      case 26: {
        const b = this.take(4);
        return ((b[0]! << 24) >>> 0) + (b[1]! << 16) + (b[2]! << 8) + b[3]!;
      }
      case 27: {
        const b = this.take(8);
        const hi = ((b[0]! << 24) >>> 0) + (b[1]! << 16) + (b[2]! << 8) + b[3]!;
        const lo = ((b[4]! << 24) >>> 0) + (b[5]! << 16) + (b[6]! << 8) + b[7]!;
        if (hi > 0x1fffff) throw format('integer or length beyond 2^53 - 1');
        return hi * 0x1_0000_0000 + lo;
      }
      case 31:
        throw format('indefinite lengths are not allowed');
      default:
        throw format(`reserved additional info ${info}`);
    }
  }

  /** Every element needs at least one byte: refuse a count the rest of the input cannot hold before allocating. */
  private fits(count: number): void {
    if (count > this.buf.length - this.pos) throw format('declared element count runs past the end of the input');
  }

  private byte(): number {
    if (this.pos >= this.buf.length) throw format('input ends in the middle of an item');
    return this.buf[this.pos++]!;
  }

  private take(n: number): Uint8Array {
    if (n > this.buf.length - this.pos) throw format('length runs past the end of the input');
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
}
