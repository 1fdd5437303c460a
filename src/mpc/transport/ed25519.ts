/**
 * Ed25519 signing and verification for the signing nodes and the coordinator, on the hot path of
 * every threshold signature (a node checks the coordinator's request, the policy signature and
 * each approval). Two native backends, both standard RFC 8032 (cross-checked against
 * @noble/curves and the RFC's vectors in the tests):
 *   - `libsodium` (the optional dependency `sodium-native`): about 53 µs per verification here,
 *     half of OpenSSL's. It is stricter than RFC 8032 requires: besides a non-canonical S it refuses
 *     small-order and non-canonical public keys and R values, which no key made by custos has.
 *   - `openssl` (node:crypto), the fallback when sodium-native is not installed (its install is
 *     optional, so a plain install never needs a compiler), or when `CUSTOS_ED25519=openssl`.
 * Key material is cached per key in either backend.
 *
 * @example
 *   const sig = edSign(seed, bytes);
 *   edVerify(sig, bytes, publicKeyHex);   // true
 */
import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { createRequire } from 'node:module';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex } from '@noble/hashes/utils.js';

export interface Ed25519Backend {
  readonly name: 'libsodium' | 'openssl';
  /** Signs `message` with a 32-byte seed. */
  sign(seed: Uint8Array, message: Uint8Array): Uint8Array;
  /** Verifies a signature under a public key given as 64 hex digits; false on any malformed input. */
  verify(signature: Uint8Array, message: Uint8Array, publicKeyHex: string): boolean;
}

const HEX_KEY = /^[0-9a-f]{64}$/;
const b64url = (b: Uint8Array): string => Buffer.from(b).toString('base64url');
const view = (b: Uint8Array): Buffer => Buffer.from(b.buffer, b.byteOffset, b.byteLength);

function cacheSet<K, V>(m: Map<K, V>, k: K, v: V): V {
  if (m.size >= 4096) m.clear();
  m.set(k, v);
  return v;
}

function opensslBackend(): Ed25519Backend {
  const publicKeys = new Map<string, KeyObject | null>();
  const privateKeys = new WeakMap<Uint8Array, KeyObject>();
  const publicKey = (hex: string): KeyObject | null => {
    const k = publicKeys.get(hex);
    if (k !== undefined) return k;
    if (!HEX_KEY.test(hex)) return null;
    try {
      return cacheSet(publicKeys, hex, createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: b64url(Buffer.from(hex, 'hex')) }, format: 'jwk' }));
    } catch {
      return cacheSet(publicKeys, hex, null);
    }
  };
  return {
    name: 'openssl',
    sign(seed, message) {
      let k = privateKeys.get(seed);
      if (!k) {
        k = createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', d: b64url(seed), x: b64url(ed25519.getPublicKey(seed)) }, format: 'jwk' });
        privateKeys.set(seed, k);
      }
      return new Uint8Array(sign(null, message, k));
    },
    verify(signature, message, publicKeyHex) {
      if (signature.length !== 64) return false;
      const k = publicKey(publicKeyHex);
      if (!k) return false;
      try {
        return verify(null, message, k, signature);
      } catch {
        return false;
      }
    },
  };
}

interface SodiumNative {
  crypto_sign_seed_keypair(pk: Buffer, sk: Buffer, seed: Buffer): void;
  crypto_sign_detached(sig: Buffer, message: Buffer, sk: Buffer): void;
  crypto_sign_verify_detached(sig: Buffer, message: Buffer, pk: Buffer): boolean;
}

function sodiumBackend(sodium: SodiumNative): Ed25519Backend {
  const publicKeys = new Map<string, Buffer>();
  const secretKeys = new WeakMap<Uint8Array, Buffer>();
  return {
    name: 'libsodium',
    sign(seed, message) {
      let sk = secretKeys.get(seed);
      if (!sk) {
        if (seed.length !== 32) throw new RangeError('an Ed25519 seed is 32 bytes');
        sk = Buffer.alloc(64);
        sodium.crypto_sign_seed_keypair(Buffer.alloc(32), sk, view(seed));
        secretKeys.set(seed, sk);
      }
      const sig = Buffer.alloc(64);
      sodium.crypto_sign_detached(sig, view(message), sk);
      return new Uint8Array(sig.buffer, sig.byteOffset, 64);
    },
    verify(signature, message, publicKeyHex) {
      if (signature.length !== 64) return false;
      let pk = publicKeys.get(publicKeyHex);
      if (pk === undefined) {
        if (!HEX_KEY.test(publicKeyHex)) return false;
        pk = cacheSet(publicKeys, publicKeyHex, Buffer.from(publicKeyHex, 'hex'));
      }
      try {
        return sodium.crypto_sign_verify_detached(view(signature), view(message), pk);
      } catch {
        return false;
      }
    },
  };
}

function loadSodium(): SodiumNative | null {
  try {
    return createRequire(import.meta.url)('sodium-native') as SodiumNative;
  } catch {
    return null;
  }
}

/** Every backend available in this installation (tests run each). */
export const ed25519Backends: readonly Ed25519Backend[] = (() => {
  const sodium = loadSodium();
  return sodium ? [sodiumBackend(sodium), opensslBackend()] : [opensslBackend()];
})();

/** The backend in use: libsodium where installed, unless `CUSTOS_ED25519=openssl`. */
export const ed25519Backend: Ed25519Backend =
  (process.env.CUSTOS_ED25519 === 'openssl' ? ed25519Backends.find((b) => b.name === 'openssl') : undefined) ?? (ed25519Backends[0] as Ed25519Backend);

/** Signs `message` with a 32-byte Ed25519 seed. */
export function edSign(seed: Uint8Array, message: Uint8Array): Uint8Array {
  return ed25519Backend.sign(seed, message);
}

/** Verifies a 64-byte signature under a 32-byte public key given as hex; false on any malformed input. */
export function edVerify(signature: Uint8Array, message: Uint8Array, publicKeyHex: string): boolean {
  return ed25519Backend.verify(signature, message, publicKeyHex);
}

const publicHex = new WeakMap<Uint8Array, string>();

/** Hex of the public key of a seed (remembered per seed object: it is asked for on every signed request). */
export function edPublicKeyHex(seed: Uint8Array): string {
  let hex = publicHex.get(seed);
  if (hex === undefined) {
    hex = bytesToHex(ed25519.getPublicKey(seed));
    publicHex.set(seed, hex);
  }
  return hex;
}
