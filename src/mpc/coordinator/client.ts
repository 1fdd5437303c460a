/**
 * HTTP JSON client of one signing node, as the coordinator uses it. A failed call becomes a
 * `NodeCallFailed` that says whether the node was unreachable (down, timed out) or answered with a
 * refusal (its `code`, and the culprits it names, if any).
 *
 * @example
 *   const c = new NodeClient({ id: 'node-1', url: 'http://127.0.0.1:7001' }, 10_000);
 *   const health = await c.health();
 */
import { CustosError } from '../../core/errors.js';
import { COORDINATOR_HEADER, signCoordinatorRequest } from '../node/caller-auth.js';

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

export class NodeClient {
  /** `coordinatorSecret`: the coordinator's Ed25519 key that signs every POST (`../node/caller-auth.ts`). */
  constructor(
    readonly endpoint: { readonly id: string; readonly url: string }, private readonly timeoutMs: number, private readonly coordinatorSecret?: Uint8Array,
  ) {}

  get id(): string {
    return this.endpoint.id;
  }

  private async call(method: 'GET' | 'POST', path: string, body?: unknown, timeoutMs = this.timeoutMs): Promise<unknown> {
    let res: Response;
    const text = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string> = text === undefined ? {} : { 'content-type': 'application/json' };
    if (text !== undefined && this.coordinatorSecret) {
      headers[COORDINATOR_HEADER] = signCoordinatorRequest(this.coordinatorSecret, method, path, new TextEncoder().encode(text), Date.now());
    }
    try {
      res = await fetch(`${this.endpoint.url}${path}`, {
        method, signal: AbortSignal.timeout(timeoutMs), headers, ...(text === undefined ? {} : { body: text }),
      });
    } catch (err) {
      const timeout = (err as { name?: string }).name === 'TimeoutError';
      throw new NodeCallFailed(this.id, timeout ? 'node_timeout' : 'node_unreachable', timeout ? 'timed out' : 'unreachable', { unreachable: true });
    }
    let json: unknown;
    try {
      json = await res.json();
    } catch {
      throw new NodeCallFailed(this.id, 'node_bad_answer', `answered ${res.status} without JSON`, { unreachable: true, status: 502 });
    }
    if (!res.ok) {
      const o = (typeof json === 'object' && json !== null ? json : {}) as { code?: unknown; message?: unknown; culprits?: unknown };
      const culprits = Array.isArray(o.culprits) ? o.culprits.filter((c): c is string => typeof c === 'string') : [];
      throw new NodeCallFailed(this.id, typeof o.code === 'string' ? o.code : 'node_error', typeof o.message === 'string' ? o.message : `status ${res.status}`, {
        unreachable: false, status: res.status, culprits,
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
