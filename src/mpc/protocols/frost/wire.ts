/**
 * Payload codec for FROST messages: a fixed tag, the session id, then length-prefixed fields. Every
 * decode is bounded (field count, field length, total size) and names the sender on failure, so a
 * malformed or oversized message becomes an identifiable abort instead of an exception from deep
 * inside a curve library.
 *
 * @example
 *   const payload = encodePayload('frost/dkg/1', session, [commitments, proof]);
 *   const [c, p] = decodePayload(payload, 'frost/dkg/1', session, 2, 'party-b');
 */
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { ProtocolAbort, type PartyId } from '../round.js';

/** Largest payload any FROST round accepts (t commitments of 33 bytes stay far below this for t ≤ 1000). */
export const MAX_PAYLOAD_BYTES = 64 * 1024;
const MAX_FIELDS = 1024;

const enc = new TextEncoder();

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, false);
  return b;
}

/** Encodes `tag`, the session id (hex) and the fields as length-prefixed bytes. */
export function encodePayload(tag: string, session: string, fields: readonly Uint8Array[]): Uint8Array {
  const parts = [enc.encode(tag), hexToBytes(session), ...fields];
  let len = 4;
  for (const p of parts) len += 4 + p.length;
  const out = new Uint8Array(len);
  out.set(u32(parts.length), 0);
  let off = 4;
  for (const p of parts) {
    out.set(u32(p.length), off);
    out.set(p, off + 4);
    off += 4 + p.length;
  }
  return out;
}

/**
 * Decodes a payload made by `encodePayload`, checking the tag, the session id and the field count.
 * Throws `ProtocolAbort` naming `from` on any mismatch; `session` mismatches get their own code
 * because they are what a replayed message from another session looks like.
 */
export function decodePayload(
  payload: Uint8Array,
  tag: string,
  session: string,
  fieldCount: number | null,
  from: PartyId,
): Uint8Array[] {
  const bad = (why: string): ProtocolAbort =>
    new ProtocolAbort('frost_malformed_message', `malformed ${tag} message from ${from}: ${why}`, [from]);
  if (!(payload instanceof Uint8Array)) throw bad('not bytes');
  if (payload.length > MAX_PAYLOAD_BYTES) throw bad('too large');
  if (payload.length < 4) throw bad('truncated');
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const count = view.getUint32(0, false);
  if (count < 2 || count > MAX_FIELDS) throw bad('bad field count');
  const parts: Uint8Array[] = [];
  let off = 4;
  for (let i = 0; i < count; i++) {
    if (off + 4 > payload.length) throw bad('truncated');
    const len = view.getUint32(off, false);
    off += 4;
    if (len > payload.length - off) throw bad('truncated');
    parts.push(payload.subarray(off, off + len));
    off += len;
  }
  if (off !== payload.length) throw bad('trailing bytes');
  const [tagBytes, sessionBytes, ...fields] = parts as [Uint8Array, Uint8Array, ...Uint8Array[]];
  if (new TextDecoder().decode(tagBytes) !== tag) throw bad('wrong message kind');
  if (bytesToHex(sessionBytes) !== session.toLowerCase()) {
    throw new ProtocolAbort('frost_wrong_session', `${tag} message from ${from} is bound to another session`, [from]);
  }
  if (fieldCount !== null && fields.length !== fieldCount) throw bad('wrong field count');
  return fields;
}

/** Splits concatenated fixed-size items (e.g. a list of points), naming `from` if the length is off. */
export function splitFixed(bytes: Uint8Array, size: number, count: number, from: PartyId, what: string): Uint8Array[] {
  if (bytes.length !== size * count) {
    throw new ProtocolAbort('frost_malformed_message', `malformed ${what} from ${from}: wrong length`, [from]);
  }
  const out: Uint8Array[] = [];
  for (let i = 0; i < count; i++) out.push(bytes.subarray(i * size, (i + 1) * size));
  return out;
}
