/**
 * AES key wrap in software: RFC 3394 (KW, default IV A6A6A6A6A6A6A6A6) and RFC 5649 (KWP, alternative
 * IV A65959A6 || 32-bit message length). Used by the development backend and as the reference the
 * PKCS#11 backend is cross-checked against. The only primitive is the raw AES block cipher
 * (node:crypto AES-ECB on exactly one 16-byte block at a time); the wrapping algorithm is ours.
 *
 * @example
 *   const wrapped = aesKeyWrap(kek32, sealingKey32);        // 40 bytes
 *   const back = aesKeyUnwrap(kek32, wrapped);              // throws CustosError('hsm_unwrap_failed') if tampered
 *   const padded = aesKeyWrapPad(kek32, new Uint8Array(7)); // 16 bytes
 */
import { createCipheriv, createDecipheriv, timingSafeEqual } from 'node:crypto';
import { CustosError } from '../core/errors.js';

const KW_IV = new Uint8Array([0xa6, 0xa6, 0xa6, 0xa6, 0xa6, 0xa6, 0xa6, 0xa6]);
const KWP_IV_PREFIX = new Uint8Array([0xa6, 0x59, 0x59, 0xa6]);
/** Largest key we agree to wrap: far above any real key, small enough to refuse absurd input early. */
export const AES_KW_MAX_INPUT = 64 * 1024;

function algorithm(kek: Uint8Array): string {
  if (kek.length === 16) return 'aes-128-ecb';
  if (kek.length === 24) return 'aes-192-ecb';
  if (kek.length === 32) return 'aes-256-ecb';
  throw new CustosError('hsm_invalid_input', 'an AES key-encryption key is 16, 24 or 32 bytes', 400);
}

/** One block cipher per call: encrypt or decrypt 16-byte blocks in ECB, no padding. */
function blockCipher(kek: Uint8Array, decrypt: boolean): (block: Uint8Array) => Uint8Array {
  const alg = algorithm(kek);
  const c = decrypt ? createDecipheriv(alg, kek, null) : createCipheriv(alg, kek, null);
  c.setAutoPadding(false);
  return (block) => new Uint8Array(c.update(block));
}

/** RFC 3394 §2.2.1 wrapping process (index-based form) over n >= 1 semiblocks with initial value `a`. */
function wrapCore(kek: Uint8Array, a0: Uint8Array, plaintext: Uint8Array): Uint8Array {
  const n = plaintext.length / 8;
  const enc = blockCipher(kek, false);
  const a = new Uint8Array(a0);
  const r = new Uint8Array(plaintext);
  const block = new Uint8Array(16);
  for (let j = 0; j <= 5; j++) {
    for (let i = 1; i <= n; i++) {
      block.set(a, 0);
      block.set(r.subarray((i - 1) * 8, i * 8), 8);
      const b = enc(block);
      a.set(b.subarray(0, 8));
      xorCounter(a, n * j + i);
      r.set(b.subarray(8, 16), (i - 1) * 8);
    }
  }
  const out = new Uint8Array(8 + r.length);
  out.set(a, 0);
  out.set(r, 8);
  return out;
}

/** RFC 3394 §2.2.2 unwrapping process; returns the recovered integrity value and the plaintext. */
function unwrapCore(kek: Uint8Array, ciphertext: Uint8Array): { a: Uint8Array; r: Uint8Array } {
  const n = ciphertext.length / 8 - 1;
  const dec = blockCipher(kek, true);
  const a = new Uint8Array(ciphertext.subarray(0, 8));
  const r = new Uint8Array(ciphertext.subarray(8));
  const block = new Uint8Array(16);
  for (let j = 5; j >= 0; j--) {
    for (let i = n; i >= 1; i--) {
      xorCounter(a, n * j + i);
      block.set(a, 0);
      block.set(r.subarray((i - 1) * 8, i * 8), 8);
      const b = dec(block);
      a.set(b.subarray(0, 8));
      r.set(b.subarray(8, 16), (i - 1) * 8);
    }
  }
  return { a, r };
}

