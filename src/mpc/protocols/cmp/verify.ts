/**
 * ECDSA verification on secp256k1 of a 32-byte digest (the chain's own hash: Keccak-256 for
 * Ethereum, the BIP-143 sighash for Bitcoin; nothing is hashed here), low S only, through
 * libsecp256k1 (tiny-secp256k1, WebAssembly). It is on the online-signing path twice (the
 * coordinator checks the combined signature; every signer checks it again before recording the
 * withdrawal as signed), and costs about 0.34 ms here against 1.4 ms for @noble/curves; the tests
 * hold it to @noble/curves' verdict on valid, tampered, high-S and out-of-range signatures.
 *
 * @example
 *   verifyDigestSignature(compact64, keccak_256(unsignedTx), compressedPublicKey); // true / false
 */
import { verify } from 'tiny-secp256k1';

/**
 * True when `signature` (r ‖ s, 64 bytes, s ≤ n/2) is a valid ECDSA signature of `digest` (32
 * bytes) under `publicKey` (SEC1 compressed or uncompressed, 33 or 65 bytes). False for anything
 * malformed: a hybrid (06/07) encoding, a point off the curve, r or s zero or ≥ n, a high S, a digest of another length.
 */
export function verifyDigestSignature(signature: Uint8Array, digest: Uint8Array, publicKey: Uint8Array): boolean {
  if (signature.length !== 64 || digest.length !== 32) return false;
  // compressed (02/03) or uncompressed (04) only: libsecp256k1 also parses SEC1's hybrid 06/07
  // encoding, which @noble/curves and this module refuse
  const prefix = publicKey[0];
  if (!(publicKey.length === 33 && (prefix === 2 || prefix === 3)) && !(publicKey.length === 65 && prefix === 4)) return false;
  try {
    return verify(digest, publicKey, signature, true);
  } catch {
    return false; // tiny-secp256k1 throws on a malformed point or signature
  }
}
