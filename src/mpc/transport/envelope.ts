/**
 * Envelopes: how one protocol `Message` travels between signing nodes through a coordinator that
 * only relays. Every envelope is signed (Ed25519) by its sender over a header binding the protocol,
 * session, round, sender and recipient, so the relay can neither forge one nor move one into
 * another session, round, protocol or recipient. Peer-to-peer payloads are also encrypted to the
 * recipient, so the relay cannot read them.
 *
 * Encryption is ephemeral-static X25519 → HKDF-SHA256 → AES-256-GCM: per message the sender draws
 * a fresh X25519 key, the AEAD key and nonce come from HKDF over the shared secret with both public
 * keys and the header as context. Every message therefore has its own key, so no nonce state has to
 * survive a restart (a static-static key would need a durable counter, or random 96-bit nonces with
 * a birthday bound), and a compromise of the sender's long-term keys does not open its past
 * messages. The sender is authenticated by the signature, which covers the ephemeral key and the
 * ciphertext (encrypt-then-sign; the recipient checks the signature before it decrypts).
 *
 * @example
 *   const env = sealEnvelope(message, { protocol: 'frost-sign', sender: me, directory, rng });
 *   const msg = openEnvelope(env, { self: peer, directory, expect: { protocol: 'frost-sign', session, round: 1 } });
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { x25519 } from '@noble/curves/ed25519.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, concatBytes, hexToBytes } from '@noble/hashes/utils.js';
import { CustosError } from '../../core/errors.js';
import type { Message, Rng } from '../protocols/round.js';
import { edSign, edVerify } from './ed25519.js';
import type { Directory, NodeIdentity } from './identity.js';

/** The wire form of one protocol message (JSON-safe). */
export interface Envelope {
  readonly v: 1;
  readonly protocol: string;
  readonly session: string;
  readonly round: number;
  readonly from: string;
  /** null: broadcast (payload in clear, signed); otherwise peer to peer (encrypted to `to`). */
  readonly to: string | null;
  /** Broadcast payload (hex). */
  readonly payload?: string;
  /** Peer to peer: the sender's ephemeral X25519 public key (hex). */
  readonly epk?: string;
  /** Peer to peer: AES-256-GCM ciphertext with its 16-byte tag appended (hex). */
  readonly ciphertext?: string;
  /** Ed25519 signature of the sender over the header and body (hex, 64 bytes). */
  readonly signature: string;
}

/** Largest payload an envelope carries (the protocols' own limits are lower). */
export const MAX_ENVELOPE_PAYLOAD = 256 * 1024;

const enc = new TextEncoder();
const SIGN_TAG = enc.encode('custos/mpc/envelope/v1/signature');
const AEAD_TAG = enc.encode('custos/mpc/envelope/v1/aead');

/** Refusal of an envelope; `code` says why (never contains payload bytes). */
export class EnvelopeRejected extends CustosError {
  constructor(code: string, message: string) {
    super(code, message, 400);
    this.name = 'EnvelopeRejected';
  }
}

function field(b: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + b.length);
  new DataView(out.buffer).setUint32(0, b.length, false);
  out.set(b, 4);
  return out;
}

function header(e: Pick<Envelope, 'protocol' | 'session' | 'round' | 'from' | 'to'>): Uint8Array {
  const round = new Uint8Array(4);
  new DataView(round.buffer).setUint32(0, e.round, false);
  return concatBytes(
    field(enc.encode(e.protocol)), field(enc.encode(e.session)), round, field(enc.encode(e.from)),
    Uint8Array.of(e.to === null ? 0 : 1), field(enc.encode(e.to ?? '')),
  );
}

function signedBytes(e: Omit<Envelope, 'signature' | 'v'>): Uint8Array {
  const body = e.to === null
    ? concatBytes(Uint8Array.of(0), field(hexToBytes(e.payload ?? '')))
    : concatBytes(Uint8Array.of(1), field(hexToBytes(e.epk ?? '')), field(hexToBytes(e.ciphertext ?? '')));
  return concatBytes(SIGN_TAG, header(e), body);
}

