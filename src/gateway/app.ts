/**
 * The HTTP gateway (Fastify): signed requests, JSON-schema validation that refuses unknown
 * fields, idempotent withdrawal submission, problem+json errors, OpenAPI and a rendered API
 * reference. It holds no business rules: it authenticates, validates and hands over.
 *
 * @example
 *   const app = await buildGateway({ db, clock: systemClock });
 *   await app.listen({ port: 8080, host: '127.0.0.1' });
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { systemClock, type Clock } from '../core/clock.js';
import { CustosError, isCustosError } from '../core/errors.js';
import { formatAmount } from '../core/money.js';
import { Batcher } from '../core/batcher.js';
import { intakeBatching, submitWithdrawals, type SubmitOutcome, type Submission } from '../pipeline/intake.js';
import { listAssets, type Asset } from '../store/accounts.js';
import type { Scope } from '../store/credentials.js';
import type { Db } from '../store/db.js';
import { getOutbound, getOutbounds, type OutboundRecord } from '../store/outbound.js';
import { getWithdrawal, listWithdrawals, type WithdrawalRecord } from '../store/withdrawals.js';
import type { RateLimiter } from '../ratelimit/limiter.js';
import type { NodeStatus } from '../mpc/coordinator/coordinator.js';
import { registerApprovalRoutes } from './approval-routes.js';
import { createAuthenticator, type Authenticator, type Principal } from './auth.js';
import { registerAuditRoutes } from './audit-routes.js';
import { registerNodeRoutes } from './node-routes.js';
import { applyDecision, routeClassOf } from './ratelimit.js';
import { PROBLEM_TYPE, problemBody } from './problem.js';
import {
  ListQuerySchema,
  ProblemSchema,
  WithdrawalPageSchema,
  WithdrawalRequestSchema,
  WithdrawalSchema,
  type WithdrawalBody,
  type WithdrawalRequestBody,
} from './schemas.js';

declare module 'fastify' {
  interface FastifyRequest {
    rawBody: Uint8Array | null;
    principal: Principal | null;
  }
  interface FastifyContextConfig {
    scope?: Scope;
  }
}

export interface GatewayOptions {
  db: Db;
  clock?: Clock;
  /** pino options or false; secrets in headers are redacted. */
  logger?: boolean | Record<string, unknown>;
  bodyLimit?: number;
  /** Rate limits per source address, credential and customer; none when absent (tests). */
  rateLimiter?: RateLimiter;
  /** The signing nodes' status for `GET /v1/admin/nodes` (the coordinator's `nodeStatus`); absent: no signing here. */
  nodes?: () => Promise<NodeStatus[]>;
}

export const DEFAULT_BODY_LIMIT = 64 * 1024;
const IDEMPOTENCY_KEY = /^[A-Za-z0-9_.:-]{1,128}$/;
const EMPTY = new Uint8Array(0);

export interface Gateway {
  app: FastifyInstance;
  auth: Authenticator;
}

