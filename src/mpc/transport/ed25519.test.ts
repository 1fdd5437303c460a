import { randomBytes } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { describe, expect, it } from 'vitest';
import { edSign, edVerify } from './ed25519.js';

describe('edSign / edVerify (OpenSSL)', () => {
  it('produces RFC 8032 signatures identical to @noble/curves and verifies only the right ones', () => {
    for (let i = 0; i < 5; i++) {
      const seed = new Uint8Array(randomBytes(32));
      const msg = new Uint8Array(randomBytes(i * 37));
      const pub = bytesToHex(ed25519.getPublicKey(seed));
      const sig = edSign(seed, msg);
      expect(bytesToHex(sig)).toBe(bytesToHex(ed25519.sign(msg, seed)));
      expect(edVerify(sig, msg, pub)).toBe(true);
      const bad = Uint8Array.from(sig);
      bad[i] = (bad[i] as number) ^ 1;
      expect(edVerify(bad, msg, pub)).toBe(false);
      expect(edVerify(sig, Uint8Array.of(...msg, 0), pub)).toBe(false);
    }
  });

  it('returns false for malformed keys and signatures instead of throwing', () => {
    const seed = new Uint8Array(randomBytes(32));
    const sig = edSign(seed, Uint8Array.of(1));
    expect(edVerify(sig.subarray(1), Uint8Array.of(1), bytesToHex(ed25519.getPublicKey(seed)))).toBe(false);
    expect(edVerify(sig, Uint8Array.of(1), 'zz')).toBe(false);
    expect(edVerify(sig, Uint8Array.of(1), '00'.repeat(31))).toBe(false);
  });
});
