import { describe, expect, it } from 'vitest';
import { createPublicKey, verify as nodeVerify } from 'node:crypto';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { Presignature } from './presignature.js';
import { runAuxRefresh, runKeygen } from './testdata/setup.js';
import { runPresign, runSign } from './testdata/sign-setup.js';
import type { Point } from './group.js';
import type { EcdsaSignature } from './sign.js';

function nodeVerifies(pk: Point, message: Uint8Array, sig: EcdsaSignature): boolean {
  const a = pk.toAffine();
  const b64 = (x: bigint) => Buffer.from(x.toString(16).padStart(64, '0'), 'hex').toString('base64url');
  const key = createPublicKey({ key: { kty: 'EC', crv: 'secp256k1', x: b64(a.x), y: b64(a.y) }, format: 'jwk' });
  return nodeVerify('sha256', message, { key, dsaEncoding: 'ieee-p1363' }, sig.compact);
}

describe('CMP presign + sign (2-of-3)', () => {
  const ids = ['a', 'b', 'c'];
  const shares = runAuxRefresh(runKeygen(2, ids), 2);
  const pk = shares.get('a')!.publicKey;

  it('signs with a 2-party subset; noble and OpenSSL verify; low-S; recovery id recovers the key', () => {
    const message = new TextEncoder().encode('withdrawal 42: 1.5 BTC to bc1q...');
    const digest = sha256(message);
    const presigs = runPresign(shares, ['a', 'c']);
    const sigs = runSign(presigs, digest);
    const sig = sigs.get('a')!;
    expect(sigs.get('c')!.compact).toEqual(sig.compact);
    expect(sig.s <= secp256k1.Point.Fn.ORDER / 2n).toBe(true);
    expect(secp256k1.verify(sig.compact, digest, pk.toBytes(true), { prehash: false })).toBe(true);
    expect(nodeVerifies(pk, message, sig)).toBe(true);
    const recovered = secp256k1.Signature.fromBytes(sig.compact, 'compact').addRecoveryBit(sig.recovery).recoverPublicKey(digest);
    expect(recovered.equals(pk)).toBe(true);
    // a different message does not verify under this signature
    expect(secp256k1.verify(sig.compact, sha256(new Uint8Array([1])), pk.toBytes(true), { prehash: false })).toBe(false);
  });

  it('a presignature is single-use: a second signature is refused, also after a serialisation round trip', () => {
    const presigs = runPresign(shares, ['a', 'b']);
    runSign(presigs, sha256(new Uint8Array([1])));
    expect(() => runSign(presigs, sha256(new Uint8Array([2])))).toThrow(/already used/);
    const stored = Presignature.fromJson(JSON.parse(JSON.stringify(presigs.get('a')!.toJson())));
    expect(stored.spent).toBe(true);
    expect(() => stored.consume()).toThrow(/already used/);
    expect(JSON.stringify(presigs.get('a')!.toJson())).not.toMatch(/"k":"/);
  });
});
