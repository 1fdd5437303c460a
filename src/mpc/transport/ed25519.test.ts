import { randomBytes } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { describe, expect, it } from 'vitest';
import { ed25519Backend, ed25519Backends, edSign, edVerify } from './ed25519.js';

// RFC 8032 section 7.1, TEST 1, TEST 2 and TEST 3 (secret key, public key, message, signature).
const RFC8032 = [
  ['9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60', 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a', '',
    'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b'],
  ['4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb', '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c', '72',
    '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00'],
  ['c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7', 'fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025', 'af82',
    '6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a'],
] as const;

// The order L of the prime-order subgroup, little-endian: S ≥ L is not canonical (RFC 8032 5.1.7).
const L = 2n ** 252n + 27742317777372353535851937790883648493n;
const le = (n: bigint) => Uint8Array.from({ length: 32 }, (_, i) => Number((n >> BigInt(8 * i)) & 0xffn));
const fromLe = (b: Uint8Array) => b.reduceRight((acc, x) => (acc << 8n) | BigInt(x), 0n);

if (ed25519Backends.length < 2) console.warn('sodium-native is not installed: only the OpenSSL Ed25519 backend is tested');

describe.each(ed25519Backends.map((b) => [b.name, b] as const))('Ed25519 backend %s', (_name, b) => {
  it('signs and verifies the RFC 8032 vectors', () => {
    for (const [sk, pk, msg, sig] of RFC8032) {
      expect(bytesToHex(b.sign(hexToBytes(sk), hexToBytes(msg)))).toBe(sig);
      expect(b.verify(hexToBytes(sig), hexToBytes(msg), pk)).toBe(true);
    }
  });

  it('produces signatures identical to @noble/curves and verifies only the right ones', () => {
    for (let i = 0; i < 8; i++) {
      const seed = new Uint8Array(randomBytes(32));
      const msg = new Uint8Array(randomBytes(i * 37));
      const pub = bytesToHex(ed25519.getPublicKey(seed));
      const sig = b.sign(seed, msg);
      expect(bytesToHex(sig)).toBe(bytesToHex(ed25519.sign(msg, seed)));
      expect(b.verify(sig, msg, pub)).toBe(true);
      const bad = Uint8Array.from(sig);
      bad[i] = (bad[i] as number) ^ 1;
      expect(b.verify(bad, msg, pub)).toBe(false);
      expect(b.verify(sig, Uint8Array.of(...msg, 0), pub)).toBe(false);
      expect(b.verify(sig, msg, bytesToHex(ed25519.getPublicKey(new Uint8Array(randomBytes(32)))))).toBe(false);
    }
  });

  it('verifies a message and a signature that are views into larger buffers', () => {
    const seed = new Uint8Array(randomBytes(32));
    const big = new Uint8Array(randomBytes(200));
    const msg = big.subarray(17, 150);
    const sigBuf = new Uint8Array(100);
    sigBuf.set(b.sign(seed, msg), 9);
    expect(b.verify(sigBuf.subarray(9, 73), msg, bytesToHex(ed25519.getPublicKey(seed)))).toBe(true);
  });

  it('refuses a non-canonical S (S + L), which verifies the same equation', () => {
    const [sk, pk, msg] = RFC8032[1];
    const sig = b.sign(hexToBytes(sk), hexToBytes(msg));
    const s = fromLe(sig.subarray(32));
    const malleated = Uint8Array.of(...sig.subarray(0, 32), ...le(s + L));
    expect(b.verify(malleated, hexToBytes(msg), pk)).toBe(false);
  });

  it('returns false for malformed keys and signatures instead of throwing', () => {
    const seed = new Uint8Array(randomBytes(32));
    const sig = b.sign(seed, Uint8Array.of(1));
    const pub = bytesToHex(ed25519.getPublicKey(seed));
    expect(b.verify(sig.subarray(1), Uint8Array.of(1), pub)).toBe(false);
    expect(b.verify(new Uint8Array(65), Uint8Array.of(1), pub)).toBe(false);
    expect(b.verify(sig, Uint8Array.of(1), 'zz')).toBe(false);
    expect(b.verify(sig, Uint8Array.of(1), '00'.repeat(31))).toBe(false);
    expect(b.verify(sig, Uint8Array.of(1), pub.toUpperCase())).toBe(false);
    expect(b.verify(sig, Uint8Array.of(1), 'ff'.repeat(32))).toBe(false); // not a point encoding
  });
});

describe('edSign / edVerify', () => {
  it('use the preferred backend (libsodium where installed)', () => {
    expect(ed25519Backend).toBe(process.env.CUSTOS_ED25519 === 'openssl' ? ed25519Backends.at(-1) : ed25519Backends[0]);
    const seed = new Uint8Array(randomBytes(32));
    expect(edVerify(edSign(seed, Uint8Array.of(5)), Uint8Array.of(5), bytesToHex(ed25519.getPublicKey(seed)))).toBe(true);
  });

  it.skipIf(ed25519Backends.length < 2)('both backends agree on 300 random valid, tampered and cross-key cases (needs sodium-native)', () => {
    const [a, b] = ed25519Backends as [typeof ed25519Backend, typeof ed25519Backend];
    for (let i = 0; i < 300; i++) {
      const seed = new Uint8Array(randomBytes(32));
      const msg = new Uint8Array(randomBytes(i % 97));
      const pub = bytesToHex(ed25519.getPublicKey(seed));
      const sig = a.sign(seed, msg);
      expect(bytesToHex(b.sign(seed, msg))).toBe(bytesToHex(sig));
      const tampered = Uint8Array.from(sig);
      tampered[i % 64] = (tampered[i % 64] as number) ^ (1 << (i % 8));
      for (const [s, m] of [[sig, msg], [tampered, msg], [sig, Uint8Array.of(...msg, 1)]] as const) {
        expect(a.verify(s, m, pub)).toBe(b.verify(s, m, pub));
      }
    }
  });
});
