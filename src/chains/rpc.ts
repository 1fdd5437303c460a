/**
 * JSON-RPC 2.0 to a chain node: one `JsonRpc` shape (`request(method, params)`, as EIP-1193
 * providers have it), served over HTTP(S) by `httpJsonRpc` for a configured endpoint. A failed call
 * is a `RpcError`: `unreachable` (network, timeout, HTTP 5xx: try again later) or an answer with the
 * node's JSON-RPC error (code and message: the node refused the call). Credentials in the URL become
 * a Basic Authorization header; printed endpoints show scheme, host and port only.
 *
 * @example
 *   const rpc = httpJsonRpc('http://127.0.0.1:8545');
 *   const hash = await rpc.request('eth_sendRawTransaction', ['0x02…']);
 */
import { CustosError } from '../core/errors.js';

export interface JsonRpc {
  request(method: string, params: unknown[]): Promise<unknown>;
}

export class RpcError extends CustosError {
  readonly unreachable: boolean;
  readonly rpcCode: number | null;
  constructor(message: string, o: { unreachable: boolean; rpcCode?: number | null }) {
    super(o.unreachable ? 'rpc_unreachable' : 'rpc_error', message, 502, { rpcCode: o.rpcCode ?? null });
    this.name = 'RpcError';
    this.unreachable = o.unreachable;
    this.rpcCode = o.rpcCode ?? null;
  }
}

/** Endpoint text safe to print: scheme, host and port only (a path or query may hold an API key). */
export function endpointLabel(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}`;
  } catch {
    return 'invalid URL';
  }
}

export function httpJsonRpc(endpoint: string, o: { timeoutMs?: number; headers?: Record<string, string> } = {}): JsonRpc {
  const label = endpointLabel(endpoint);
  // Credentials in the URL (Bitcoin Core's user:password) go into a Basic Authorization header:
  // fetch refuses URLs that carry them.
  const parsed = new URL(endpoint);
  const auth: Record<string, string> = parsed.username || parsed.password
    ? { authorization: `Basic ${Buffer.from(`${decodeURIComponent(parsed.username)}:${decodeURIComponent(parsed.password)}`).toString('base64')}` }
    : {};
  parsed.username = '';
  parsed.password = '';
  const url = parsed.toString();
  let id = 0;
  return {
    async request(method, params) {
      let res: Response | undefined;
      const body = JSON.stringify({ jsonrpc: '2.0', id: ++id, method, params });
      // One retry when the connection failed (e.g. a kept-alive socket the server had closed); every
      // call custos makes is safe to repeat (reads, and sending a transaction the node dedups by hash).
      for (let attempt = 0; !res; attempt++) {
        try {
          res = await fetch(url, {
            method: 'POST', headers: { 'content-type': 'application/json', ...auth, ...(o.headers ?? {}) }, body, signal: AbortSignal.timeout(o.timeoutMs ?? 10_000),
          });
        } catch (err) {
          const timeout = (err as { name?: string }).name === 'TimeoutError';
          if (timeout || attempt >= 1) throw new RpcError(`${method} to ${label}: ${timeout ? 'timed out' : 'unreachable'}`, { unreachable: true });
        }
      }
      let answer: { result?: unknown; error?: { code?: unknown; message?: unknown } };
      try {
        answer = (await res.json()) as typeof answer;
      } catch {
        throw new RpcError(`${method} to ${label}: HTTP ${res.status} without JSON`, { unreachable: true });
      }
      if (answer.error) {
        const code = typeof answer.error.code === 'number' ? answer.error.code : null;
        const message = typeof answer.error.message === 'string' ? answer.error.message.slice(0, 300) : 'error';
        throw new RpcError(`${method}: ${message}`, { unreachable: false, rpcCode: code });
      }
      if (!res.ok) throw new RpcError(`${method} to ${label}: HTTP ${res.status}`, { unreachable: res.status >= 500 });
      return answer.result;
    },
  };
}
