/**
 * HTTP JSON client of one signing node, as the coordinator uses it: node:http (or node:https with
 * the node's pinned TLS certificate) over keep-alive connections. A failed call becomes a
 * `NodeCallFailed` that says whether the node was unreachable (down, timed out, TLS identity
 * mismatch) or answered with a refusal (its `code`, and the culprits it names, if any).
 *
 * TLS: an `https:` endpoint must carry the node's certificate (`tls.certificate`, PEM, printed by
 * the node at enrolment and kept in its data directory); the connection is accepted only when the
 * node presents exactly that certificate (it is the only trust anchor, and its SHA-256 fingerprint
 * is compared as well), so neither a public CA nor a hostname decides whom the coordinator talks to.
 *
 * @example
 *   const c = new NodeClient({ id: 'node-1', url: 'http://127.0.0.1:7001' }, 10_000);
 *   const health = await c.health();
 */
import { X509Certificate } from 'node:crypto';
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { PeerCertificate } from 'node:tls';
import { CustosError } from '../../core/errors.js';
import { COORDINATOR_HEADER, signCoordinatorRequest } from '../node/caller-auth.js';

/** Largest answer a node may send (a key catalogue with public aux material stays far below). */
export const MAX_ANSWER_BYTES = 16 * 1024 * 1024;
/** Idle keep-alive connections are closed by this side first (the node keeps them 65 s). */
const IDLE_SOCKET_MS = 30_000;

export class NodeCallFailed extends CustosError {
  readonly node: string;
  readonly unreachable: boolean;
  readonly culprits: readonly string[];
  constructor(node: string, code: string, message: string, o: { unreachable: boolean; status?: number; culprits?: readonly string[] }) {
    super(code, `${node}: ${message}`, o.status ?? 502, { node, culprits: [...(o.culprits ?? [])] });
    this.name = 'NodeCallFailed';
    this.node = node;
    this.unreachable = o.unreachable;
    this.culprits = [...(o.culprits ?? [])];
  }
}

/** Where a node listens and, for `https:`, the certificate it must present. */
export interface NodeAddress {
  readonly id: string;
  readonly url: string;
  readonly tls?: { readonly certificate: string } | undefined;
}

/** SHA-256 fingerprint of a PEM certificate as node's TLS layer writes it (`AA:BB:…`). */
export function certificateFingerprint(pem: string): string {
  return new X509Certificate(pem).fingerprint256;
}

function agentFor(node: NodeAddress, url: URL): HttpAgent {
  if (url.protocol === 'http:') return new HttpAgent({ keepAlive: true, timeout: IDLE_SOCKET_MS });
  if (url.protocol !== 'https:') throw new CustosError('mpc_bad_cluster', `${node.id}: the node URL must be http: or https:`);
  const pem = node.tls?.certificate;
  if (!pem) throw new CustosError('mpc_bad_cluster', `${node.id}: an https node needs its pinned TLS certificate (tls.certificate)`);
  let pinned: string;
  try {
    pinned = certificateFingerprint(pem);
  } catch {
    throw new CustosError('mpc_bad_cluster', `${node.id}: tls.certificate is not a PEM certificate`);
  }
  return new HttpsAgent({
    keepAlive: true, timeout: IDLE_SOCKET_MS, ca: pem, minVersion: 'TLSv1.3',
    // the pinned certificate is the only anchor; its fingerprint stands in for the host name
    checkServerIdentity: (_host: string, cert: PeerCertificate) => (cert.fingerprint256 === pinned ? undefined : Object.assign(new Error('certificate mismatch'), { code: 'ERR_CUSTOS_TLS_PIN' })),
  });
}

/** A connection refused because the peer's certificate is not the pinned one (OpenSSL's verify codes, or the fingerprint check). */
function tlsIdentityError(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && (code === 'ERR_CUSTOS_TLS_PIN' || /CERT|SELF_SIGNED|ISSUER|SIGNATURE_FAILURE/.test(code));
}

class CallError extends Error {
  constructor(readonly kind: 'timeout' | 'unreachable' | 'too_large' | 'tls_identity', readonly reused = false) {
    super(kind);
  }
}

const serialized = new WeakMap<object, { method: string; path: string; secret: Uint8Array | undefined; at: number; text: string; headers: Record<string, string> }>();

export class NodeClient {
  private readonly url: URL;
  private readonly agent: HttpAgent;
  private readonly send: typeof httpRequest;

  /** `coordinatorSecret`: the coordinator's Ed25519 key that signs every POST (`../node/caller-auth.ts`). */
  constructor(readonly endpoint: NodeAddress, private readonly timeoutMs: number, private readonly coordinatorSecret?: Uint8Array) {
    this.url = new URL(endpoint.url);
    this.agent = agentFor(endpoint, this.url);
    this.send = this.url.protocol === 'https:' ? httpsRequest : httpRequest;
  }

  get id(): string {
    return this.endpoint.id;
  }

  /** Closes the kept-alive connections. */
  close(): void {
    this.agent.destroy();
  }

