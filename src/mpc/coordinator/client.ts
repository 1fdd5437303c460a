/**
 * HTTP JSON client of one signing node, as the coordinator uses it: HTTP/1.1 over keep-alive TCP
 * connections, or TLS 1.3 with the node's pinned certificate (../../http1/connection.ts). A failed
 * call becomes a `NodeCallFailed` that says whether the node was unreachable (down, timed out, TLS identity
 * mismatch) or answered with a refusal (its `code`, and the culprits it names, if any).
 *
 * TLS: an `https:` endpoint must carry the node's certificate (`tls.certificate`, PEM, printed by
 * the node at enrolment and kept in its data directory); the connection is accepted only when the
 * node presents exactly that certificate (it is the only trust anchor, and its SHA-256 fingerprint
 * is compared as well), so neither a public CA nor a hostname decides whom the coordinator talks to.
 * During a rotation of the node's certificate (`custos mpc-node --rotate-tls`) the endpoint pins
 * the current and the new one (`tls.certificates`) and accepts either.
 *
 * @example
 *   const c = new NodeClient({ id: 'node-1', url: 'http://127.0.0.1:7001' }, 10_000);
 *   const health = await c.health();
 */
import { X509Certificate } from 'node:crypto';
import type { PeerCertificate } from 'node:tls';
import { CustosError } from '../../core/errors.js';
import { Http1Error, Http1Pool, type Http1Answer } from '../../http1/connection.js';
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

/**
 * The certificates (PEM) a node may present: `certificate`, and during a rotation `certificates`
 * (the pinned set is the union of both fields).
 */
export interface NodeTlsPins {
  readonly certificate?: string | undefined;
  readonly certificates?: readonly string[] | undefined;
}

/** Where a node listens and, for `https:`, the certificates it may present. */
export interface NodeAddress {
  readonly id: string;
  readonly url: string;
  readonly tls?: NodeTlsPins | undefined;
}

/** Every certificate `tls` pins, once each. */
export function pinnedCertificates(tls: NodeTlsPins | undefined): string[] {
  return [...new Set([...(tls?.certificate === undefined ? [] : [tls.certificate]), ...(tls?.certificates ?? [])])];
}

function poolFor(node: NodeAddress, url: URL): Http1Pool {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (url.protocol === 'http:') return new Http1Pool({ host, port: Number(url.port || 80) }, { idleMs: IDLE_SOCKET_MS });
  if (url.protocol !== 'https:') throw new CustosError('mpc_bad_cluster', `${node.id}: the node URL must be http: or https:`);
  const pems = pinnedCertificates(node.tls);
  if (pems.length === 0) throw new CustosError('mpc_bad_cluster', `${node.id}: an https node needs its pinned TLS certificate (tls.certificate)`);
  const pinned = new Set<string>();
  const subjects = new Set<string>();
  for (const pem of pems) {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(pem);
    } catch {
      throw new CustosError('mpc_bad_cluster', `${node.id}: a pinned TLS certificate is not a PEM certificate`);
    }
    if (pinned.has(cert.fingerprint256)) continue;
    // OpenSSL finds a self-signed certificate among its anchors by subject and tries only the first
    // of a name: a second pin of the same subject would never match (custos gives each its own tag)
    if (subjects.has(cert.subject)) {
      throw new CustosError('mpc_bad_cluster', `${node.id}: two pinned TLS certificates have the same subject (${cert.subject.replace(/\n/g, ', ')}); only one of them could ever be accepted`);
    }
    pinned.add(cert.fingerprint256);
    subjects.add(cert.subject);
  }
  return new Http1Pool({
    host, port: Number(url.port || 443),
    tls: {
      ca: pems, minVersion: 'TLSv1.3',
      // the pinned certificates are the only anchors; their fingerprints stand in for the host name
      checkServerIdentity: (_host: string, cert: PeerCertificate) => (pinned.has(cert.fingerprint256) ? undefined : Object.assign(new Error('certificate mismatch'), { code: 'ERR_CUSTOS_TLS_PIN' })),
    },
  }, { idleMs: IDLE_SOCKET_MS });
}

/** A connection refused because the peer's certificate is not the pinned one (OpenSSL's verify codes, or the fingerprint check). */
function tlsIdentityError(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && (code === 'ERR_CUSTOS_TLS_PIN' || /CERT|SELF_SIGNED|ISSUER|SIGNATURE_FAILURE/.test(code));
}

const serialized = new WeakMap<object, { method: string; path: string; secret: Uint8Array | undefined; at: number; text: string; headers: Record<string, string> }>();

export class NodeClient {
  private readonly url: URL;
  private readonly pool: Http1Pool;
  private readonly base: string;

  /** `coordinatorSecret`: the coordinator's Ed25519 key that signs every POST (`../node/caller-auth.ts`). */
  constructor(readonly endpoint: NodeAddress, private readonly timeoutMs: number, private readonly coordinatorSecret?: Uint8Array) {
    this.url = new URL(endpoint.url);
    this.pool = poolFor(endpoint, this.url);
    this.base = this.url.pathname.replace(/\/$/, '');
  }

  get id(): string {
    return this.endpoint.id;
  }

  /** Closes the kept-alive connections (a later call opens a new one). */
  close(): void {
    this.pool.close();
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
    let answer: Http1Answer;
    try {
      // a kept-alive connection the node closed just as it was reused is retried once by the pool:
      // the request never reached the service (a repeated session start would be refused anyway)
      answer = await this.pool.request(method, `${this.base}${path}`, headers, text === undefined ? undefined : Buffer.from(text, 'utf8'), timeoutMs, MAX_ANSWER_BYTES);
    } catch (err) {
      const e = err instanceof Http1Error ? err : null;
      if (e?.kind === 'too_large') throw new NodeCallFailed(this.id, 'node_bad_answer', `answered more than ${MAX_ANSWER_BYTES} bytes`, { unreachable: true, status: 502 });
      if (e?.kind === 'bad_answer') throw new NodeCallFailed(this.id, 'node_bad_answer', `answered malformed HTTP (${e.message})`, { unreachable: true, status: 502 });
      if (e?.kind === 'tls' && tlsIdentityError(e.cause)) throw new NodeCallFailed(this.id, 'node_tls_identity', 'presented another TLS certificate than the one pinned for it', { unreachable: true });
      const timeout = e?.kind === 'timeout';
      throw new NodeCallFailed(this.id, timeout ? 'node_timeout' : 'node_unreachable', timeout ? 'timed out' : 'unreachable', { unreachable: true });
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
