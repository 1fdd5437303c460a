/**
 * Turns a threshold signature as the coordinator returns it (bytes, and the key it verifies under)
 * into what `assembleSigned` takes for the chain: Ed25519 and BIP-340 signatures pass as 64 bytes;
 * an ECDSA signature (`r || s`, optionally followed by a recovery byte) becomes `{r, s, recovery}`,
 * the recovery id found by recovering the public key from the digest and comparing it with the
 * threshold key, so a signature by any other key is refused here rather than on chain.
 *
 * @example
 *   const sig = chainSignature('ethereum', result.signature, result.publicKey, digest); // {r, s, recovery}
 *   const signed = assembleSigned(unsigned, [sig], 'mainnet');
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { equalBytes } from '@noble/curves/utils.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import type { Chain } from '../core/chain.js';
import { CustosError } from '../core/errors.js';
import { normaliseEcdsa, type EcdsaSignature } from './tx.js';

const bad = (message: string): never => {
  throw new CustosError('tx_bad_signature', message, 422);
};

/** `ecdsa`: the chain needs `{r, s, recovery}` (Ethereum, Bitcoin P2WPKH); `raw`: 64 bytes as they are. */
export function chainSignature(
  chain: Chain, signature: Uint8Array, publicKey: Uint8Array, digest: Uint8Array, kind: 'ecdsa' | 'raw' = chain === 'ethereum' ? 'ecdsa' : 'raw',
): EcdsaSignature | Uint8Array {
  if (kind === 'raw') {
    if (signature.length !== 64) bad(`a ${chain} signature is 64 bytes`);
    return signature;
  }
  if (signature.length !== 64 && signature.length !== 65) bad('an ECDSA signature is r || s (64 bytes) with an optional recovery byte');
  if (digest.length !== 32) bad('an ECDSA digest is 32 bytes');
  let expected: Uint8Array;
  try {
    expected = secp256k1.Point.fromBytes(publicKey).toBytes(true);
  } catch {
    return bad('the threshold key is not a secp256k1 point');
  }
  const r = BigInt('0x' + bytesToHex(signature.subarray(0, 32)));
  const s = BigInt('0x' + bytesToHex(signature.subarray(32, 64)));
  for (const recovery of [0, 1]) {
    const sig = normaliseEcdsa({ r, s, recovery });
    try {
      const got = new secp256k1.Signature(sig.r, sig.s, sig.recovery).recoverPublicKey(digest).toBytes(true);
      if (equalBytes(got, expected)) return sig;
    } catch {
      // this recovery id gives no point; try the other
    }
  }
  return bad('the ECDSA signature does not recover to the threshold key');
}
