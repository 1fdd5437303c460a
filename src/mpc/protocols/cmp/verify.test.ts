import { randomBytes } from 'node:crypto';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { describe, expect, it } from 'vitest';
import { verifyDigestSignature } from './verify.js';

const N = secp256k1.Point.CURVE().n;
const noble = (sig: Uint8Array, d: Uint8Array, pk: Uint8Array): boolean => {
  try {
    return secp256k1.verify(sig, d, pk, { prehash: false, lowS: true });
  } catch {
    return false;
  }
};
const be32 = (x: bigint): Uint8Array => Uint8Array.from(Buffer.from(x.toString(16).padStart(64, '0'), 'hex'));
const compact = (r: bigint, s: bigint): Uint8Array => Uint8Array.from([...be32(r), ...be32(s)]);

describe('verifyDigestSignature (libsecp256k1) agrees with @noble/curves', () => {
  it('on valid signatures, and on every single-bit change of signature, digest or key', () => {
    for (let i = 0; i < 20; i++) {
      const sk = secp256k1.utils.randomSecretKey();
      const pk = secp256k1.getPublicKey(sk, i % 2 === 0);
      const digest = new Uint8Array(randomBytes(32));
      const sig = secp256k1.sign(digest, sk, { prehash: false });
      expect(verifyDigestSignature(sig, digest, pk)).toBe(true);
      expect(noble(sig, digest, pk)).toBe(true);
      // any bit, the key's prefix included (0x04 can become 0x06/0x07, the hybrid encoding, refused)
      const bit = (b: Uint8Array): Uint8Array => {
        const c = Uint8Array.from(b);
        const at = Number(randomBytes(2).readUInt16BE() % (c.length * 8));
        c[at >> 3] = (c[at >> 3] as number) ^ (1 << (at & 7));
        return c;
      };
      for (const [s, d, k] of [[bit(sig), digest, pk], [sig, bit(digest), pk], [sig, digest, bit(pk)]] as const) {
        expect(verifyDigestSignature(s, d, k)).toBe(noble(s, d, k));
        expect(verifyDigestSignature(s, d, k)).toBe(false);
      }
    }
  });

  it('refuses a hybrid (06/07) encoding of the right key, which libsecp256k1 itself would parse, as noble does', () => {
    const sk = secp256k1.utils.randomSecretKey();
    const pk = secp256k1.getPublicKey(sk, false);
    const digest = new Uint8Array(randomBytes(32));
    const sig = secp256k1.sign(digest, sk, { prehash: false });
    expect(verifyDigestSignature(sig, digest, pk)).toBe(true);
    const hybrid = Uint8Array.from(pk);
    hybrid[0] = 6 | ((pk[64] as number) & 1);
    expect(noble(sig, digest, hybrid)).toBe(false);
    expect(verifyDigestSignature(sig, digest, hybrid)).toBe(false);
  });

  it('refuses the high-S twin of a valid signature (malleability), as noble with lowS does', () => {
    const sk = secp256k1.utils.randomSecretKey();
    const pk = secp256k1.getPublicKey(sk);
    const digest = new Uint8Array(randomBytes(32));
    const sig = secp256k1.Signature.fromBytes(secp256k1.sign(digest, sk, { prehash: false }), 'compact');
    const high = compact(sig.r, N - sig.s);
    expect(noble(high, digest, pk)).toBe(false);
    expect(verifyDigestSignature(high, digest, pk)).toBe(false);
  });

  it('refuses r or s of zero or ≥ n, a point off the curve, and wrong lengths, without throwing', () => {
    const sk = secp256k1.utils.randomSecretKey();
    const pk = secp256k1.getPublicKey(sk);
    const digest = new Uint8Array(randomBytes(32));
    const sig = secp256k1.Signature.fromBytes(secp256k1.sign(digest, sk, { prehash: false }), 'compact');
    for (const bad of [compact(0n, sig.s), compact(sig.r, 0n), compact(sig.r + N, sig.s), compact(N, sig.s), compact(sig.r, N), new Uint8Array(64)]) {
      expect(verifyDigestSignature(bad, digest, pk)).toBe(false);
    }
    const offCurve = Uint8Array.from(pk);
    offCurve[0] = 0x02;
    offCurve.set(be32(7n), 1); // x = 7: y² = 350 has no square root mod p
    expect(noble(sig.toBytes('compact'), digest, offCurve)).toBe(false);
    expect(verifyDigestSignature(sig.toBytes('compact'), digest, offCurve)).toBe(false);
    expect(verifyDigestSignature(sig.toBytes('compact').subarray(0, 63), digest, pk)).toBe(false);
    expect(verifyDigestSignature(sig.toBytes('compact'), digest.subarray(0, 31), pk)).toBe(false);
    expect(verifyDigestSignature(sig.toBytes('compact'), digest, pk.subarray(0, 32))).toBe(false);
  });

  it('handles a digest ≥ n (reduced mod n, as ECDSA prescribes)', () => {
    const sk = secp256k1.utils.randomSecretKey();
    const pk = secp256k1.getPublicKey(sk);
    const digest = be32(N + 5n);
    const sig = secp256k1.sign(digest, sk, { prehash: false });
    expect(noble(sig, digest, pk)).toBe(true);
    expect(verifyDigestSignature(sig, digest, pk)).toBe(true);
    expect(verifyDigestSignature(sig, be32(5n), pk)).toBe(true); // the same scalar
  });
});
