/**
 * The signing node's HTTP shell (node:http, JSON, loopback by default): routes requests to a
 * `NodeService` and answers errors as `{ code, message, culprits? }` with the error's status.
 * Unexpected errors answer a bare `internal` code: their messages are never echoed (they could
 * carry secret material from a library).
 *
 *   GET  /v1/health                      identity, keys, sealing label
 *   GET  /v1/keys, /v1/keys/:keyId       public key catalogue (public packages)
 *   GET  /v1/keys/:keyId/presignatures   unspent CGGMP21 presignatures (ids, signer sets, R: public)
 *   POST /v1/sessions                    join a session { kind: dkg|sign|refresh|presign, session, keyId, … }
 *   POST /v1/sessions/:session/round     deliver the relayed envelopes of the current round
 *   POST /v1/keys/:keyId/commit          make a finished refresh current { generation }
 *   GET  /v1/withdrawals/:id/signature   the signature this node completed for a withdrawal (public)
 *
 * @example
 *   const server = await startNodeServer(service, { host: '127.0.0.1', port: 0 });
 *   console.log(server.url); await server.close();
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { isCustosError } from '../../core/errors.js';
import { COORDINATOR_HEADER, verifyCoordinatorRequest } from './caller-auth.js';
import { culpritsOf, type NodeService } from './service.js';

export const MAX_BODY_BYTES = 4 * 1024 * 1024;

export interface NodeServer {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  sendText(res, status, JSON.stringify(body));
}

function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** The request body, at most MAX_BODY_BYTES (event listeners: cheaper than async iteration per request). */
function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        req.removeAllListeners('data');
        req.resume();
        reject(Object.assign(new Error('too large'), { tooLarge: true }));
        return;
      }
      chunks.push(c);
    });
    req.once('end', () => resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)));
    req.once('error', reject);
  });
}

/** Reads the body, checks the coordinator's signature when the node requires one, parses JSON. */
async function readJson(req: IncomingMessage, service: NodeService, path: string): Promise<unknown> {
  const raw = await readBody(req);
  const keys = service.coordinatorKeys;
  if (keys) {
    const header = req.headers[COORDINATOR_HEADER];
    verifyCoordinatorRequest(typeof header === 'string' ? header : undefined, { keys, method: 'POST', path, body: new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength), now: Date.now() });
  }
  return JSON.parse(raw.toString('utf8')) as unknown;
}

async function body(req: IncomingMessage, res: ServerResponse, service: NodeService, path: string): Promise<{ ok: true; value: unknown } | { ok: false }> {
  try {
    return { ok: true, value: await readJson(req, service, path) };
  } catch (err) {
    if (isCustosError(err)) send(res, err.status, { code: err.code, message: err.message });
    else send(res, (err as { tooLarge?: boolean }).tooLarge ? 413 : 400, { code: 'node_bad_request', message: 'body must be JSON of at most 4 MiB' });
    return { ok: false };
  }
}

/**
 * Listens on `host:port`: plain HTTP, or with `tls` (the node's key and certificate, PEM) HTTPS,
 * TLS 1.3 only; the coordinator pins exactly that certificate (../coordinator/client.ts).
 */
export async function startNodeServer(service: NodeService, o: { host: string; port: number; tls?: { key: string; cert: string } | undefined }): Promise<NodeServer> {
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    void handle(service, req, res);
  };
  const server = o.tls ? createTlsServer({ key: o.tls.key, cert: o.tls.cert, minVersion: 'TLSv1.3' }, handler) : createServer(handler);
  server.keepAliveTimeout = 65_000; // longer than the coordinator keeps an idle connection (client.ts), so the client closes first
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const host = o.host.includes(':') ? `[${o.host}]` : o.host;
  return {
    url: `${o.tls ? 'https' : 'http'}://${host}:${port}`,
    port,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

async function handle(service: NodeService, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const target = req.url ?? '/';
  const q = target.indexOf('?');
  const path = q === -1 ? target : target.slice(0, q);
  try {
    if (req.method === 'GET' && path === '/v1/health') return send(res, 200, service.health());
    if (req.method === 'GET' && path === '/v1/keys') return send(res, 200, { keys: service.keys() });
    const presigs = /^\/v1\/keys\/([^/]+)\/presignatures$/.exec(path);
    if (req.method === 'GET' && presigs) return send(res, 200, { presignatures: service.presignatures(decodeURIComponent(presigs[1] as string)) });
    const key = /^\/v1\/keys\/([^/]+)$/.exec(path);
    if (req.method === 'GET' && key) return send(res, 200, service.key(decodeURIComponent(key[1] as string)));
    const signed = /^\/v1\/withdrawals\/([^/]+)\/signature$/.exec(path);
    if (req.method === 'GET' && signed) return send(res, 200, service.signedWithdrawal(decodeURIComponent(signed[1] as string)));
    if (req.method === 'POST' && path === '/v1/sessions') {
      const b = await body(req, res, service, path);
      if (b.ok) {
        await service.prepareSession(b.value);
        const { durable, ...step } = service.startSession(b.value);
        const text = JSON.stringify(step);
        if (durable) await durable; // a spent presignature is on disk before its share leaves
        sendText(res, 200, text);
      }
      return;
    }
    const commit = /^\/v1\/keys\/([^/]+)\/commit$/.exec(path);
    if (req.method === 'POST' && commit) {
      const b = await body(req, res, service, path);
      if (b.ok) send(res, 200, service.commitRefresh(decodeURIComponent(commit[1] as string), b.value));
      return;
    }
    const round = /^\/v1\/sessions\/([0-9a-f]+)\/round$/.exec(path);
    if (req.method === 'POST' && round) {
      const b = await body(req, res, service, path);
      if (b.ok) send(res, 200, service.advance(round[1] as string, b.value));
      return;
    }
    return send(res, 404, { code: 'not_found', message: 'no such endpoint' });
  } catch (err) {
    if (isCustosError(err)) {
      const culprits = culpritsOf(err);
      return send(res, err.status, { code: err.code, message: err.message, ...(culprits.length ? { culprits } : {}) });
    }
    return send(res, 500, { code: 'internal', message: 'internal error' });
  }
}
