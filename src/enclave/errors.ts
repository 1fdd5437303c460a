import { CustosError } from '../core/errors.js';

/**
 * Stable reason codes for a refused attestation, measurement or sealed blob. Each is one kind of
 * refusal an operator can act on; the message says which check failed, never any secret.
 */
export const ATTESTATION_ERROR_CODES = [
  'attestation_format', // not CBOR / COSE_Sign1 / a Nitro document as the spec defines it
  'attestation_too_large', // input over the size, depth or item limits
  'attestation_algorithm', // COSE algorithm other than ES384, or a key that is not P-384
  'attestation_signature', // the COSE_Sign1 signature does not verify under the leaf certificate
  'attestation_chain', // certificate chain broken, too long, looping, or a link not a CA
  'attestation_root', // the chain does not end in a pinned root accepted at the validation time
  'attestation_expired', // a certificate or the document is outside its validity at the validation time
  'attestation_nonce', // nonce missing or different from the expected one, or already used
  'attestation_public_key', // public_key missing or different from the expected one
  'attestation_user_data', // user_data missing or different from the expected one
  'attestation_measurement', // PCRs not on the measurement allowlist, or a debug enclave
  'attestation_allowlist', // allowlist document malformed, expired, rolled back, or short of signers
  'enclave_unseal', // a sealed blob did not authenticate under this enclave's sealing key
  'enclave_no_sealing_key', // seal/unseal before key release delivered the sealing key
  'enclave_nsm', // the Nitro Secure Module refused a request or answered something unexpected
] as const;

export type AttestationErrorCode = (typeof ATTESTATION_ERROR_CODES)[number];

/**
 * A refused attestation. `status` 401 for a document that does not authenticate, 400 for one that
 * is malformed, 403 for a measurement that is not allowed.
 *
 * @example
 *   throw new AttestationError('attestation_nonce', 'nonce does not match the expected nonce');
 */
export class AttestationError extends CustosError {
  declare readonly code: AttestationErrorCode;

  constructor(code: AttestationErrorCode, message: string, details?: Record<string, unknown>) {
    super(code, message, statusFor(code), details);
    this.name = 'AttestationError';
  }
}

function statusFor(code: AttestationErrorCode): number {
  switch (code) {
    case 'attestation_format':
    case 'attestation_too_large':
      return 400;
    case 'attestation_measurement':
      return 403;
    case 'enclave_no_sealing_key':
    case 'enclave_nsm':
      return 503;
    default:
      return 401;
  }
}
