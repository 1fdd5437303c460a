/**
 * Things nobody here wrote: RFC 9591 signing vectors reproduced through startSign (the vector's
 * nonce randomness injected as the rng, RFC 9591's 1-based identifiers), BIP-340 vectors through the
 * verifier our BIP-340 signatures are checked with, and BIP-341 TapTweak vectors through taproot.ts.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { schnorr } from '@noble/curves/secp256k1.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import type { Message, PartyId } from '../round.js';
import type { FrostKeyShare } from './key-share.js';
import { bip340Verify } from './sign.js';
import { frostSuite, type SuiteName } from './suite.js';
import { taprootOutputKey, taprootTweak } from './taproot.js';
import { freshSession, runSign } from './test-helpers/harness.js';
import { decodePayload } from './wire.js';

const data = (name: string): string => readFileSync(new URL(`./testdata/${name}`, import.meta.url), 'utf8');

interface RfcVector {
  config: { MAX_PARTICIPANTS: string; MIN_PARTICIPANTS: string };
  inputs: {
    participant_list: number[]; group_public_key: string; message: string; group_secret_key: string;
    share_polynomial_coefficients: string[]; participant_shares: { identifier: number; participant_share: string }[];
  };
  round_one_outputs: { outputs: { identifier: number; hiding_nonce_randomness: string; binding_nonce_randomness: string; hiding_nonce_commitment: string; binding_nonce_commitment: string }[] };
  round_two_outputs: { outputs: { identifier: number; sig_share: string }[] };
  final_output: { sig: string };
}

describe.each<[SuiteName, string]>([
  ['ed25519', 'frost-ed25519-sha512.json'],
  ['secp256k1', 'frost-secp256k1-sha256.json'],
])('RFC 9591 vector through startSign (%s)', (suiteName, file) => {
  it('produces the vector\'s commitments, signature shares and signature', () => {
    const v = JSON.parse(data(file)) as RfcVector;
    const suite = frostSuite(suiteName);
    const n = Number(v.config.MAX_PARTICIPANTS);
    const t = Number(v.config.MIN_PARTICIPANTS);
    const parties = Array.from({ length: n }, (_, i) => String(i + 1));
    // The vector's dealer polynomial is public test data; its commitments are what a dealer publishes.
    const coeffs = [v.inputs.group_secret_key, ...v.inputs.share_polynomial_coefficients].map((h) => suite.Fn.fromBytes(hexToBytes(h)));
    const commitment = coeffs.map((a) => bytesToHex(suite.Point.BASE.multiply(a).toBytes()));
    expect(commitment[0]).toBe(v.inputs.group_public_key);
    const verifyingShares = Object.fromEntries(v.inputs.participant_shares.map((s) => [
      String(s.identifier), bytesToHex(suite.Point.BASE.multiply(suite.Fn.fromBytes(hexToBytes(s.participant_share))).toBytes()),
    ]));
    const keys = new Map<PartyId, FrostKeyShare>(v.inputs.participant_shares.map((s) => [String(s.identifier), {
      suite: suiteName, self: String(s.identifier), threshold: t, parties, identifiers: 'index',
      signingShare: s.participant_share, commitment, verifyingShares, generation: 0,
    }]));
    const signers = v.inputs.participant_list.map(String);
    const randomness = new Map(v.round_one_outputs.outputs.map((o) => [String(o.identifier), [o.hiding_nonce_randomness, o.binding_nonce_randomness]]));
    const seen: Message[] = [];
    const session = freshSession('rfc');
    const out = runSign(keys, signers, hexToBytes(v.inputs.message), {
      session,
      rng: (p) => {
        const queue = [...(randomness.get(p) as string[])];
        return (len) => {
          expect(len).toBe(32);
          return hexToBytes(queue.shift() as string);
        };
      },
      tamper: (m) => {
        seen.push(m);
        return m;
      },
    });
    for (const o of v.round_one_outputs.outputs) {
      const m = seen.find((x) => x.from === String(o.identifier) && x.round === 1)!;
      const [D, E] = decodePayload(m.payload, 'frost/sign/1', session, 3, m.from);
      expect(bytesToHex(D!)).toBe(o.hiding_nonce_commitment);
      expect(bytesToHex(E!)).toBe(o.binding_nonce_commitment);
    }
    for (const o of v.round_two_outputs.outputs) {
      const m = seen.find((x) => x.from === String(o.identifier) && x.round === 2)!;
      expect(bytesToHex(decodePayload(m.payload, 'frost/sign/2', session, 1, m.from)[0]!)).toBe(o.sig_share);
    }
    for (const p of signers) expect(bytesToHex(out.get(p)!.signature)).toBe(v.final_output.sig);
  });
});

describe('BIP-340 vectors through bip340Verify (libsecp256k1 for 32-byte messages, the verifier every BIP-340 FROST signature is checked with) and schnorr.verify', () => {
  const rows = data('bip340-test-vectors.csv').trim().split('\n').slice(1).map((l) => l.split(','));
  it.each(rows.map((r) => [r[0], r] as const))('vector %s', (_i, r) => {
    const [, , pub, , msg, sig, result] = r as string[];
    let ok: boolean;
    try {
      ok = schnorr.verify(hexToBytes(sig!), hexToBytes(msg!), hexToBytes(pub!));
    } catch {
      ok = false;
    }
    expect(ok).toBe(result === 'TRUE');
    expect(bip340Verify(hexToBytes(sig!), hexToBytes(msg!), hexToBytes(pub!))).toBe(result === 'TRUE');
  });
});

describe('BIP-341 TapTweak vectors through taproot.ts', () => {
  const v = JSON.parse(data('bip341-wallet-test-vectors.json')) as {
    scriptPubKey: { given: { internalPubkey: string }; intermediary: { merkleRoot: string | null; tweak: string; tweakedPubkey: string } }[];
  };
  it.each(v.scriptPubKey.map((c, i) => [i, c] as const))('case %i', (_i, c) => {
    const internal = hexToBytes(c.given.internalPubkey);
    const root = c.intermediary.merkleRoot === null ? new Uint8Array(0) : hexToBytes(c.intermediary.merkleRoot);
    expect(taprootTweak(internal, root).toString(16).padStart(64, '0')).toBe(c.intermediary.tweak);
    expect(bytesToHex(taprootOutputKey(internal, root))).toBe(c.intermediary.tweakedPubkey);
  });
});
