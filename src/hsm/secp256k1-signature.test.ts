import { secp256k1 } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { describe, expect, it } from 'vitest';
import { normaliseSecp256k1, verifySecp256k1Digest } from './secp256k1-signature.js';

const N = secp256k1.Point.CURVE().n;

describe('normaliseSecp256k1', () => {
  it('turns high-S signatures into low-S ones with the recovery id that recovers the key', () => {
    const sk = secp256k1.utils.randomSecretKey();
    const pub = secp256k1.getPublicKey(sk, false);
    let sawHigh = 0;
    const recoveries = new Set<number>();
    for (let i = 0; i < 16; i++) {
      const digest = sha256(new Uint8Array([i, 1]));
      const low = secp256k1.Signature.fromBytes(secp256k1.sign(digest, sk, { prehash: false, lowS: true }), 'compact');
      // What a token may return: either s or n - s.
      const raw = i % 2 === 0 ? low.toBytes('compact') : new secp256k1.Signature(low.r, N - low.s).toBytes('compact');
      if (i % 2 === 1) sawHigh++;
      const out = normaliseSecp256k1(raw, digest, pub);
      const sig = secp256k1.Signature.fromBytes(out.signature, 'compact');
      expect(sig.s).toBe(low.s);
      expect(sig.s <= N >> 1n).toBe(true);
      expect(sig.addRecoveryBit(out.recovery).recoverPublicKey(digest).equals(secp256k1.Point.fromBytes(pub))).toBe(true);
      expect(verifySecp256k1Digest(out.signature, digest, pub)).toBe(true);
      recoveries.add(out.recovery);
    }
    expect(sawHigh).toBe(8);
    expect(recoveries.size).toBe(2); // both parities occur over 16 signatures (probability of failure 2^-15)
  });

  it('refuses a signature for another digest, another key, or of the wrong length', () => {
    const sk = secp256k1.utils.randomSecretKey();
    const pub = secp256k1.getPublicKey(sk, false);
    const otherPub = secp256k1.getPublicKey(secp256k1.utils.randomSecretKey(), false);
    const digest = sha256(new Uint8Array([9]));
    const raw = secp256k1.sign(digest, sk, { prehash: false });
    expect(() => normaliseSecp256k1(raw, sha256(new Uint8Array([8])), pub)).toThrow(expect.objectContaining({ code: 'hsm_signature_invalid' }));
    expect(() => normaliseSecp256k1(raw, digest, otherPub)).toThrow(expect.objectContaining({ code: 'hsm_signature_invalid' }));
    expect(() => normaliseSecp256k1(raw.subarray(0, 63), digest, pub)).toThrow(expect.objectContaining({ code: 'hsm_signature_invalid' }));
    expect(() => normaliseSecp256k1(new Uint8Array(64), digest, pub)).toThrow(expect.objectContaining({ code: 'hsm_signature_invalid' }));
    expect(() => normaliseSecp256k1(new Uint8Array(64).fill(0xff), digest, pub)).toThrow(expect.objectContaining({ code: 'hsm_signature_invalid' }));
    expect(verifySecp256k1Digest(new Uint8Array(64), digest, pub)).toBe(false);
  });

  it('agrees with noble\'s own recoverable signatures, including digests above the group order', () => {
    const sk = secp256k1.utils.randomSecretKey();
    const pub = secp256k1.getPublicKey(sk, true);
    const digests = [new Uint8Array(32).fill(0xff), new Uint8Array(32), ...Array.from({ length: 10 }, (_, i) => sha256(new Uint8Array([i, 7])))];
    for (const digest of digests) {
      const rec = secp256k1.sign(digest, sk, { prehash: false, format: 'recovered' });
      const out = normaliseSecp256k1(rec.subarray(1), digest, pub);
      expect(out.recovery).toBe(rec[0]);
      expect(Buffer.from(out.signature).equals(Buffer.from(rec.subarray(1)))).toBe(true);
    }
  });

  it('refuses random (r, s) pairs', () => {
    const pub = secp256k1.getPublicKey(secp256k1.utils.randomSecretKey(), false);
    const digest = sha256(new Uint8Array([1]));
    for (let i = 0; i < 20; i++) {
      const raw = sha256(new Uint8Array([i, 2, 3])).slice();
      const raw2 = new Uint8Array(64);
      raw2.set(raw, 0);
      raw2.set(sha256(raw), 32);
      expect(() => normaliseSecp256k1(raw2, digest, pub)).toThrow(expect.objectContaining({ code: 'hsm_signature_invalid' }));
    }
  });
});
