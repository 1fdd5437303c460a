import { randomBytes } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex, concatBytes, hexToBytes } from '@noble/hashes/utils.js';
import { describe, expect, it } from 'vitest';
import type { Message } from '../protocols/round.js';
import { openEnvelope, parseEnvelope, sealEnvelope, type Envelope } from './envelope.js';
import { directoryOf, generateIdentity, publicIdentity } from './identity.js';
import { thrownCode as code } from '../../core/test-helpers/thrown-code.js';

const rng = (n: number) => new Uint8Array(randomBytes(n));
const a = generateIdentity('node-a', rng);
const b = generateIdentity('node-b', rng);
const c = generateIdentity('node-c', rng);
const directory = directoryOf([a, b, c].map(publicIdentity));
const session = 'aa'.repeat(32);
const secret = hexToBytes('5ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2');
const p2p: Message = { session, from: 'node-a', to: 'node-b', round: 2, payload: secret };
const expect2 = { protocol: 'frost-dkg', session, round: 2 };

function flipHex(h: string, at = 0): string {
  const x = hexToBytes(h);
  x[at] = (x[at] as number) ^ 1;
  return bytesToHex(x);
}

describe('sealEnvelope / openEnvelope', () => {
  it('delivers a peer-to-peer payload only to its recipient, encrypted on the wire', () => {
    const env = sealEnvelope(p2p, { protocol: 'frost-dkg', sender: a, directory, rng });
    expect(JSON.stringify(env)).not.toContain(bytesToHex(secret));
    const got = openEnvelope(JSON.parse(JSON.stringify(env)), { self: b, directory, expect: expect2 });
    expect(bytesToHex(got.payload)).toBe(bytesToHex(secret));
    expect(got).toMatchObject({ from: 'node-a', to: 'node-b', round: 2, session });
    // two seals of the same message use different ephemeral keys and ciphertexts
    const again = sealEnvelope(p2p, { protocol: 'frost-dkg', sender: a, directory, rng });
    expect(again.ciphertext).not.toBe(env.ciphertext);
  });

  it('delivers a broadcast to everybody, signed', () => {
    const m: Message = { session, from: 'node-a', to: null, round: 1, payload: Uint8Array.of(1, 2, 3) };
    const env = sealEnvelope(m, { protocol: 'frost-sign', sender: a, directory, rng });
    for (const self of [b, c]) {
      expect([...openEnvelope(env, { self, directory, expect: { ...expect2, protocol: 'frost-sign', round: 1 } }).payload]).toEqual([1, 2, 3]);
    }
    const tampered = { ...env, payload: '010204' };
    expect(() => openEnvelope(tampered, { self: b, directory, expect: { ...expect2, protocol: 'frost-sign', round: 1 } })).toThrow(/no valid signature/);
  });

  const env = sealEnvelope(p2p, { protocol: 'frost-dkg', sender: a, directory, rng });
  const open = (e: unknown, self = b, exp = expect2) => () => openEnvelope(e, { self, directory, expect: exp });

  it('refuses a tampered ciphertext, ephemeral key or signature', () => {
    expect(code(open({ ...env, ciphertext: flipHex(env.ciphertext as string) }))).toBe('envelope_bad_signature');
    expect(code(open({ ...env, ciphertext: flipHex(env.ciphertext as string, 40) }))).toBe('envelope_bad_signature');
    expect(code(open({ ...env, epk: flipHex(env.epk as string) }))).toBe('envelope_bad_signature');
    expect(code(open({ ...env, signature: flipHex(env.signature) }))).toBe('envelope_bad_signature');
  });

  it('refuses a ciphertext re-signed by another node: the signature binds the sender, decryption binds the header', () => {
    // node-c (a legitimate peer) takes a's ciphertext and re-signs it as its own: the AEAD context names
    // the original sender, so b cannot decrypt it.
    const forged: Envelope = { ...env, from: 'node-c' };
    const resigned = sealLike(forged, c);
    expect(code(open(resigned))).toBe('envelope_decryption_failed');
  });

  it('refuses the wrong recipient, even one who holds a valid identity', () => {
    expect(code(open(env, c))).toBe('envelope_wrong_recipient');
    // the relay rewrites `to`: the signature no longer matches
    expect(code(open({ ...env, to: 'node-c' }, c))).toBe('envelope_bad_signature');
  });

  it('refuses replay into another session, round or protocol', () => {
    const other = 'bb'.repeat(32);
    expect(code(open(env, b, { ...expect2, session: other }))).toBe('envelope_wrong_session');
    expect(code(open(env, b, { ...expect2, round: 3 }))).toBe('envelope_wrong_round');
    expect(code(open(env, b, { ...expect2, protocol: 'frost-refresh' }))).toBe('envelope_wrong_protocol');
    // relabelled to match the new session / round / protocol: the signature breaks
    expect(code(open({ ...env, session: other }, b, { ...expect2, session: other }))).toBe('envelope_bad_signature');
    expect(code(open({ ...env, round: 3 }, b, { ...expect2, round: 3 }))).toBe('envelope_bad_signature');
    expect(code(open({ ...env, protocol: 'frost-refresh' }, b, { ...expect2, protocol: 'frost-refresh' }))).toBe('envelope_bad_signature');
  });

  it('refuses a forged sender: unknown ids, a relay signing with its own key, a claim to be the receiver', () => {
    const relay = generateIdentity('node-a', rng); // same id, key not pinned
    const forged = sealEnvelope(p2p, { protocol: 'frost-dkg', sender: relay, directory, rng });
    expect(code(open(forged))).toBe('envelope_bad_signature');
    const stranger = generateIdentity('node-x', rng);
    const s = sealEnvelope({ ...p2p, from: 'node-x' }, { protocol: 'frost-dkg', sender: stranger, directory, rng });
    expect(code(open(s))).toBe('envelope_unknown_sender');
    const self = sealEnvelope({ ...p2p, from: 'node-b', to: 'node-a' }, { protocol: 'frost-dkg', sender: b, directory, rng });
    expect(code(open({ ...self, to: 'node-b' }))).toBe('envelope_wrong_sender');
    expect(() => sealEnvelope(p2p, { protocol: 'frost-dkg', sender: b, directory, rng })).toThrow(/own messages/);
  });

  it('refuses malformed and oversized envelopes without echoing their content', () => {
    for (const bad of [null, 42, 'x', {}, { ...env, v: 2 }, { ...env, round: -1 }, { ...env, round: 1.5 }, { ...env, session: 'zz' },
      { ...env, signature: 'ab' }, { ...env, epk: undefined }, { ...env, payload: '00' }, { ...env, ciphertext: 'abc' },
      { ...env, ciphertext: '00'.repeat(300 * 1024) }, { ...env, to: null }]) {
      expect(code(open(bad))).toBe('envelope_malformed');
    }
    expect(() => parseEnvelope({ ...env, from: 'x'.repeat(65) })).toThrow(/malformed/);
    // errors never carry the plaintext
    try {
      openEnvelope({ ...env, ciphertext: flipHex(env.ciphertext as string) }, { self: b, directory, expect: expect2 });
    } catch (err) {
      expect(JSON.stringify({ m: (err as Error).message, e: err })).not.toContain(bytesToHex(secret));
    }
  });

  it('refuses a low-order ephemeral key (all-zero shared secret) even when signed', () => {
    const zero = sealLike({ ...env, epk: '00'.repeat(32) }, a);
    expect(code(open(zero))).toBe('envelope_bad_key');
  });
});

