/**
 * DER pieces PKCS#11 uses for elliptic-curve keys: CKA_EC_PARAMS (a named-curve OID) and
 * CKA_EC_POINT (the point wrapped in a DER OCTET STRING).
 *
 * @example
 *   const point = unwrapEcPoint(ckaEcPoint); // 65 bytes 04||X||Y for secp256k1, 32 bytes for Ed25519
 */
import { CustosError } from '../core/errors.js';

/** OID 1.3.132.0.10 (secp256k1). */
export const SECP256K1_EC_PARAMS = new Uint8Array([0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a]);
/** OID 1.3.101.112 (id-Ed25519, RFC 8410). */
export const ED25519_EC_PARAMS = new Uint8Array([0x06, 0x03, 0x2b, 0x65, 0x70]);

/** Reads a DER OCTET STRING (short or one/two-byte long length); some tokens return the raw point. */
export function unwrapEcPoint(value: Uint8Array, expectedLength: number): Uint8Array {
  if (value.length === expectedLength) return new Uint8Array(value);
  if (value[0] !== 0x04 || value.length < 2) throw malformed();
  let len = value[1] as number;
  let offset = 2;
  if (len === 0x81) {
    len = value[2] as number;
    offset = 3;
  } else if (len > 0x7f) {
    throw malformed();
  }
  if (len !== expectedLength || offset + len !== value.length) throw malformed();
  return value.slice(offset);
}

function malformed(): CustosError {
  return new CustosError('hsm_error', 'the HSM returned a malformed CKA_EC_POINT', 502);
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= (a[i] as number) ^ (b[i] as number);
  return d === 0;
}
