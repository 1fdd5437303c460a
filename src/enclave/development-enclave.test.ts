import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { manualClock } from '../core/clock.js';
import { createDevelopmentRoot, pinDevelopmentRoot } from './development-ca.js';
import { DevelopmentAttester } from './development-attester.js';
import { DevelopmentEnclave } from './development-enclave.js';
import type { Enclave } from './enclave.js';
import { AttestationError } from './errors.js';
import { NonceBook } from './nonce-book.js';
import { verifyAttestation } from './verify-attestation.js';

const T0 = Date.UTC(2026, 10, 24);
const root = createDevelopmentRoot({ now: T0 - 86_400_000 });
const sealingKey = new Uint8Array(randomBytes(32));
const m1 = createHash('sha384').update('build 1').digest();
const m2 = createHash('sha384').update('build 2').digest();
const enc = new TextEncoder();

function enclaveFor(measurement: Uint8Array, key = sealingKey, clock = manualClock(T0)): Enclave {
  return new DevelopmentEnclave({ attester: new DevelopmentAttester({ ca: root, moduleId: 'node-1', measurement, clock }), sealingKey: key });
}

async function unsealCode(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof AttestationError) return err.code;
    throw err;
  }
  return 'accepted';
}

describe('DevelopmentEnclave', () => {
  it('attest(userData, publicKey, nonce) yields a document the verifier binds to those values', async () => {
    const e = enclaveFor(m1);
    const nonce = new Uint8Array(randomBytes(32));
    const pk = new Uint8Array(randomBytes(33));
    const doc = await e.attest(enc.encode('hi'), pk, nonce);
    const att = verifyAttestation(doc, { roots: [pinDevelopmentRoot(root)], at: T0, maxAgeMs: 1000, expectedNonce: nonce, expectedPublicKey: pk, expectedUserData: enc.encode('hi') });
    expect(Buffer.from(att.pcrs.get(0)!)).toEqual(m1);
    expect(e.runtime).toBe('development');
  });

  it('seals and unseals; the blob is bound to the aad, the measurement and the key', async () => {
    const e = enclaveFor(m1);
    const share = enc.encode('key share of node 1');
    const aad = enc.encode('share:wallet-7');
    const blob = await e.seal(share, aad);
    expect(blob.length).toBe(1 + 12 + share.length + 16);
    expect(Buffer.from(blob).includes(Buffer.from(share))).toBe(false);
    expect(await e.unseal(blob, aad)).toEqual(share);
    expect(await enclaveFor(m1).unseal(blob, aad)).toEqual(share); // same code, same key: a restarted node unseals
    expect(await unsealCode(e.unseal(blob, enc.encode('share:wallet-8')))).toBe('enclave_unseal');
    expect(await unsealCode(enclaveFor(m2).unseal(blob, aad))).toBe('enclave_unseal'); // other code, same key
    expect(await unsealCode(enclaveFor(m1, new Uint8Array(randomBytes(32))).unseal(blob, aad))).toBe('enclave_unseal');
  });

  it('refuses every tampered, truncated or re-versioned blob', async () => {
    const e = enclaveFor(m1);
    const aad = enc.encode('a');
    const blob = await e.seal(enc.encode('secret'), aad);
    for (let i = 0; i < blob.length; i++) {
      const bad = blob.slice();
      bad[i]! ^= 0x01;
      expect(await unsealCode(e.unseal(bad, aad)), `byte ${i}`).toBe('enclave_unseal');
    }
    for (const n of [0, 1, 28, blob.length - 1]) expect(await unsealCode(e.unseal(blob.subarray(0, n), aad))).toBe('enclave_unseal');
  });

  it('uses a fresh nonce per seal, and the error never contains key or plaintext material', async () => {
    const e = enclaveFor(m1);
    const a = await e.seal(enc.encode('same'), new Uint8Array());
    const b = await e.seal(enc.encode('same'), new Uint8Array());
    expect(Buffer.from(a)).not.toEqual(Buffer.from(b));
    try {
      await enclaveFor(m2).unseal(a, new Uint8Array());
      expect.unreachable();
    } catch (err) {
      const text = JSON.stringify({ ...(err as object), message: (err as Error).message, stack: (err as Error).stack });
      expect(text).not.toContain(Buffer.from(sealingKey).toString('hex'));
      expect(text).not.toContain(Buffer.from(sealingKey).toString('base64'));
      expect(text).not.toContain('same');
    }
    expect(() => enclaveFor(m1, new Uint8Array(16))).toThrow(TypeError);
  });

  it('refuses to seal or unseal before key release installed the sealing key', async () => {
    const e = new DevelopmentEnclave({ attester: new DevelopmentAttester({ ca: root, moduleId: 'n', measurement: m1, clock: manualClock(T0) }) });
    expect(await unsealCode(e.seal(enc.encode('x'), new Uint8Array()))).toBe('enclave_no_sealing_key');
    expect(await unsealCode(e.unseal(new Uint8Array(40), new Uint8Array()))).toBe('enclave_no_sealing_key');
    e.useSealingKey(sealingKey);
    const blob = await e.seal(enc.encode('x'), new Uint8Array());
    expect(await enclaveFor(m1).unseal(blob, new Uint8Array())).toEqual(enc.encode('x'));
  });
});

describe('NonceBook', () => {
  it('accepts an issued nonce once, refuses replays, strangers and expired nonces', () => {
    const clock = manualClock(T0);
    const book = new NonceBook({ clock, ttlMs: 1000 });
    const n = book.issue();
    expect(n.length).toBe(32);
    book.consume(n);
    expect(() => book.consume(n)).toThrow(expect.objectContaining({ code: 'attestation_nonce' }));
    expect(() => book.consume(new Uint8Array(32))).toThrow(expect.objectContaining({ code: 'attestation_nonce' }));
    const late = book.issue();
    clock.advance(1000);
    expect(() => book.consume(late)).toThrow(expect.objectContaining({ code: 'attestation_nonce' }));
  });

  it('bounds outstanding nonces and frees expired ones', () => {
    const clock = manualClock(T0);
    const book = new NonceBook({ clock, ttlMs: 1000, maxOutstanding: 3 });
    book.issue();
    book.issue();
    book.issue();
    expect(() => book.issue()).toThrow(expect.objectContaining({ code: 'attestation_nonce' }));
    clock.advance(1000);
    expect(book.issue().length).toBe(32);
  });

  it('a replayed document is refused even within its max age', async () => {
    const clock = manualClock(T0);
    const book = new NonceBook({ clock });
    const e = enclaveFor(m1, sealingKey, clock);
    const nonce = book.issue();
    const doc = await e.attest(undefined, enc.encode('pk'), nonce);
    const opts = { roots: [pinDevelopmentRoot(root)], at: T0, maxAgeMs: 60_000, expectedNonce: nonce };
    book.consume(verifyAttestation(doc, opts).nonce!);
    expect(() => book.consume(verifyAttestation(doc, opts).nonce!)).toThrow(expect.objectContaining({ code: 'attestation_nonce' }));
  });
});
