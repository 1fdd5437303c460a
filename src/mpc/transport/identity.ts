/**
 * A signing node's identity: an Ed25519 key that signs every envelope it sends and an X25519 key
 * that peer-to-peer payloads are encrypted to. The public half (`PublicIdentity`) is what the other
 * nodes and the coordinator are provisioned with (pinned, never learned from the coordinator).
 *
 * @example
 *   const me = generateIdentity('node-1', (n) => crypto.getRandomValues(new Uint8Array(n)));
 *   const pinned: PublicIdentity = publicIdentity(me);   // goes into every peer's directory
 */
import { ed25519, x25519 } from '@noble/curves/ed25519.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { CustosError } from '../../core/errors.js';
import type { Rng } from '../protocols/round.js';

export interface PublicIdentity {
  readonly id: string;
  /** Ed25519 public key (hex, 32 bytes): verifies envelopes sent by `id`. */
  readonly signingKey: string;
  /** X25519 public key (hex, 32 bytes): peer-to-peer payloads to `id` are encrypted to it. */
  readonly exchangeKey: string;
}

export interface NodeIdentity extends PublicIdentity {
  /** SECRET: Ed25519 seed (32 bytes). */
  readonly signingSecret: Uint8Array;
  /** SECRET: X25519 secret key (32 bytes). */
  readonly exchangeSecret: Uint8Array;
}

/** Directory of pinned peer identities by id. */
export type Directory = ReadonlyMap<string, PublicIdentity>;

const ID_RE = /^[A-Za-z0-9_.-]{1,64}$/;

/** Throws unless `id` is a usable node id (1..64 of A–Z a–z 0–9 _ . -). */
export function checkNodeId(id: unknown): asserts id is string {
  if (typeof id !== 'string' || !ID_RE.test(id)) throw new CustosError('mpc_bad_node_id', 'node id must be 1 to 64 of A-Z a-z 0-9 _ . -');
}

/** Creates a fresh identity from injected randomness. */
export function generateIdentity(id: string, rng: Rng): NodeIdentity {
  checkNodeId(id);
  return identityFromSecrets(id, rng(32), rng(32));
}

/** Rebuilds an identity from its two secrets (e.g. after unsealing them). */
export function identityFromSecrets(id: string, signingSecret: Uint8Array, exchangeSecret: Uint8Array): NodeIdentity {
  checkNodeId(id);
  if (signingSecret.length !== 32 || exchangeSecret.length !== 32) throw new CustosError('mpc_bad_identity', 'identity secrets must be 32 bytes each');
  return {
    id,
    signingKey: bytesToHex(ed25519.getPublicKey(signingSecret)),
    exchangeKey: bytesToHex(x25519.getPublicKey(exchangeSecret)),
    signingSecret: Uint8Array.from(signingSecret),
    exchangeSecret: Uint8Array.from(exchangeSecret),
  };
}

/** The public half of an identity (safe to publish). */
export function publicIdentity(i: PublicIdentity): PublicIdentity {
  return { id: i.id, signingKey: i.signingKey, exchangeKey: i.exchangeKey };
}

/** Validates untrusted JSON as a public identity (both keys decode as points of their curves). */
export function parsePublicIdentity(json: unknown): PublicIdentity {
  const o = (typeof json === 'object' && json !== null ? json : {}) as Record<string, unknown>;
  checkNodeId(o.id);
  const hex32 = (v: unknown): v is string => typeof v === 'string' && /^[0-9a-f]{64}$/.test(v);
  if (!hex32(o.signingKey) || !hex32(o.exchangeKey)) throw new CustosError('mpc_bad_identity', `identity of ${o.id} must carry two 32-byte hex keys`);
  try {
    ed25519.Point.fromBytes(hexToBytes(o.signingKey));
  } catch {
    throw new CustosError('mpc_bad_identity', `signing key of ${o.id} is not an Ed25519 point`);
  }
  return { id: o.id, signingKey: o.signingKey, exchangeKey: o.exchangeKey };
}

/** Builds a directory from a list of identities, refusing duplicates. */
export function directoryOf(list: readonly PublicIdentity[]): Directory {
  const m = new Map<string, PublicIdentity>();
  for (const i of list) {
    const p = parsePublicIdentity(i);
    if (m.has(p.id)) throw new CustosError('mpc_bad_identity', `identity ${p.id} listed twice`);
    m.set(p.id, p);
  }
  return m;
}