function aeadKey(shared: Uint8Array, epk: Uint8Array, recipientKey: Uint8Array, hdr: Uint8Array): { key: Uint8Array; nonce: Uint8Array } {
  if (shared.every((b) => b === 0)) throw new EnvelopeRejected('envelope_bad_key', 'X25519 produced the all-zero secret');
  const okm = hkdf(sha256, shared, concatBytes(epk, recipientKey), concatBytes(AEAD_TAG, sha256(hdr)), 44);
  return { key: okm.subarray(0, 32), nonce: okm.subarray(32, 44) };
}

/** What the sender needs: its identity, the pinned directory (for the recipient's key) and randomness. */
export interface SealOptions {
  readonly protocol: string;
  readonly sender: NodeIdentity;
  readonly directory: Directory;
  readonly rng: Rng;
}

/**
 * Seals a protocol message sent by `sender`: signs it, and encrypts it to the recipient if it is
 * peer to peer. Throws if the message is not from `sender` or the recipient is not in the directory.
 */
export function sealEnvelope(m: Message, o: SealOptions): Envelope {
  if (m.from !== o.sender.id) throw new EnvelopeRejected('envelope_wrong_sender', 'a node only seals its own messages');
  if (m.payload.length > MAX_ENVELOPE_PAYLOAD) throw new EnvelopeRejected('envelope_too_large', 'payload too large');
  const base = { protocol: o.protocol, session: m.session, round: m.round, from: m.from, to: m.to };
  let body: { payload?: string; epk?: string; ciphertext?: string };
  if (m.to === null) {
    body = { payload: bytesToHex(m.payload) };
  } else {
    const peer = o.directory.get(m.to);
    if (!peer) throw new EnvelopeRejected('envelope_unknown_recipient', `recipient ${m.to} is not in the directory`);
    const recipientKey = hexToBytes(peer.exchangeKey);
    const eph = o.rng(32);
    const epk = x25519.getPublicKey(eph);
    const { key, nonce } = aeadKey(x25519.getSharedSecret(eph, recipientKey), epk, recipientKey, header(base));
    eph.fill(0);
    const c = createCipheriv('aes-256-gcm', key, nonce);
    c.setAAD(header(base));
    const ct = concatBytes(c.update(m.payload), c.final(), c.getAuthTag());
    key.fill(0);
    body = { epk: bytesToHex(epk), ciphertext: bytesToHex(ct) };
  }
  const unsigned = { ...base, ...body };
  const signature = bytesToHex(edSign(o.sender.signingSecret, signedBytes(unsigned)));
  return { v: 1, ...unsigned, signature };
}

export interface OpenOptions {
  /** The receiving node (its X25519 secret decrypts peer-to-peer payloads). */
  readonly self: NodeIdentity;
  readonly directory: Directory;
  /** What this node is waiting for: anything else is refused (no replay across sessions/rounds/protocols). */
  readonly expect: { readonly protocol: string; readonly session: string; readonly round: number };
}

const HEX = /^(?:[0-9a-f]{2})*$/;

