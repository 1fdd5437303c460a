/**
 * The coordinator's combination of relayed σ shares (CGGMP21 online signing), with real shares:
 * a valid combination is returned; a wrong share from its real sender gives null and is named by
 * `sigmaCulprits`; a wrong share in an envelope forged in another signer's name is refused as a
 * forgery instead of framing that signer.
 */
import { randomBytes } from 'node:crypto';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { describe, expect, it } from 'vitest';
import type { Message } from '../protocols/round.js';
import { startSign } from '../protocols/cmp/sign.js';
import { fixtureShares } from '../protocols/cmp/testdata/shares.js';
import { secureRng } from '../protocols/cmp/testdata/fixtures.js';
import { runPresign } from '../protocols/cmp/testdata/sign-setup.js';
import { sealEnvelope, type Envelope } from '../transport/envelope.js';
import { directoryOf, generateIdentity, publicIdentity } from '../transport/identity.js';
import { combineSigmaShares, sigmaCulprits, type PooledPresignature } from './ecdsa.js';

const rng = (n: number): Uint8Array => new Uint8Array(randomBytes(n));

describe('combineSigmaShares', () => {
  const shares = fixtureShares('2of3');
  const signers = [...shares.keys()].sort().slice(0, 2);
  const identities = new Map(signers.map((id) => [id, generateIdentity(id, rng)]));
  const directory = directoryOf([...identities.values()].map(publicIdentity));

  /** A fresh presignature (single use) and every signer's σ message over `digest`. */
  const session = (digest: Uint8Array): { msgs: Message[]; pooled: PooledPresignature; publicKey: string } => {
    const presigs = runPresign(shares, signers);
    const first = presigs.get(signers[0] as string);
    if (!first) throw new Error('no presignature');
    const pub = first.toJson() as { RBar: Record<string, string>; SBar: Record<string, string> };
    const pooled: PooledPresignature = { id: first.id, R: first.RHex, signers, RBar: pub.RBar, SBar: pub.SBar };
    const publicKey = first.publicKeyHex;
    const msgs = [...presigs.values()].map((p) => startSign({ presignature: p, digest }, secureRng).outbox[0] as Message);
    return { msgs, pooled, publicKey };
  };
  const seal = (m: Message, as = m.from): Envelope => sealEnvelope({ ...m, from: as }, { protocol: 'cmp-sign', sender: identities.get(as) as never, directory, rng });
  const bump = (m: Message): Message => {
    const o = JSON.parse(new TextDecoder().decode(m.payload)) as { sigma: string };
    o.sigma = (BigInt(`0x${o.sigma}`) + 1n).toString(16);
    return { ...m, payload: new TextEncoder().encode(JSON.stringify(o)) };
  };
  const combine = (envelopes: Envelope[], s: ReturnType<typeof session>, digest: Uint8Array) => combineSigmaShares({
    envelopes, directory, signers, session: (s.msgs[0] as Message).session, R: s.pooled.R, publicKey: s.publicKey, digest,
  });

  it('returns the signature the shares make, valid under the key', () => {
    const digest = rng(32);
    const s = session(digest);
    const c = combine(s.msgs.map((m) => seal(m)), s, digest);
    expect(c).not.toBeNull();
    expect(secp256k1.verify(c?.signature as Uint8Array, digest, Buffer.from(s.publicKey, 'hex'), { prehash: false, lowS: true })).toBe(true);
  }, 30_000);

  it('a wrong σ from its real sender: null, and the sender is named from the presignature', () => {
    const digest = rng(32);
    const s = session(digest);
    const [a, b] = s.msgs as [Message, Message];
    const envelopes = [seal(bump(a)), seal(b)];
    expect(combine(envelopes, s, digest)).toBeNull();
    expect(sigmaCulprits({ envelopes, presignature: s.pooled, digest })).toEqual([a.from]);
  }, 30_000);

  it('a wrong σ in an envelope forged in another signer\'s name is refused as a forgery, nobody framed', () => {
    const digest = rng(32);
    const s = session(digest);
    const [a, b] = s.msgs as [Message, Message];
    // the other signer (or the relay) seals a bumped σ under its own key and relabels it as a's
    const forged = { ...seal(bump(a), b.from), from: a.from };
    expect(() => combine([forged, seal(b)], s, digest)).toThrow(expect.objectContaining({ code: expect.stringMatching(/^envelope_/) }));
  }, 30_000);
});
