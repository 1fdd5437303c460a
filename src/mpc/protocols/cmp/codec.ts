/**
 * Wire and state encoding of the CMP protocol: JSON objects whose integers are hex strings (signed,
 * "-" prefix) and whose points are compressed hex. Decoding is strict and bounded (at most
 * MAX_HEX hex digits per integer), and a malformed field from a peer becomes a ProtocolAbort naming
 * that peer.
 *
 * @example
 *   const bytes = encodePayload({ K: hexInt(K) });
 *   const r = new Reader(decodePayload(bytes, 'bob'), 'bob'); r.int('K');
 */
import { ProtocolAbort, type Json } from '../round.js';
import { pointFromHex, pointToHex, type Point } from './group.js';

export const MAX_HEX = 2048;

export function hexInt(x: bigint): string {
  return x < 0n ? '-' + (-x).toString(16) : x.toString(16);
}

export function parseHexInt(s: string): bigint {
  const neg = s.startsWith('-');
  const body = neg ? s.slice(1) : s;
  if (body.length === 0 || body.length > MAX_HEX || !/^[0-9a-f]+$/.test(body)) throw new Error('bad integer');
  const v = BigInt('0x' + body);
  return neg ? -v : v;
}

export function hexPoint(p: Point): string {
  return pointToHex(p);
}

export function encodePayload(obj: Json): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(obj));
}

export function decodePayload(bytes: Uint8Array, from: string): { [k: string]: Json } {
  try {
    const v = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)) as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not an object');
    return v as { [k: string]: Json };
  } catch {
    throw new ProtocolAbort('cmp_malformed_message', `malformed message from ${from}`, [from]);
  }
}

/** Typed, strict field access on a peer's message; every failure names the peer. */
export class Reader {
  constructor(
    private readonly obj: { [k: string]: Json },
    private readonly from: string,
  ) {}

  private fail(field: string): never {
    throw new ProtocolAbort('cmp_malformed_message', `malformed field ${field} from ${this.from}`, [this.from]);
  }

  raw(field: string): Json {
    const v = this.obj[field];
    if (v === undefined) this.fail(field);
    return v;
  }

  str(field: string): string {
    const v = this.raw(field);
    if (typeof v !== 'string') this.fail(field);
    return v;
  }

  int(field: string): bigint {
    try {
      return parseHexInt(this.str(field));
    } catch (e) {
      if (e instanceof ProtocolAbort) throw e;
      this.fail(field);
    }
  }

  nat(field: string): bigint {
    const v = this.int(field);
    if (v < 0n) this.fail(field);
    return v;
  }

  point(field: string, allowZero = false): Point {
    try {
      return pointFromHex(this.str(field), allowZero);
    } catch (e) {
      if (e instanceof ProtocolAbort) throw e;
      this.fail(field);
    }
  }

  ints(field: string, length: number): bigint[] {
    const v = this.raw(field);
    if (!Array.isArray(v) || v.length !== length) this.fail(field);
    return v.map((x) => {
      if (typeof x !== 'string') this.fail(field);
      try {
        return parseHexInt(x);
      } catch {
        this.fail(field);
      }
    });
  }

  points(field: string, length: number, allowZero = false): Point[] {
    const v = this.raw(field);
    if (!Array.isArray(v) || v.length !== length) this.fail(field);
    return v.map((x) => {
      if (typeof x !== 'string') this.fail(field);
      try {
        return pointFromHex(x, allowZero);
      } catch {
        this.fail(field);
      }
    });
  }

  bools(field: string, length: number): boolean[] {
    const v = this.raw(field);
    if (!Array.isArray(v) || v.length !== length || v.some((x) => typeof x !== 'boolean')) this.fail(field);
    return v as boolean[];
  }

  sub(field: string): Reader {
    const v = this.raw(field);
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(field);
    return new Reader(v as { [k: string]: Json }, this.from);
  }
}
