import { readFileSync } from 'node:fs';
import { Aes128Gcm, CipherSuite, DhkemX25519HkdfSha256, HkdfSha256 } from '@hpke/core';
import { describe, expect, it } from 'vitest';
import { CustosError } from '../core/errors.js';
import { generateEphemeralKeyPair, openReleasedKey, releaseTranscript, sealToAttestedKey } from './key-release-hpke.js';

const v = JSON.parse(readFileSync(new URL('./testdata/hpke-rfc9180-a1.json', import.meta.url), 'utf8')) as Record<string, string>;
const hex = (s: string) => new Uint8Array(Buffer.from(s, 'hex'));
const ab = (s: string) => hex(s).slice().buffer;

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return err instanceof CustosError ? err.code : String(err);
  }
  return 'no error';
}

describe('HPKE for key release', () => {
  it('@hpke/core reproduces RFC 9180 A.1.1 (same KEM and KDF as the key-release suite)', async () => {
    const suite = new CipherSuite({ kem: new DhkemX25519HkdfSha256(), kdf: new HkdfSha256(), aead: new Aes128Gcm() });
    const recipient = await suite.kem.deriveKeyPair(ab(v.ikmR!));
    expect(Buffer.from(await suite.kem.serializePublicKey(recipient.publicKey)).toString('hex')).toBe(v.pkRm);
    const sender = await suite.createSenderContext({ recipientPublicKey: recipient.publicKey, info: ab(v.info!), ekm: ab(v.ikmE!) });
    expect(Buffer.from(sender.enc).toString('hex')).toBe(v.enc);
    expect(Buffer.from(await sender.seal(ab(v.pt!), ab(v.aad!))).toString('hex')).toBe(v.ct);
    const opened = await (await suite.createRecipientContext({ recipientKey: recipient, enc: ab(v.enc!), info: ab(v.info!) })).open(ab(v.ct!), ab(v.aad!));
    expect(Buffer.from(opened).toString('hex')).toBe(v.pt);
  });

  it('opens only with the right key, enc, ciphertext and transcript', async () => {
    const eph = await generateEphemeralKeyPair();
    const other = await generateEphemeralKeyPair();
    const secret = new Uint8Array(32).fill(0x5a);
    const aad = releaseTranscript('node-1', new Uint8Array([1, 2, 3]));
    const { enc, ciphertext } = await sealToAttestedKey(eph.publicKey, secret, aad);
    expect(await openReleasedKey(eph, enc, ciphertext, aad)).toEqual(secret);
    expect(await code(openReleasedKey(other, enc, ciphertext, aad))).toBe('key_release_response');
    expect(await code(openReleasedKey(eph, enc, ciphertext, releaseTranscript('node-2', new Uint8Array([1, 2, 3]))))).toBe('key_release_response');
    expect(await code(openReleasedKey(eph, enc, ciphertext, releaseTranscript('node-1', new Uint8Array([1, 2, 4]))))).toBe('key_release_response');
    const flipped = Uint8Array.from(ciphertext);
    flipped[0]! ^= 1;
    expect(await code(openReleasedKey(eph, enc, flipped, aad))).toBe('key_release_response');
    const badEnc = Uint8Array.from(enc);
    badEnc[3]! ^= 1;
    expect(await code(openReleasedKey(eph, badEnc, ciphertext, aad))).toBe('key_release_response');
    expect(Buffer.from(ciphertext).includes(Buffer.from(secret))).toBe(false);
  });

  it('refuses to encrypt to a low-order X25519 point (all-zero shared secret) or a short key', async () => {
    expect(await code(sealToAttestedKey(new Uint8Array(32), new Uint8Array(32), new Uint8Array()))).toBe('key_release_invalid_request');
    const one = new Uint8Array(32);
    one[0] = 1;
    expect(await code(sealToAttestedKey(one, new Uint8Array(32), new Uint8Array()))).toBe('key_release_invalid_request');
    expect(await code(sealToAttestedKey(new Uint8Array(31), new Uint8Array(32), new Uint8Array()))).toBe('key_release_invalid_request');
  });
});