export async function buildGateway(opts: GatewayOptions): Promise<Gateway> {
  const clock = opts.clock ?? systemClock;
  const db = opts.db;
  const logger =
    opts.logger === undefined || opts.logger === false
      ? false
      : {
          ...(typeof opts.logger === 'object' ? opts.logger : {}),
          redact: ['req.headers["x-custos-signature"]', 'req.headers.authorization'],
        };
  const app = Fastify({
    logger,
    bodyLimit: opts.bodyLimit ?? DEFAULT_BODY_LIMIT,
    return503OnClosing: true,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false, allErrors: false } },
  });
  const auth = createAuthenticator({ db, clock });

  app.decorateRequest('rawBody', null);
  app.decorateRequest('principal', null);
  app.addSchema(WithdrawalSchema);
  app.addSchema(ProblemSchema);

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (req, body, done) => {
    const buf = body as Buffer;
    req.rawBody = new Uint8Array(buf);
    try {
      done(null, JSON.parse(buf.toString('utf8')));
    } catch {
      done(new CustosError('malformed_json', 'the request body is not valid JSON', 400), undefined);
    }
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'custos API',
        version: '1',
        description:
          'Withdrawal intake for custos. Every request is signed with an Ed25519 API credential: see the X-Custos-* headers and the README.',
      },
      components: {
        securitySchemes: {
          custosSignature: { type: 'apiKey', in: 'header', name: 'X-Custos-Signature', description: 'Ed25519 signature over the canonical request' },
        },
      },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  app.setErrorHandler((err: Error & { code?: string; statusCode?: number; validation?: unknown }, req, reply) => {
    if (isCustosError(err)) return sendProblem(reply, err.code, err.status, err.message, err.details);
    if (err.validation) return sendProblem(reply, 'validation_failed', 400, `invalid request: ${err.message}`);
    switch (err.code) {
      case 'FST_ERR_CTP_BODY_TOO_LARGE':
        return sendProblem(reply, 'body_too_large', 413, `the request body exceeds ${opts.bodyLimit ?? DEFAULT_BODY_LIMIT} bytes`);
      case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
        return sendProblem(reply, 'unsupported_media_type', 415, 'send application/json');
      case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
        return sendProblem(reply, 'malformed_json', 400, 'the request body is empty or its length is wrong');
    }
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
      return sendProblem(reply, 'bad_request', err.statusCode, 'the request could not be processed');
    }
    req.log.error({ err }, 'unhandled error');
    return sendProblem(reply, 'internal', 500, 'internal error; the request may be retried with the same Idempotency-Key');
  });
  app.setNotFoundHandler((req, reply) => sendProblem(reply, 'not_found', 404, `no route ${req.method} ${req.url.split('?')[0]}`));

  const limiter = opts.rateLimiter;
  if (limiter) {
    // Before parsing or verifying anything: per source address.
    app.addHook('onRequest', async (req, reply) => {
      if (!req.routeOptions.config.scope) return;
      const d = await limiter.checkPreAuth(req.ip);
      if (!d.allowed) applyDecision(reply, d);
    });
  }
  app.addHook('preValidation', async (req, reply) => {
    const scope = req.routeOptions.config.scope;
    if (!scope) return;
    // The credential's buckets are charged only after its signature verified: nobody can
    // exhaust (or blacklist) another client's credential with forged requests.
    const gate = limiter
      ? async (p: Principal) => applyDecision(reply, await limiter.check({ credentialId: p.credentialId, customerId: p.customerId, tier: p.tier }, routeClassOf(scope)))
      : undefined;
    try {
      req.principal = await auth.authenticate({ method: req.method, path: req.url, headers: req.headers, body: req.rawBody ?? EMPTY }, scope, gate);
    } catch (err) {
      if (limiter && isCustosError(err) && err.status === 401) await limiter.recordAuthFailure(req.ip);
      throw err;
    }
  });

  let assets = new Map<string, Asset>();
  const refreshAssets = async () => {
    assets = new Map((await listAssets(db)).map((a) => [`${a.chain}:${a.symbol}`, a]));
  };
  await refreshAssets();
  const toBody = (w: WithdrawalRecord): WithdrawalBody => withdrawalBody(w, assets.get(`${w.chain}:${w.asset}`));
  // Concurrent submissions are decided together, one transaction per batch (src/pipeline/intake.ts).
  const intake = new Batcher<Submission, SubmitOutcome>((subs) => submitWithdrawals(db, clock, subs), intakeBatching(db));

  const problemResponses = { 400: { $ref: 'Problem#' }, 401: { $ref: 'Problem#' }, 403: { $ref: 'Problem#' }, 404: { $ref: 'Problem#' } };

  app.post<{ Body: WithdrawalRequestBody }>(
    '/v1/withdrawals',
    {
      config: { scope: 'withdraw' },
      schema: {
        summary: 'Submit a withdrawal',
        description:
          'Requires the Idempotency-Key header: the same key with the same body returns the same withdrawal (200); with a different body, 409. A withdrawal the syntax stage rejects is stored and answered with 422 problem+json carrying it.',
        security: [{ custosSignature: [] }],
        body: WithdrawalRequestSchema,
        response: { 200: { $ref: 'Withdrawal#' }, 201: { $ref: 'Withdrawal#' }, 409: { $ref: 'Problem#' }, 422: { $ref: 'Problem#' }, ...problemResponses },
      },
    },
    async (req, reply) => {
      const principal = req.principal as Principal;
      const key = req.headers['idempotency-key'];
      if (typeof key !== 'string' || key.length === 0) {
        throw new CustosError('idempotency_key_missing', 'POST /v1/withdrawals requires an Idempotency-Key header', 400);
      }
      if (!IDEMPOTENCY_KEY.test(key)) {
        throw new CustosError('idempotency_key_invalid', 'Idempotency-Key must be 1–128 characters of A–Z a–z 0–9 _ . : -', 400);
      }
      if (!assets.has(`${req.body.chain}:${req.body.asset}`)) await refreshAssets();
      const { withdrawal, created } = await intake.submit({
        customerId: principal.customerId,
        credentialId: principal.credentialId,
        idempotencyKey: key,
        request: req.body,
      });
      const body = toBody(withdrawal);
      reply.header('location', `/v1/withdrawals/${withdrawal.id}`);
      if (withdrawal.status === 'rejected') {
        const first = withdrawal.decisions.find((d) => d.outcome === 'reject' || d.outcome === 'block')?.reasons[0];
        return sendProblem(reply, first?.code ?? 'withdrawal_rejected', 422, first?.message ?? 'the withdrawal was rejected', { withdrawal: body });
      }
      return reply.code(created ? 201 : 200).send(body);
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/withdrawals/:id',
    {
      config: { scope: 'read' },
      schema: {
        summary: 'A withdrawal with its status and full decision trail',
        security: [{ custosSignature: [] }],
        params: { type: 'object', properties: { id: { type: 'string', maxLength: 64 } }, required: ['id'] },
        response: { 200: { $ref: 'Withdrawal#' }, ...problemResponses },
      },
    },
    async (req) => {
      const principal = req.principal as Principal;
      const w = await getWithdrawal(db, req.params.id, principal.customerId);
      if (!w) throw new CustosError('withdrawal_not_found', `no withdrawal ${req.params.id}`, 404);
      return { ...toBody(w), transaction: transactionBody(await getOutbound(db, w.id)) };
    },
  );

  app.get<{ Querystring: { status?: WithdrawalRecord['status']; limit?: string; cursor?: string } }>(
    '/v1/withdrawals',
    {
      config: { scope: 'read' },
      schema: {
        summary: "The customer's withdrawals, newest first, optionally by status; paged with nextCursor",
        security: [{ custosSignature: [] }],
        querystring: ListQuerySchema,
        response: { 200: WithdrawalPageSchema, ...problemResponses },
      },
    },
    async (req) => {
      const principal = req.principal as Principal;
      const limit = Math.min(Number(req.query.limit ?? '50'), 200);
      const page = await listWithdrawals(db, { customerId: principal.customerId, status: req.query.status, limit, cursor: req.query.cursor });
      const outbound = await getOutbounds(db, page.items.map((w) => w.id));
      return { items: page.items.map((w) => ({ ...toBody(w), transaction: transactionBody(outbound.get(w.id) ?? null) })), nextCursor: page.nextCursor };
    },
  );

  app.get(
    '/v1/admin/ratelimits',
    {
      config: { scope: 'admin' },
      schema: { summary: 'Rate-limit status: active cooling periods and the configured limits', security: [{ custosSignature: [] }] },
    },
    async () => {
      if (!limiter) throw new CustosError('ratelimit_disabled', 'this gateway runs without rate limits', 404);
      const now = clock.now();
      const entries = await limiter.blacklisted();
      return {
        blacklisted: entries.map((e) => ({ ...e, since: new Date(e.since).toISOString(), until: new Date(e.until).toISOString(), remainingS: Math.max(0, Math.ceil((e.until - now) / 1000)) })),
        routeClasses: limiter.limits.routeClasses,
        tiers: limiter.limits.tiers,
      };
    },
  );
  app.post<{ Body: { key: string } }>(
    '/v1/admin/ratelimits/lift',
    {
      config: { scope: 'admin' },
      schema: {
        summary: 'End a cooling period early (audited, alerted)',
        security: [{ custosSignature: [] }],
        body: { type: 'object', additionalProperties: false, required: ['key'], properties: { key: { type: 'string', minLength: 1, maxLength: 200 } } },
      },
    },
    async (req) => {
      if (!limiter) throw new CustosError('ratelimit_disabled', 'this gateway runs without rate limits', 404);
      const entry = await limiter.lift(req.body.key, `credential:${(req.principal as Principal).credentialId}`);
      if (!entry) throw new CustosError('not_blacklisted', `${req.body.key} is not blacklisted`, 404);
      return { lifted: { ...entry, since: new Date(entry.since).toISOString(), until: new Date(entry.until).toISOString() } };
    },
  );

  await registerApprovalRoutes(app, { db, clock, toBody });

  await registerAuditRoutes(app, { db });
  await registerNodeRoutes(app, { nodes: opts.nodes });
  app.get('/healthz', { schema: { summary: 'Liveness', hide: false } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { summary: 'Readiness: the database answers' } }, async (_req, reply) => {
    try {
      await db.query('SELECT 1');
      return { status: 'ready' };
    } catch {
      return sendProblem(reply, 'not_ready', 503, 'the database does not answer');
    }
  });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  return { app, auth };
}

