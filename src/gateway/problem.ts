/**
 * RFC 9457 problem+json bodies with custos' stable codes.
 *
 * @example
 *   reply.code(409).type(PROBLEM_TYPE).send(problemBody('idempotency_key_reused', 409, '…'));
 */
export const PROBLEM_TYPE = 'application/problem+json';

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export function problemBody(code: string, status: number, detail: string, extra: Record<string, unknown> = {}) {
  return {
    type: `https://custos.dev/problems/${code}`,
    title: TITLES[status] ?? 'Error',
    status,
    detail,
    code,
    ...extra,
  };
}
