import { KeyReleaseError } from './key-release-errors.js';
import { KEY_RELEASE_SUITE } from './key-release-hpke.js';
import type { KeyReleaseRequest, KeyReleaseResponse } from './key-release.js';

/**
 * The JSON form of key-release messages on HTTP: bytes as standard base64. Decoding is strict
 * (exact keys, canonical base64, size limits) and never echoes the input in an error.
 *
 * @example
 *   const body = JSON.stringify(requestToJson(req));
 *   const req2 = requestFromJson(JSON.parse(body));
 */
export interface KeyReleaseRequestJson {
  nodeId: string;
  nonce: string;
  publicKey: string;
  document: string;
}

export interface KeyReleaseResponseJson {
  nodeId: string;
  suite: string;
  enc: string;
  ciphertext: string;
  measurement: string;
  allowlistVersion: number;
  enrolled: boolean;
}

const B64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export function requestToJson(req: KeyReleaseRequest): KeyReleaseRequestJson {
  return { nodeId: req.nodeId, nonce: b64(req.nonce), publicKey: b64(req.publicKey), document: b64(req.document) };
}

export function requestFromJson(value: unknown): KeyReleaseRequest {
  const bad = (m: string) => new KeyReleaseError('key_release_invalid_request', m);
  const o = exactObject(value, ['nodeId', 'nonce', 'publicKey', 'document'], bad);
  if (typeof o.nodeId !== 'string') throw bad('nodeId must be a string');
  return {
    nodeId: o.nodeId,
    nonce: fromB64(o.nonce, 64, 'nonce', bad),
    publicKey: fromB64(o.publicKey, 64, 'publicKey', bad),
    document: fromB64(o.document, 24 * 1024, 'document', bad),
  };
}

export function responseToJson(res: KeyReleaseResponse): KeyReleaseResponseJson {
  return { ...res, enc: b64(res.enc), ciphertext: b64(res.ciphertext) };
}

export function responseFromJson(value: unknown): KeyReleaseResponse {
  const bad = (m: string) => new KeyReleaseError('key_release_response', m);
  const o = exactObject(value, ['nodeId', 'suite', 'enc', 'ciphertext', 'measurement', 'allowlistVersion', 'enrolled'], bad);
  if (o.suite !== KEY_RELEASE_SUITE) throw bad('unexpected key-release suite');
  if (typeof o.nodeId !== 'string' || typeof o.measurement !== 'string' || !Number.isSafeInteger(o.allowlistVersion) || typeof o.enrolled !== 'boolean') {
    throw bad('key-release response fields have the wrong types');
  }
  return {
    nodeId: o.nodeId,
    suite: KEY_RELEASE_SUITE,
    enc: fromB64(o.enc, 128, 'enc', bad),
    ciphertext: fromB64(o.ciphertext, 256, 'ciphertext', bad),
    measurement: o.measurement,
    allowlistVersion: o.allowlistVersion as number,
    enrolled: o.enrolled,
  };
}

function b64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64');
}

function fromB64(value: unknown, maxChars: number, field: string, bad: (m: string) => KeyReleaseError): Uint8Array {
  if (typeof value !== 'string' || value.length > maxChars || !B64.test(value)) throw bad(`${field} must be base64 of at most ${maxChars} characters`);
  return new Uint8Array(Buffer.from(value, 'base64'));
}

function exactObject(value: unknown, keys: readonly string[], bad: (m: string) => KeyReleaseError): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad('expected a JSON object');
  const o = value as Record<string, unknown>;
  const own = Object.keys(o);
  if (own.length !== keys.length || !keys.every((k) => Object.prototype.hasOwnProperty.call(o, k))) throw bad(`expected exactly the fields ${keys.join(', ')}`);
  return o;
}