export function withdrawalBody(w: WithdrawalRecord, asset: Asset | undefined): WithdrawalBody {
  const amount = w.amount !== null && asset ? formatAmount(w.amount, asset.decimals) : String(w.request.amount ?? '');
  return {
    id: w.id,
    status: w.status,
    customerId: w.customerId,
    chain: w.chain,
    asset: w.asset,
    to: w.to,
    amount,
    fee: w.fee !== null && asset ? formatAmount(w.fee, asset.feeDecimals) : null,
    nonce: w.nonce === null ? null : w.nonce.toString(),
    memo: w.memo,
    decisions: w.decisions,
    createdAt: new Date(w.createdAt).toISOString(),
    updatedAt: new Date(w.updatedAt).toISOString(),
  };
}

/** The signed transaction of a withdrawal (null until the nodes signed it). */
export function transactionBody(o: OutboundRecord | null): WithdrawalBody['transaction'] {
  if (!o || o.txHash === null) return null;
  const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());
  return { hash: o.txHash, signers: [...(o.signers ?? [])], signedAt: iso(o.signedAt), broadcastAt: iso(o.broadcastAt), confirmations: o.confirmations === null ? null : o.confirmations.toString() };
}

function sendProblem(reply: FastifyReply, code: string, status: number, detail: string, extra?: Record<string, unknown>) {
  return reply
    .code(status)
    .type(PROBLEM_TYPE)
    .send(problemBody(code, status, detail, extra ?? {}));
}

export type { FastifyRequest };
