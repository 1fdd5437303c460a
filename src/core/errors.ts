/**
 * Typed errors with stable codes. The API answers RFC 9457 problem+json using `code` and `status`.
 * Messages are human sentences and must never contain secret material.
 *
 * @example
 *   throw new CustosError('amount_too_precise', 'amount has more decimals than the asset allows (6)', 422);
 */
export class CustosError extends Error {
  readonly code: string;
  readonly status: number;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: string, message: string, status = 400, details?: Record<string, unknown>) {
    super(message);
    this.name = 'CustosError';
    this.code = code;
    this.status = status;
    this.details = details;
  }
}

export function isCustosError(err: unknown): err is CustosError {
  return err instanceof CustosError;
}
