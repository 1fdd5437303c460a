/**
 * Authentication of the coordinator to the nodes: when a node is provisioned with coordinator
 * public keys, every POST must carry `x-custos-coordinator: <publicKeyHex>.<timeMs>.<signatureHex>`,
 * an Ed25519 signature over method, path, time and SHA-256 of the body, within ±30 s of the node's
 * clock. It stops anyone else on the network from starting key generation or refresh sessions;
 * signing is gated by the policy-signed authorization in any case, and envelopes by the peers' keys.
 *
 * @example
 *   const header = signCoordinatorRequest(secret, 'POST', '/v1/sessions', body, Date.now());
 *   verifyCoordinatorRequest(header, { keys, method: 'POST', path: '/v1/sessions', body, now: Date.now() });
 */
import { createHash } from 'node:crypto';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { CustosError } from '../../core/errors.js';
import { edPublicKeyHex, edSign, edVerify } from '../transport/ed25519.js';

export const COORDINATOR_HEADER = 'x-custos-coordinator';
export const MAX_SKEW_MS = 30_000;

function bytes(method: string, path: string, time: number, body: Uint8Array): Uint8Array {
  return new TextEncoder().encode(`custos/coordinator-request/v1\n${method}\n${path}\n${time}\n${createHash('sha256').update(body).digest('hex')}`);
}

export function signCoordinatorRequest(secret: Uint8Array, method: string, path: string, body: Uint8Array, now: number): string {
  const time = Math.floor(now);
  return `${edPublicKeyHex(secret)}.${time}.${bytesToHex(edSign(secret, bytes(method, path, time, body)))}`;
}

export class CallerRefused extends CustosError {
  constructor(message: string) {
    super('node_unauthenticated', message, 401);
    this.name = 'CallerRefused';
  }
}

export function verifyCoordinatorRequest(
  header: string | undefined,
  o: { keys: readonly string[]; method: string; path: string; body: Uint8Array; now: number },
): void {
  const m = typeof header === 'string' ? /^([0-9a-f]{64})\.(\d{1,16})\.([0-9a-f]{128})$/.exec(header) : null;
  if (!m) throw new CallerRefused(`requests must carry a coordinator signature (${COORDINATOR_HEADER})`);
  const [, key, t, sig] = m as unknown as [string, string, string, string];
  if (!o.keys.includes(key)) throw new CallerRefused('the request is signed by a key this node does not trust');
  const time = Number(t);
  if (Math.abs(o.now - time) > MAX_SKEW_MS) throw new CallerRefused('the request signature is too old or from the future');
  if (!edVerify(hexToBytes(sig), bytes(o.method, o.path, time, o.body), key)) throw new CallerRefused('the request signature does not verify');
}