/** A ^= t, with t as a 64-bit big-endian counter. */
function xorCounter(a: Uint8Array, t: number): void {
  let v = t;
  for (let k = 7; k >= 0 && v > 0; k--) {
    a[k] = (a[k] as number) ^ (v & 0xff);
    v = Math.floor(v / 256);
  }
}

function unwrapFailed(): CustosError {
  return new CustosError('hsm_unwrap_failed', 'the wrapped key failed its integrity check (wrong key-encryption key or altered blob)', 400);
}

function checkSize(len: number): void {
  if (len > AES_KW_MAX_INPUT) throw new CustosError('hsm_invalid_input', `key wrap input is limited to ${AES_KW_MAX_INPUT} bytes`, 400);
}

/** RFC 3394 wrap. `key` must be a multiple of 8 bytes, at least 16. */
export function aesKeyWrap(kek: Uint8Array, key: Uint8Array): Uint8Array {
  checkSize(key.length);
  if (key.length < 16 || key.length % 8 !== 0) {
    throw new CustosError('hsm_invalid_input', 'RFC 3394 key wrap needs a key of at least 16 bytes in multiples of 8 (use KWP otherwise)', 400);
  }
  return wrapCore(kek, KW_IV, key);
}

/** RFC 3394 unwrap; throws `hsm_unwrap_failed` when the integrity check fails. */
export function aesKeyUnwrap(kek: Uint8Array, wrapped: Uint8Array): Uint8Array {
  checkSize(wrapped.length);
  if (wrapped.length < 24 || wrapped.length % 8 !== 0) throw unwrapFailed();
  const { a, r } = unwrapCore(kek, wrapped);
  if (!timingSafeEqual(a, KW_IV)) {
    r.fill(0);
    throw unwrapFailed();
  }
  return r;
}

/** RFC 5649 wrap with padding: any key length from 1 byte. */
export function aesKeyWrapPad(kek: Uint8Array, key: Uint8Array): Uint8Array {
  checkSize(key.length);
  if (key.length === 0) throw new CustosError('hsm_invalid_input', 'cannot wrap an empty key', 400);
  const a = new Uint8Array(8);
  a.set(KWP_IV_PREFIX, 0);
  new DataView(a.buffer).setUint32(4, key.length, false);
  const padded = new Uint8Array(Math.ceil(key.length / 8) * 8);
  padded.set(key);
  if (padded.length === 8) {
    // RFC 5649 §4.1: a single semiblock is encrypted once with AES in ECB mode.
    const block = new Uint8Array(16);
    block.set(a, 0);
    block.set(padded, 8);
    return blockCipher(kek, false)(block);
  }
  return wrapCore(kek, a, padded);
}

/** RFC 5649 unwrap; checks the alternative IV, the length indicator and that the padding is zero. */
export function aesKeyUnwrapPad(kek: Uint8Array, wrapped: Uint8Array): Uint8Array {
  checkSize(wrapped.length);
  if (wrapped.length < 16 || wrapped.length % 8 !== 0) throw unwrapFailed();
  let a: Uint8Array;
  let p: Uint8Array;
  if (wrapped.length === 16) {
    const b = blockCipher(kek, true)(wrapped);
    a = b.subarray(0, 8);
    p = new Uint8Array(b.subarray(8, 16));
  } else {
    const out = unwrapCore(kek, wrapped);
    a = out.a;
    p = out.r;
  }
  const prefixOk = timingSafeEqual(a.subarray(0, 4), KWP_IV_PREFIX);
  const mli = new DataView(a.buffer, a.byteOffset, 8).getUint32(4, false);
  const lengthOk = mli > p.length - 8 && mli <= p.length;
  let padOk = lengthOk;
  if (lengthOk) for (let k = mli; k < p.length; k++) if (p[k] !== 0) padOk = false;
  if (!prefixOk || !lengthOk || !padOk) {
    p.fill(0);
    throw unwrapFailed();
  }
  return p.slice(0, mli);
}
