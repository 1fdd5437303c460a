import { describe, expect, it } from 'vitest';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { decodePayload, encodePayload } from './wire.js';
import { parseKeyShare, keyShareJson, type FrostKeyShare } from './key-share.js';
import { abortOf, freshSession, parties5, runDkg, runSign, seededRng } from './test-helpers/harness.js';
import { startDkg } from './dkg.js';
import { frostSuite, type SuiteName } from './suite.js';

/** TEST-ONLY math check: interpolates the group secret from shares. Production code never does this. */
function reconstructForTest(keys: FrostKeyShare[]): Uint8Array {
  const suite = frostSuite(keys[0]!.suite);
  const ids = suite.identifiers(keys[0]!.identifiers, keys[0]!.parties);
  return suite.frost.combineSecret(
    keys.map((k) => ({ identifier: ids.hex(k.self), signingShare: hexToBytes(k.signingShare) })),
    { min: keys[0]!.threshold, max: keys[0]!.parties.length },
  );
}

describe.each<SuiteName>(['ed25519', 'bip340'])('FROST DKG (%s)', (suiteName) => {
  it('3-of-5: all parties agree on the key, shares are consistent, any 3 shares give the same secret', () => {
    const keys = runDkg(suiteName, parties5, 3);
    expect(keys.size).toBe(5);
    const all = [...keys.values()];
    for (const k of all) {
      expect(k.commitment).toEqual(all[0]!.commitment);
      expect(k.verifyingShares).toEqual(all[0]!.verifyingShares);
      expect(k.generation).toBe(0);
      // survives a JSON round trip and the consistency checks on load
      expect(parseKeyShare(JSON.parse(JSON.stringify(keyShareJson(k))))).toEqual(k);
    }
    // TEST-ONLY: the secret exists only here, to check the math.
    const s1 = reconstructForTest([keys.get('node-a')!, keys.get('node-b')!, keys.get('node-c')!]);
    const s2 = reconstructForTest([keys.get('node-c')!, keys.get('node-d')!, keys.get('node-e')!]);
    expect(bytesToHex(s1)).toBe(bytesToHex(s2));
    const suite = frostSuite(suiteName);
    const P = suite.Point.BASE.multiply(suite.Fn.fromBytes(s1));
    expect(bytesToHex(P.toBytes())).toBe(all[0]!.commitment[0]);
    // TEST-ONLY: t-1 = 2 shares, interpolated as if they were enough, do not give the secret.
    const ids = suite.identifiers('derived', parties5);
    const [a, b] = [keys.get('node-a')!, keys.get('node-b')!];
    const [xa, xb] = [ids.scalar('node-a'), ids.scalar('node-b')];
    const la = suite.Fn.mul(xb, suite.Fn.inv(suite.Fn.sub(xb, xa)));
    const lb = suite.Fn.mul(xa, suite.Fn.inv(suite.Fn.sub(xa, xb)));
    const guess = suite.Fn.add(suite.Fn.mul(la, suite.Fn.fromBytes(hexToBytes(a.signingShare))), suite.Fn.mul(lb, suite.Fn.fromBytes(hexToBytes(b.signingShare))));
    expect(guess).not.toBe(suite.Fn.fromBytes(s1));
  });

  it('works for 2-of-2 and 2-of-3 and 3-of-3', () => {
    for (const [n, t] of [[2, 2], [3, 2], [3, 3]] as const) {
      const keys = runDkg(suiteName, parties5.slice(0, n), t, { json: false, identifiers: n === 3 ? 'index' : 'derived' });
      expect(new Set([...keys.values()].map((k) => k.commitment[0])).size).toBe(1);
      expect(keys.get('node-a')!.identifiers).toBe(n === 3 ? 'index' : 'derived');
      const signers = parties5.slice(0, t);
      const sig = runSign(keys, signers, new Uint8Array([1, 2, 3]), { json: false }).get('node-a')!;
      expect(sig.signature).toHaveLength(64);
    }
  });

  it('names a dealer whose share does not match its commitment', () => {
    const session = freshSession();
    const err = abortOf(() => runDkg(suiteName, parties5, 3, {
      session,
      tamper: (m) => {
        if (m.from !== 'node-b' || m.round !== 2 || m.to !== 'node-d') return m;
        const suite = frostSuite(suiteName);
        const [s] = decodePayload(m.payload, 'frost/dkg/2', session, 1, 'node-b');
        const bumped = suite.Fn.toBytes(suite.Fn.add(suite.Fn.fromBytes(s!), 1n));
        return { ...m, payload: encodePayload('frost/dkg/2', session, [bumped]) };
      },
    }));
    expect(err.code).toBe('frost_dkg_bad_share');
    expect(err.culprits).toEqual(['node-b']);
  });

  it('names a dealer with a bad proof of knowledge', () => {
    const session = freshSession();
    const err = abortOf(() => runDkg(suiteName, parties5, 3, {
      session,
      tamper: (m) => {
        if (m.from !== 'node-c' || m.round !== 1) return m;
        const [C, R, z] = decodePayload(m.payload, 'frost/dkg/1', session, 3, 'node-c');
        const suite = frostSuite(suiteName);
        const z2 = suite.Fn.toBytes(suite.Fn.add(suite.Fn.fromBytes(z!), 1n));
        return { ...m, payload: encodePayload('frost/dkg/1', session, [C!, R!, z2]) };
      },
    }));
    expect(err.code).toBe('frost_dkg_bad_proof');
    expect(err.culprits).toEqual(['node-c']);
  });

  it('rejects a round-1 message replayed from another session (session id bound in payload and proof)', () => {
    const oldSession = freshSession('old');
    const old = startDkg({ suite: suiteName, session: oldSession, self: 'node-e', parties: parties5, threshold: 3, rng: seededRng('old') });
    const replayed = old.outbox[0]!;
    const session = freshSession();
    // replayed verbatim: the payload's session id differs
    const verbatim = abortOf(() => runDkg(suiteName, parties5, 3, {
      session, tamper: (m) => (m.from === 'node-e' && m.round === 1 ? { ...replayed, session } : m),
    }));
    expect(verbatim.code).toBe('frost_wrong_session');
    expect(verbatim.culprits).toEqual(['node-e']);
    // re-wrapped under the new session id: the proof of knowledge is bound to the old one
    const [C, R, z] = decodePayload(replayed.payload, 'frost/dkg/1', oldSession, 3, 'node-e');
    const rewrapped = abortOf(() => runDkg(suiteName, parties5, 3, {
      session, tamper: (m) => (m.from === 'node-e' && m.round === 1 ? { ...m, payload: encodePayload('frost/dkg/1', session, [C!, R!, z!]) } : m),
    }));
    expect(rewrapped.code).toBe('frost_dkg_bad_proof');
    expect(rewrapped.culprits).toEqual(['node-e']);
  });

  it('aborts without output when a dealer equivocates on its broadcast (round-3 confirmation)', () => {
    // node-a shows node-b different higher commitments, chosen so node-b's share still checks out:
    // C1' = C1 + D, C2' = C2 - x_b^-1·D leaves C(x_b) unchanged. Only the confirmation round catches it.
    const session = freshSession();
    const suite = frostSuite(suiteName);
    const xb = suite.identifiers('derived', parties5).scalar('node-b');
    const D = suite.Point.BASE.multiply(12345n);
    const err = abortOf(() => runDkg(suiteName, parties5, 3, {
      session, json: false,
      tamper: (m, to) => {
        if (m.from !== 'node-a' || m.round !== 1 || to !== 'node-b') return m;
        const [C, R, z] = decodePayload(m.payload, 'frost/dkg/1', session, 3, 'node-a');
        const L = suite.pointBytes;
        const pts = [0, 1, 2].map((i) => suite.Point.fromBytes(C!.subarray(i * L, (i + 1) * L)));
        pts[1] = pts[1]!.add(D);
        pts[2] = pts[2]!.add(D.multiply(suite.Fn.neg(suite.Fn.inv(xb))));
        const C2 = new Uint8Array(3 * L);
        pts.forEach((p, i) => C2.set(p.toBytes(), i * L));
        return { ...m, payload: encodePayload('frost/dkg/1', session, [C2, R!, z!]) };
      },
    }));
    expect(err.code).toBe('frost_package_mismatch');
  });

  it('rejects malformed and oversized round-1 messages naming the sender', () => {
    const session = freshSession();
    const truncated = abortOf(() => runDkg(suiteName, parties5, 3, {
      session, tamper: (m) => (m.from === 'node-d' && m.round === 1 ? { ...m, payload: m.payload.subarray(0, 40) } : m),
    }));
    expect(truncated.code).toBe('frost_malformed_message');
    expect(truncated.culprits).toEqual(['node-d']);
    const huge = abortOf(() => runDkg(suiteName, parties5, 3, {
      session, tamper: (m) => (m.from === 'node-d' && m.round === 1 ? { ...m, payload: new Uint8Array(1 << 20) } : m),
    }));
    expect(huge.culprits).toEqual(['node-d']);
    // a point not on the curve / off the subgroup
    const offCurve = abortOf(() => runDkg(suiteName, parties5, 3, {
      session,
      tamper: (m) => {
        if (m.from !== 'node-d' || m.round !== 1) return m;
        const [C, R, z] = decodePayload(m.payload, 'frost/dkg/1', session, 3, 'node-d');
        const badC = C!.slice();
        badC.fill(0xff, 1, 10);
        return { ...m, payload: encodePayload('frost/dkg/1', session, [badC, R!, z!]) };
      },
    }));
    expect(offCurve.culprits).toEqual(['node-d']);
  });

  it('refuses bad parameters', () => {
    const rng = seededRng('x');
    const session = freshSession();
    expect(() => startDkg({ suite: suiteName, session, self: 'a', parties: ['a', 'b'], threshold: 1, rng })).toThrow(/threshold/);
    expect(() => startDkg({ suite: suiteName, session, self: 'a', parties: ['a', 'b'], threshold: 3, rng })).toThrow(/threshold/);
    expect(() => startDkg({ suite: suiteName, session, self: 'z', parties: ['a', 'b'], threshold: 2, rng })).toThrow(/not among/);
    expect(() => startDkg({ suite: suiteName, session, self: 'a', parties: ['a', 'a', 'b'], threshold: 2, rng })).toThrow(/unique/);
    expect(() => startDkg({ suite: suiteName, session: 'abc', self: 'a', parties: ['a', 'b'], threshold: 2, rng })).toThrow(/session/);
  });
});