/** Validates the shape of an untrusted envelope (types, hex, sizes). */
export function parseEnvelope(json: unknown): Envelope {
  const o = (typeof json === 'object' && json !== null ? json : null) as Record<string, unknown> | null;
  const str = (v: unknown, max: number): v is string => typeof v === 'string' && v.length <= max;
  const hex = (v: unknown, max: number): v is string => str(v, max) && HEX.test(v);
  if (
    !o || o.v !== 1 || !str(o.protocol, 64) || !hex(o.session, 256) || !Number.isSafeInteger(o.round) || (o.round as number) < 0
    || (o.round as number) > 0xffff || !str(o.from, 64) || !(o.to === null || str(o.to, 64)) || !hex(o.signature, 128)
    || (o.signature as string).length !== 128
  ) {
    throw new EnvelopeRejected('envelope_malformed', 'malformed envelope');
  }
  const limit = 2 * (MAX_ENVELOPE_PAYLOAD + 16);
  if (o.to === null) {
    if (!hex(o.payload, limit) || o.epk !== undefined || o.ciphertext !== undefined) throw new EnvelopeRejected('envelope_malformed', 'malformed broadcast envelope');
  } else if (!hex(o.epk, 64) || (o.epk as string).length !== 64 || !hex(o.ciphertext, limit) || (o.ciphertext as string).length < 32 || o.payload !== undefined) {
    throw new EnvelopeRejected('envelope_malformed', 'malformed peer-to-peer envelope');
  }
  const e: Envelope = {
    v: 1, protocol: o.protocol as string, session: o.session as string, round: o.round as number, from: o.from as string,
    to: o.to as string | null, signature: o.signature as string,
    ...(o.to === null ? { payload: o.payload as string } : { epk: o.epk as string, ciphertext: o.ciphertext as string }),
  };
  return e;
}

/** Checks the sender's signature against the pinned directory (used by the relay too, for broadcasts). */
export function verifyEnvelopeSignature(e: Envelope, directory: Directory): void {
  const sender = directory.get(e.from);
  if (!sender) throw new EnvelopeRejected('envelope_unknown_sender', `sender ${e.from} is not in the directory`);
  if (!edVerify(hexToBytes(e.signature), signedBytes(e), sender.signingKey)) throw new EnvelopeRejected('envelope_bad_signature', `envelope claiming to be from ${e.from} has no valid signature`);
}

/**
 * Opens an envelope addressed to `self` (or broadcast): checks shape, that it belongs to the
 * expected protocol, session and round, the sender's signature, and decrypts a peer-to-peer payload.
 * Returns the protocol message. Throws `EnvelopeRejected` otherwise.
 */
export function openEnvelope(json: unknown, o: OpenOptions): Message {
  const e = parseEnvelope(json);
  if (e.protocol !== o.expect.protocol) throw new EnvelopeRejected('envelope_wrong_protocol', `envelope from ${e.from} belongs to another protocol`);
  if (e.session !== o.expect.session) throw new EnvelopeRejected('envelope_wrong_session', `envelope from ${e.from} belongs to another session`);
  if (e.round !== o.expect.round) throw new EnvelopeRejected('envelope_wrong_round', `envelope from ${e.from} is for round ${e.round}, expected ${o.expect.round}`);
  if (e.from === o.self.id) throw new EnvelopeRejected('envelope_wrong_sender', 'envelope claims to come from this node');
  if (e.to !== null && e.to !== o.self.id) throw new EnvelopeRejected('envelope_wrong_recipient', `envelope from ${e.from} is addressed to another node`);
  verifyEnvelopeSignature(e, o.directory);
  if (e.to === null) {
    return { session: e.session, from: e.from, to: null, round: e.round, payload: hexToBytes(e.payload ?? '') };
  }
  const epk = hexToBytes(e.epk ?? '');
  const ct = hexToBytes(e.ciphertext ?? '');
  const ownKey = hexToBytes(o.self.exchangeKey);
  let shared: Uint8Array;
  try {
    shared = x25519.getSharedSecret(o.self.exchangeSecret, epk);
  } catch {
    throw new EnvelopeRejected('envelope_bad_key', `envelope from ${e.from} carries an unusable ephemeral key`);
  }
  const { key, nonce } = aeadKey(shared, epk, ownKey, header(e));
  try {
    const d = createDecipheriv('aes-256-gcm', key, nonce);
    d.setAAD(header(e));
    d.setAuthTag(ct.subarray(ct.length - 16));
    const payload = concatBytes(d.update(ct.subarray(0, ct.length - 16)), d.final());
    return { session: e.session, from: e.from, to: e.to, round: e.round, payload };
  } catch {
    throw new EnvelopeRejected('envelope_decryption_failed', `envelope from ${e.from} does not decrypt for this node`);
  } finally {
    key.fill(0);
  }
}