  /** One request; resolves with the status and the raw answer. */
  private exchange(method: 'GET' | 'POST', path: string, text: string | undefined, headers: Record<string, string>, timeoutMs: number): Promise<{ status: number; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const opts: RequestOptions = {
        method, agent: this.agent, hostname: this.url.hostname.replace(/^\[|\]$/g, ''), port: this.url.port, path: `${this.url.pathname.replace(/\/$/, '')}${path}`, headers,
      };
      let done = false;
      // armed before the request exists; it fires only later, when `req` is set
      const timer = setTimeout(() => {
        finish(() => reject(new CallError('timeout')));
        req.destroy();
      }, timeoutMs);
      const finish = (f: () => void): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        f();
      };
      const req = this.send(opts, (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_ANSWER_BYTES) {
            finish(() => reject(new CallError('too_large')));
            req.destroy();
            return;
          }
          chunks.push(c);
        });
        res.on('end', () => finish(() => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) })));
        res.on('error', () => finish(() => reject(new CallError('unreachable'))));
      });
      req.on('error', (err) => finish(() => reject(new CallError(tlsIdentityError(err) ? 'tls_identity' : 'unreachable', req.reusedSocket))));
      req.end(text);
    });
  }

  /**
   * The request body as JSON with its content headers and coordinator signature. The same body
   * object sent to several nodes on the same path within a second (a session start goes to every
   * signer at once) is serialised and signed once: the signed bytes name no node.
   */
  private serialize(method: 'GET' | 'POST', path: string, body: unknown): { text: string; headers: Record<string, string> } {
    const reuse = typeof body === 'object' && body !== null ? serialized.get(body) : undefined;
    const now = Date.now();
    if (reuse && reuse.method === method && reuse.path === path && reuse.secret === this.coordinatorSecret && now - reuse.at < 1_000) return reuse;
    const text = JSON.stringify(body);
    const headers: Record<string, string> = { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) };
    if (this.coordinatorSecret) headers[COORDINATOR_HEADER] = signCoordinatorRequest(this.coordinatorSecret, method, path, Buffer.from(text, 'utf8'), now);
    const out = { method, path, secret: this.coordinatorSecret, at: now, text, headers };
    if (typeof body === 'object' && body !== null) serialized.set(body, out);
    return out;
  }

  private async call(method: 'GET' | 'POST', path: string, body?: unknown, timeoutMs = this.timeoutMs): Promise<unknown> {
    const { text, headers } = body === undefined ? { text: undefined, headers: {} } : this.serialize(method, path, body);
    let answer: { status: number; body: Buffer };
    try {
      try {
        answer = await this.exchange(method, path, text, headers, timeoutMs);
      } catch (err) {
        // A kept-alive connection the node closed just as it was reused: the request never reached
        // the service (a repeated POST of a session start would be refused as a reused session).
        if (!(err instanceof CallError) || !err.reused) throw err;
        answer = await this.exchange(method, path, text, headers, timeoutMs);
      }
    } catch (err) {
      const kind = err instanceof CallError ? err.kind : 'unreachable';
      if (kind === 'too_large') throw new NodeCallFailed(this.id, 'node_bad_answer', `answered more than ${MAX_ANSWER_BYTES} bytes`, { unreachable: true, status: 502 });
      if (kind === 'tls_identity') throw new NodeCallFailed(this.id, 'node_tls_identity', 'presented another TLS certificate than the one pinned for it', { unreachable: true });
      throw new NodeCallFailed(this.id, kind === 'timeout' ? 'node_timeout' : 'node_unreachable', kind === 'timeout' ? 'timed out' : 'unreachable', { unreachable: true });
    }
    let json: unknown;
    try {
      json = JSON.parse(answer.body.toString('utf8'));
    } catch {
      throw new NodeCallFailed(this.id, 'node_bad_answer', `answered ${answer.status} without JSON`, { unreachable: true, status: 502 });
    }
    if (answer.status < 200 || answer.status > 299) {
      const o = (typeof json === 'object' && json !== null ? json : {}) as { code?: unknown; message?: unknown; culprits?: unknown };
      const culprits = Array.isArray(o.culprits) ? o.culprits.filter((c): c is string => typeof c === 'string') : [];
      throw new NodeCallFailed(this.id, typeof o.code === 'string' ? o.code : 'node_error', typeof o.message === 'string' ? o.message : `status ${answer.status}`, {
        unreachable: false, status: answer.status, culprits,
      });
    }
    return json;
  }

  health(timeoutMs?: number): Promise<unknown> {
    return this.call('GET', '/v1/health', undefined, timeoutMs);
  }

  keys(): Promise<unknown> {
    return this.call('GET', '/v1/keys');
  }

  key(keyId: string): Promise<unknown> {
    return this.call('GET', `/v1/keys/${encodeURIComponent(keyId)}`);
  }

  signedWithdrawal(withdrawalId: string): Promise<unknown> {
    return this.call('GET', `/v1/withdrawals/${encodeURIComponent(withdrawalId)}/signature`);
  }

  /** `timeoutMs` overrides the client's default (threshold ECDSA key generation takes seconds per round). */
  start(body: unknown, timeoutMs?: number): Promise<unknown> {
    return this.call('POST', '/v1/sessions', body, timeoutMs);
  }

  /** Unspent CGGMP21 presignatures the node holds for `keyId` (public: ids, signer sets, R). */
  presignatures(keyId: string): Promise<unknown> {
    return this.call('GET', `/v1/keys/${encodeURIComponent(keyId)}/presignatures`);
  }

  commitRefresh(keyId: string, generation: number): Promise<unknown> {
    return this.call('POST', `/v1/keys/${encodeURIComponent(keyId)}/commit`, { generation });
  }

  advance(session: string, body: unknown, timeoutMs?: number): Promise<unknown> {
    return this.call('POST', `/v1/sessions/${session}/round`, body, timeoutMs);
  }
}
