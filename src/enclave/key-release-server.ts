import Fastify, { type FastifyInstance } from 'fastify';
import { CustosError } from '../core/errors.js';
import { KeyReleaseError } from './key-release-errors.js';
import { handleReleaseRequest, issueReleaseNonce, type KeyReleaseDeps } from './key-release.js';
import { requestFromJson, responseToJson } from './key-release-wire.js';

export interface KeyReleaseServerOptions {
  /** Request log (pino) level and destination; none by default. Bodies are never logged. */
  logger?: { level: string; stream?: NodeJS.WritableStream };
}

/**
 * The key-release service over HTTP (what `custos key-release serve` listens with):
 *
 *   POST /v1/key-release/nonce  {}                                   → 200 { nonce }
 *   POST /v1/key-release        { nodeId, nonce, publicKey, document } → 200 { nodeId, suite, enc, ciphertext, … }
 *   GET  /healthz                                                      → 200 { ok: true }
 *
 * Bytes are base64. Refusals are RFC 9457 problem+json with the stable `code`. Bodies are capped
 * at 64 KiB. Run it on loopback or behind TLS: the answer is already encrypted to the enclave, but
 * the service should still not be reachable from where nodes are not.
 *
 * @example
 *   const app = createKeyReleaseServer(deps); await app.listen({ port: 7400, host: '127.0.0.1' });
 */
export function createKeyReleaseServer(deps: KeyReleaseDeps, options: KeyReleaseServerOptions = {}): FastifyInstance {
  const app = Fastify({
    logger: options.logger
      ? { level: options.logger.level, ...(options.logger.stream ? { stream: options.logger.stream } : {}), redact: ['req.headers.authorization'] }
      : false,
    bodyLimit: 64 * 1024,
  });

  app.setErrorHandler((err, _req, reply) => {
    const problem =
      err instanceof CustosError
        ? err
        : (err as { statusCode?: number }).statusCode === 413
          ? new KeyReleaseError('key_release_invalid_request', 'request body is too large')
          : (err as { statusCode?: number }).statusCode !== undefined && (err as { statusCode: number }).statusCode < 500
            ? new KeyReleaseError('key_release_invalid_request', 'request is not valid JSON')
            : new KeyReleaseError('key_release_unavailable', 'key release failed unexpectedly');
    void reply
      .code(problem.status)
      .type('application/problem+json')
      .send({ type: `urn:custos:error:${problem.code}`, title: problem.code, status: problem.status, code: problem.code, detail: problem.message });
  });

  app.get('/healthz', async () => ({ ok: true }));
  app.post('/v1/key-release/nonce', async () => ({ nonce: Buffer.from(issueReleaseNonce(deps)).toString('base64') }));
  app.post('/v1/key-release', async (req) => responseToJson(await handleReleaseRequest(requestFromJson(req.body), deps)));
  return app;
}
