import { createCipheriv, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { aesKeyUnwrap, aesKeyUnwrapPad, aesKeyWrap, aesKeyWrapPad } from './aes-kw.js';

interface Vector { section: string; kek: string; key: string; wrapped: string }
const vectors = JSON.parse(readFileSync(new URL('./testdata/aes-kw-vectors.json', import.meta.url), 'utf8')) as {
  rfc3394: Vector[];
  rfc5649: Vector[];
};
const hex = (s: string) => new Uint8Array(Buffer.from(s, 'hex'));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex').toUpperCase();

/** OpenSSL's own implementation, an independent reference for random inputs. */
function opensslWrap(kek: Uint8Array, key: Uint8Array, pad: boolean): Uint8Array {
  const name = `id-aes${kek.length * 8}-wrap${pad ? '-pad' : ''}`;
  const iv = pad ? Buffer.from('A65959A6', 'hex') : Buffer.from('A6A6A6A6A6A6A6A6', 'hex');
  const c = createCipheriv(name, kek, iv);
  return new Uint8Array(Buffer.concat([c.update(key), c.final()]));
}

describe('AES key wrap (RFC 3394)', () => {
  it.each(vectors.rfc3394)('matches RFC 3394 §$section', (v) => {
    expect(toHex(aesKeyWrap(hex(v.kek), hex(v.key)))).toBe(v.wrapped);
    expect(toHex(aesKeyUnwrap(hex(v.kek), hex(v.wrapped)))).toBe(v.key);
  });

  it('agrees with OpenSSL on random keys and round-trips', () => {
    for (const kekLen of [16, 24, 32]) {
      for (const keyLen of [16, 24, 32, 64]) {
        const kek = new Uint8Array(randomBytes(kekLen));
        const key = new Uint8Array(randomBytes(keyLen));
        const w = aesKeyWrap(kek, key);
        expect(toHex(w)).toBe(toHex(opensslWrap(kek, key, false)));
        expect(toHex(aesKeyUnwrap(kek, w))).toBe(toHex(key));
      }
    }
  });

  it('refuses a tampered blob, a wrong KEK, a truncated blob and an unaligned key', () => {
    const v = vectors.rfc3394[0] as Vector;
    const w = hex(v.wrapped);
    for (let i = 0; i < w.length; i++) {
      const t = new Uint8Array(w);
      t[i] = (t[i] as number) ^ 0x01;
      expect(() => aesKeyUnwrap(hex(v.kek), t)).toThrow(expect.objectContaining({ code: 'hsm_unwrap_failed' }));
    }
    expect(() => aesKeyUnwrap(new Uint8Array(16), w)).toThrow(expect.objectContaining({ code: 'hsm_unwrap_failed' }));
    expect(() => aesKeyUnwrap(hex(v.kek), w.subarray(0, 16))).toThrow(expect.objectContaining({ code: 'hsm_unwrap_failed' }));
    expect(() => aesKeyUnwrap(hex(v.kek), w.subarray(0, 23))).toThrow(expect.objectContaining({ code: 'hsm_unwrap_failed' }));
    expect(() => aesKeyWrap(hex(v.kek), new Uint8Array(20))).toThrow(expect.objectContaining({ code: 'hsm_invalid_input' }));
    expect(() => aesKeyWrap(new Uint8Array(20), new Uint8Array(16))).toThrow(expect.objectContaining({ code: 'hsm_invalid_input' }));
    expect(() => aesKeyWrap(hex(v.kek), new Uint8Array(1024 * 1024))).toThrow(expect.objectContaining({ code: 'hsm_invalid_input' }));
  });
});

describe('AES key wrap with padding (RFC 5649)', () => {
  it.each(vectors.rfc5649)('matches RFC 5649 §$section', (v) => {
    expect(toHex(aesKeyWrapPad(hex(v.kek), hex(v.key)))).toBe(v.wrapped);
    expect(toHex(aesKeyUnwrapPad(hex(v.kek), hex(v.wrapped)))).toBe(v.key);
  });

  it('agrees with OpenSSL for every length from 1 to 40 bytes', () => {
    const kek = new Uint8Array(randomBytes(32));
    for (let len = 1; len <= 40; len++) {
      const key = new Uint8Array(randomBytes(len));
      const w = aesKeyWrapPad(kek, key);
      expect(toHex(w)).toBe(toHex(opensslWrap(kek, key, true)));
      expect(toHex(aesKeyUnwrapPad(kek, w))).toBe(toHex(key));
    }
  });

  it('refuses tampering, a KW blob, a forged length and non-zero padding', () => {
    const kek = new Uint8Array(randomBytes(32));
    for (const len of [7, 20]) {
      const w = aesKeyWrapPad(kek, new Uint8Array(randomBytes(len)));
      for (let i = 0; i < w.length; i++) {
        const t = new Uint8Array(w);
        t[i] = (t[i] as number) ^ 0x80;
        expect(() => aesKeyUnwrapPad(kek, t)).toThrow(expect.objectContaining({ code: 'hsm_unwrap_failed' }));
      }
    }
    // A plain RFC 3394 blob does not carry the RFC 5649 IV.
    expect(() => aesKeyUnwrapPad(kek, aesKeyWrap(kek, new Uint8Array(16)))).toThrow(expect.objectContaining({ code: 'hsm_unwrap_failed' }));
    // Hand-built blobs with a valid IV prefix but a lying length or non-zero padding bytes.
    const forge = (mli: number, data: Uint8Array) => {
      const a = new Uint8Array(8);
      a.set([0xa6, 0x59, 0x59, 0xa6]);
      new DataView(a.buffer).setUint32(4, mli);
      const c = createCipheriv('aes-256-ecb', kek, null);
      c.setAutoPadding(false);
      return new Uint8Array(c.update(Buffer.concat([a, data])));
    };
    expect(toHex(aesKeyUnwrapPad(kek, forge(7, hex('01020304050607' + '00'))))).toBe('01020304050607');
    expect(() => aesKeyUnwrapPad(kek, forge(7, hex('0102030405060709')))).toThrow(expect.objectContaining({ code: 'hsm_unwrap_failed' }));
    expect(() => aesKeyUnwrapPad(kek, forge(9, hex('0102030405060708')))).toThrow(expect.objectContaining({ code: 'hsm_unwrap_failed' }));
    expect(() => aesKeyUnwrapPad(kek, forge(0, hex('0000000000000000')))).toThrow(expect.objectContaining({ code: 'hsm_unwrap_failed' }));
    expect(() => aesKeyWrapPad(kek, new Uint8Array(0))).toThrow(expect.objectContaining({ code: 'hsm_invalid_input' }));
  });
});
