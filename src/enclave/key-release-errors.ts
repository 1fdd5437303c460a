import { CustosError } from '../core/errors.js';

/**
 * Stable codes of the key-release service beyond the attestation ones (`attestation_*` from
 * errors.ts pass through unchanged, so a refused measurement is `attestation_measurement` on both
 * sides of the wire).
 */
export const KEY_RELEASE_ERROR_CODES = [
  'key_release_invalid_request', // the request is not { nodeId, nonce, publicKey, document } within limits
  'key_release_unknown_node', // the node id is not one this service enrols
  'key_release_unavailable', // the HSM or the sealing-key store failed (no detail leaves the service)
  'key_release_response', // client side: the answer is malformed, for another node, or does not decrypt
] as const;

export type KeyReleaseErrorCode = (typeof KEY_RELEASE_ERROR_CODES)[number];

/**
 * A key-release refusal or failure that is not about the attestation document itself.
 *
 * @example
 *   throw new KeyReleaseError('key_release_unknown_node', 'node node-9 is not enrolled here');
 */
export class KeyReleaseError extends CustosError {
  declare readonly code: KeyReleaseErrorCode;

  constructor(code: KeyReleaseErrorCode, message: string, details?: Record<string, unknown>) {
    super(code, message, statusFor(code), details);
    this.name = 'KeyReleaseError';
  }
}

function statusFor(code: KeyReleaseErrorCode): number {
  switch (code) {
    case 'key_release_invalid_request':
      return 400;
    case 'key_release_unknown_node':
      return 403;
    case 'key_release_response':
      return 502;
    default:
      return 503;
  }
}