/** Re-signs an envelope's (possibly altered) fields with `who`'s key, as a malicious peer would (own copy of the format). */
function sealLike(e: Envelope, who: typeof a): Envelope {
  const bytes = signedBytesForTest(e);
  return { ...e, signature: bytesToHex(ed25519.sign(bytes, who.signingSecret)) };
}

function signedBytesForTest(e: Omit<Envelope, 'signature' | 'v'>): Uint8Array {
  const te = new TextEncoder();
  const field = (x: Uint8Array) => {
    const o = new Uint8Array(4 + x.length);
    new DataView(o.buffer).setUint32(0, x.length, false);
    o.set(x, 4);
    return o;
  };
  const round = new Uint8Array(4);
  new DataView(round.buffer).setUint32(0, e.round, false);
  const hdr = concatBytes(field(te.encode(e.protocol)), field(te.encode(e.session)), round, field(te.encode(e.from)),
    Uint8Array.of(e.to === null ? 0 : 1), field(te.encode(e.to ?? '')));
  const body = e.to === null ? concatBytes(Uint8Array.of(0), field(hexToBytes(e.payload ?? '')))
    : concatBytes(Uint8Array.of(1), field(hexToBytes(e.epk ?? '')), field(hexToBytes(e.ciphertext ?? '')));
  return concatBytes(te.encode('custos/mpc/envelope/v1/signature'), hdr, body);
}
