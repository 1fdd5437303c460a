/**
 * custos client SDK (`custos/client`): signs every request with an Ed25519 API credential and
 * retries safely: a withdrawal submission keeps its Idempotency-Key across retries, so a retry
 * after a timeout or a 5xx never creates a second withdrawal. Types come from the server's schemas.
 *
 * @example
 *   import { CustosClient } from 'custos/client';
 *   const custos = new CustosClient({ baseUrl: 'http://127.0.0.1:8080', credentialId, privateKey });
 *   const w = await custos.submitWithdrawal({ chain: 'bitcoin', asset: 'BTC', to: 'bc1q…', amount: '0.01' });
 *   const again = await custos.getWithdrawal(w.id);
 */
import { randomUUID, type KeyObject } from 'node:crypto';
import { parsePrivateKey, signRequest } from '../gateway/signature.js';
import type { ProblemBody, WithdrawalBody, WithdrawalPage, WithdrawalRequestBody } from '../gateway/schemas.js';

export type { ProblemBody, WithdrawalBody, WithdrawalPage, WithdrawalRequestBody };

export interface ClientOptions {
  baseUrl: string;
  credentialId: string;
  /** The credential's private key text (csk1_…), as printed once by `custos credentials create`. */
  privateKey: string;
  /** Attempts for retryable failures (network errors, 429, 5xx). Default 4. */
  retries?: number;
  /** First backoff in ms, doubled per attempt with jitter. Default 200. */
  backoffMs?: number;
  fetch?: typeof fetch;
}

/** An error answer from the API, carrying its problem+json body. */
export class CustosApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly problem: ProblemBody;
  constructor(status: number, problem: ProblemBody) {
    super(`${status} ${problem.code}: ${problem.detail}`);
    this.name = 'CustosApiError';
    this.status = status;
    this.code = problem.code;
    this.problem = problem;
  }
}

export class CustosClient {
  private readonly key: KeyObject;
  private readonly opts: Required<Omit<ClientOptions, 'fetch'>> & { fetch: typeof fetch };

  constructor(opts: ClientOptions) {
    this.key = parsePrivateKey(opts.privateKey);
    this.opts = { retries: 4, backoffMs: 200, ...opts, fetch: opts.fetch ?? fetch, baseUrl: opts.baseUrl.replace(/\/$/, '') };
  }

  /**
   * Submits a withdrawal. Pass your own `idempotencyKey` to make retries across process restarts
   * safe too; otherwise one is generated and kept for this call's retries.
   */
  async submitWithdrawal(body: WithdrawalRequestBody, idempotencyKey: string = randomUUID()): Promise<WithdrawalBody> {
    return this.request<WithdrawalBody>('POST', '/v1/withdrawals', body, idempotencyKey);
  }

  async getWithdrawal(id: string): Promise<WithdrawalBody> {
    return this.request<WithdrawalBody>('GET', `/v1/withdrawals/${encodeURIComponent(id)}`);
  }

  async listWithdrawals(query: { status?: WithdrawalBody['status']; limit?: number; cursor?: string } = {}): Promise<WithdrawalPage> {
    const qs = new URLSearchParams();
    if (query.status) qs.set('status', query.status);
    if (query.limit) qs.set('limit', String(query.limit));
    if (query.cursor) qs.set('cursor', query.cursor);
    const s = qs.toString();
    return this.request<WithdrawalPage>('GET', `/v1/withdrawals${s ? `?${s}` : ''}`);
  }

  /** Any signed call (used by `custos api`). */
  async request<T>(method: string, path: string, body?: unknown, idempotencyKey?: string): Promise<T> {
    const bytes = body === undefined ? new Uint8Array(0) : new TextEncoder().encode(JSON.stringify(body));
    let lastError: unknown;
    // At least one attempt: `retries: 0` (or a negative value) means "no retry", not "no request".
    const attempts = Math.max(1, Math.floor(this.opts.retries) || 1);
    for (let attempt = 0; attempt < attempts; attempt++) {
      if (attempt > 0) await sleep(this.opts.backoffMs * 2 ** (attempt - 1) * (0.5 + Math.random()));
      // A fresh timestamp and nonce per attempt: the server refuses a replayed nonce.
      const headers = signRequest(this.key, this.opts.credentialId, { method, path, body: bytes, idempotencyKey });
      if (body !== undefined) headers['content-type'] = 'application/json';
      let res: Response;
      try {
        res = await this.opts.fetch(this.opts.baseUrl + path, { method, headers, ...(body !== undefined ? { body: bytes } : {}) });
      } catch (err) {
        lastError = err;
        continue;
      }
      const text = await res.text();
      if (res.ok) return (text ? JSON.parse(text) : undefined) as T;
      // An error answer may come from a proxy or load balancer rather than custos: a body that
      // is not a problem+json object must not stop a retry.
      const problem = parseProblem(text, res.status);
      const error = new CustosApiError(res.status, problem);
      const retryable = res.status === 429 || res.status >= 500;
      if (!retryable) throw error;
      lastError = error;
      const retryAfter = Number(res.headers.get('retry-after'));
      if (res.status === 429 && retryAfter > 0) await sleep(Math.min(retryAfter, 30) * 1000);
    }
    throw lastError instanceof Error ? lastError : new Error('request failed');
  }
}

function parseProblem(text: string, status: number): ProblemBody {
  try {
    const p: unknown = JSON.parse(text);
    if (p && typeof p === 'object' && typeof (p as ProblemBody).code === 'string') return p as ProblemBody;
  } catch {
    /* not JSON */
  }
  return { type: 'about:blank', title: 'HTTP error', status, detail: `HTTP ${status} without a custos problem body`, code: `http_${status}` };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
