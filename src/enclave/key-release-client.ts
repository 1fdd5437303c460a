import { CustosError } from '../core/errors.js';
import type { Enclave } from './enclave.js';
import { KeyReleaseError } from './key-release-errors.js';
import { generateEphemeralKeyPair, openReleasedKey, releaseTranscript, releaseUserData } from './key-release-hpke.js';
import { SEALING_KEY_BYTES, type KeyReleaseRequest, type KeyReleaseResponse } from './key-release.js';
import { requestToJson, responseFromJson } from './key-release-wire.js';

/** How a node reaches the key-release service: over HTTP (`httpKeyReleaseTransport`) or in process. */
export interface KeyReleaseTransport {
  nonce(): Promise<Uint8Array>;
  release(req: KeyReleaseRequest): Promise<KeyReleaseResponse>;
}

export interface ObtainSealingKeyOptions {
  /** Base URL of `custos key-release serve`, e.g. http://127.0.0.1:7400 (or give `transport`). */
  url?: string;
  transport?: KeyReleaseTransport;
  enclave: Enclave;
  nodeId: string;
  /** fetch to use for `url` (default the global one). */
  fetch?: typeof fetch;
  /** Per-request timeout for `url` (default 10 s). */
  timeoutMs?: number;
}

/**
 * Node side of key release, run once at start: make an ephemeral X25519 key pair, get a nonce,
 * attest (public key = the ephemeral key, user data = the node id, that nonce), send the document,
 * and decrypt the answer. Returns the sealing key to pass to `enclave.useSealingKey`. A refusal
 * throws a `CustosError` with the service's code (e.g. `attestation_measurement`); the node then
 * has no sealing key and cannot unseal its shares.
 *
 * @example
 *   const key = await obtainSealingKey({ url: 'http://127.0.0.1:7400', enclave, nodeId: 'node-1' });
 *   enclave.useSealingKey(key); key.fill(0);
 */
export async function obtainSealingKey(options: ObtainSealingKeyOptions): Promise<Uint8Array> {
  const transport = options.transport ?? (options.url ? httpKeyReleaseTransport(options.url, { ...(options.fetch ? { fetch: options.fetch } : {}), ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}) }) : undefined);
  if (!transport) throw new TypeError('obtainSealingKey needs a url or a transport');
  const ephemeral = await generateEphemeralKeyPair();
  const nonce = await transport.nonce();
  if (!(nonce instanceof Uint8Array) || nonce.length !== 32) throw new KeyReleaseError('key_release_response', 'the key-release nonce is not 32 bytes');
  const document = await options.enclave.attest(releaseUserData(options.nodeId), ephemeral.publicKey, nonce);
  const res = await transport.release({ nodeId: options.nodeId, nonce, publicKey: ephemeral.publicKey, document });
  if (res.nodeId !== options.nodeId) throw new KeyReleaseError('key_release_response', 'the key-release answer is for another node');
  const key = await openReleasedKey(ephemeral, res.enc, res.ciphertext, releaseTranscript(options.nodeId, document));
  if (key.length !== SEALING_KEY_BYTES) {
    key.fill(0);
    throw new KeyReleaseError('key_release_response', `the released key is not ${SEALING_KEY_BYTES} bytes`);
  }
  return key;
}

/**
 * The HTTP transport for `custos key-release serve`: `POST /v1/key-release/nonce` and
 * `POST /v1/key-release`. A problem+json refusal becomes a `CustosError` with the same code and status.
 */
export function httpKeyReleaseTransport(url: string, options: { fetch?: typeof fetch; timeoutMs?: number } = {}): KeyReleaseTransport {
  const base = url.replace(/\/+$/, '');
  const doFetch = options.fetch ?? fetch;
  const post = async (path: string, body: unknown): Promise<unknown> => {
    let res: Response;
    try {
      res = await doFetch(`${base}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
      });
    } catch {
      throw new KeyReleaseError('key_release_unavailable', `cannot reach the key-release service at ${base}`);
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new KeyReleaseError('key_release_response', `the key-release service answered ${res.status} without JSON`);
    }
    if (!res.ok) {
      const p = (json ?? {}) as { code?: unknown; detail?: unknown };
      const code = typeof p.code === 'string' && /^[a-z0-9_]{1,64}$/.test(p.code) ? p.code : 'key_release_response';
      const detail = typeof p.detail === 'string' ? p.detail.slice(0, 300) : `status ${res.status}`;
      throw new CustosError(code, `key release refused: ${detail}`, res.status);
    }
    return json;
  };
  return {
    async nonce() {
      const json = (await post('/v1/key-release/nonce', {})) as { nonce?: unknown };
      if (typeof json?.nonce !== 'string' || !/^[A-Za-z0-9+/]{43}=$/.test(json.nonce)) throw new KeyReleaseError('key_release_response', 'malformed nonce answer');
      return new Uint8Array(Buffer.from(json.nonce, 'base64'));
    },
    async release(req) {
      return responseFromJson(await post('/v1/key-release', requestToJson(req)));
    },
  };
}
