import { createPublicKey, verify as nodeVerify } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { ed25519 } from '@noble/curves/ed25519.js';
import { schnorr } from '@noble/curves/secp256k1.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import type { Message, PartyId, RoundState } from '../round.js';
import type { FrostKeyShare } from './key-share.js';
import { memoryNonceLedger } from './nonce-ledger.js';
import { aggregateSignature, publicPackage, restoreSign, signingPublicKey, startSign } from './sign.js';
import { taprootOutputKey } from './taproot.js';
import { abortOf, freshSession, parties5, runDkg, runSign, seededRng } from './test-helpers/harness.js';
import { decodePayload, encodePayload } from './wire.js';
import { frostSuite } from './suite.js';

const msg = new TextEncoder().encode('withdrawal 7f3a: 1.5 SOL to 9xQe...');

function nodeVerifyEd25519(sig: Uint8Array, message: Uint8Array, pub: Uint8Array): boolean {
  const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(pub)]);
  return nodeVerify(null, message, createPublicKey({ key: spki, format: 'der', type: 'spki' }), sig);
}

function subsets<T>(xs: readonly T[], k: number): T[][] {
  if (k === 0) return [[]];
  if (xs.length < k) return [];
  const [h, ...rest] = xs as [T, ...T[]];
  return [...subsets(rest, k - 1).map((s) => [h, ...s]), ...subsets(rest, k)];
}

describe('FROST signing, Ed25519, 3-of-5 from DKG', () => {
  let keys: Map<PartyId, FrostKeyShare>;
  beforeAll(() => {
    keys = runDkg('ed25519', parties5, 3, { json: false });
  });

  it('every signer outputs the same signature; noble and node:crypto verify it (rounds restored from JSON)', () => {
    const out = runSign(keys, ['node-a', 'node-c', 'node-e'], msg);
    const sigs = [...out.values()];
    expect(sigs).toHaveLength(3);
    for (const s of sigs) expect(bytesToHex(s.signature)).toBe(bytesToHex(sigs[0]!.signature));
    const pub = signingPublicKey(keys.get('node-a')!);
    expect(bytesToHex(sigs[0]!.publicKey)).toBe(bytesToHex(pub));
    expect(ed25519.verify(sigs[0]!.signature, msg, pub)).toBe(true);
    expect(nodeVerifyEd25519(sigs[0]!.signature, msg, pub)).toBe(true);
    expect(nodeVerifyEd25519(sigs[0]!.signature, new TextEncoder().encode('another withdrawal'), pub)).toBe(false);
  });

  it('every 3-subset of the 5 parties signs, and 4 signers work too', () => {
    const pub = signingPublicKey(keys.get('node-a')!);
    for (const set of [...subsets(parties5, 3), ['node-a', 'node-b', 'node-d', 'node-e']]) {
      const sig = runSign(keys, set, msg, { json: false }).get(set[0]!)!.signature;
      expect(nodeVerifyEd25519(sig, msg, pub)).toBe(true);
    }
  });

  it('names a signer whose signature share is wrong', () => {
    const session = freshSession();
    const err = abortOf(() => runSign(keys, ['node-a', 'node-b', 'node-c'], msg, {
      session, json: false,
      tamper: (m) => {
        if (m.from !== 'node-b' || m.round !== 2) return m;
        const suite = frostSuite('ed25519');
        const [z] = decodePayload(m.payload, 'frost/sign/2', session, 1, 'node-b');
        return { ...m, payload: encodePayload('frost/sign/2', session, [suite.Fn.toBytes(suite.Fn.add(suite.Fn.fromBytes(z!), 1n))]) };
      },
    }));
    expect(err.code).toBe('frost_bad_signature_share');
    expect(err.culprits).toEqual(['node-b']);
  });

  it('names a signer whose share is not a canonical scalar', () => {
    const session = freshSession();
    const err = abortOf(() => runSign(keys, ['node-a', 'node-b', 'node-c'], msg, {
      session, json: false,
      tamper: (m) => (m.from === 'node-c' && m.round === 2 ? { ...m, payload: encodePayload('frost/sign/2', session, [new Uint8Array(32).fill(0xff)]) } : m),
    }));
    expect(err.culprits).toEqual(['node-c']);
  });

  it('rejects a round-1 commitment replayed from another session', () => {
    const oldSession = freshSession('old');
    const old = startSign({ key: keys.get('node-b')!, session: oldSession, signers: ['node-a', 'node-b', 'node-c'], message: msg, rng: seededRng('old') });
    const replayed = old.outbox[0]!;
    const session = freshSession();
    const verbatim = abortOf(() => runSign(keys, ['node-a', 'node-b', 'node-c'], msg, {
      session, json: false, tamper: (m) => (m.from === 'node-b' && m.round === 1 ? { ...replayed, session } : m),
    }));
    expect(verbatim.code).toBe('frost_wrong_session');
    expect(verbatim.culprits).toEqual(['node-b']);
    // re-wrapped with the new session id: the signing context hash still names the old session
    const [D, E, ctx] = decodePayload(replayed.payload, 'frost/sign/1', oldSession, 3, 'node-b');
    const rewrapped = abortOf(() => runSign(keys, ['node-a', 'node-b', 'node-c'], msg, {
      session, json: false,
      tamper: (m) => (m.from === 'node-b' && m.round === 1 ? { ...m, payload: encodePayload('frost/sign/1', session, [D!, E!, ctx!]) } : m),
    }));
    expect(rewrapped.code).toBe('frost_sign_context_mismatch');
    expect(rewrapped.culprits).toEqual(['node-b']);
  });

  it('a signer signing a different message is named before any share exists', () => {
    const session = freshSession();
    const signers = ['node-a', 'node-b', 'node-c'];
    const starts = new Map(signers.map((p) => [p, startSign({
      key: keys.get(p)!, session, signers, message: p === 'node-c' ? new TextEncoder().encode('evil') : msg, rng: seededRng(p + session),
    })]));
    const r1 = starts.get('node-a')!;
    if (r1.kind !== 'next') throw new Error('unexpected');
    const inbox = [...starts.values()].flatMap((r) => r.outbox).filter((m) => m.from !== 'node-a');
    const err = abortOf(() => r1.next.finalize(inbox));
    expect(err.code).toBe('frost_sign_context_mismatch');
    expect(err.culprits).toEqual(['node-c']);
  });

  it('nonces are single-use: a round-1 handle refuses a second finalize and cannot be serialised after use', () => {
    const session = freshSession();
    const signers = ['node-a', 'node-b', 'node-c'];
    const starts = new Map(signers.map((p) => [p, startSign({ key: keys.get(p)!, session, signers, message: msg, rng: seededRng(p + session) })]));
    const mine = starts.get('node-a')!;
    if (mine.kind !== 'next') throw new Error('unexpected');
    const inbox = [...starts.values()].flatMap((r) => r.outbox).filter((m) => m.from !== 'node-a');
    const saved = mine.next.serialize();
    mine.next.finalize(inbox);
    const again = abortOf(() => mine.next.finalize(inbox));
    expect(again.code).toBe('frost_nonce_reused');
    expect(abortOf(() => mine.next.serialize()).code).toBe('frost_nonce_reused');
    // An inbox rejected before the nonces are touched (missing message) leaves them unused: the
    // round can then be finalized exactly once.
    const other = starts.get('node-b')!;
    if (other.kind !== 'next') throw new Error('unexpected');
    expect(abortOf(() => other.next.finalize([])).code).toBe('protocol_missing_message');
    // a missing message aborts before the nonces are touched, so the round can still be finalized once
    expect(() => other.next.finalize([...starts.values()].flatMap((r) => r.outbox).filter((m) => m.from !== 'node-b'))).not.toThrow();
    expect(abortOf(() => other.next.finalize([])).code).toBe('frost_nonce_reused');
    void saved;
  });

  it('a nonce ledger refuses a second use through a restored copy of the round-1 state', () => {
    const session = freshSession();
    const signers = ['node-a', 'node-b', 'node-c'];
    const ledger = memoryNonceLedger();
    const starts = new Map(signers.map((p) => [p, startSign({ key: keys.get(p)!, session, signers, message: msg, rng: seededRng(p + session), nonceLedger: p === 'node-a' ? ledger : undefined })]));
    const mine = starts.get('node-a')!;
    if (mine.kind !== 'next') throw new Error('unexpected');
    const saved = JSON.stringify(mine.next.serialize());
    const inbox = [...starts.values()].flatMap((r) => r.outbox).filter((m) => m.from !== 'node-a');
    restoreSign(JSON.parse(saved) as RoundState, { nonceLedger: ledger }).finalize(inbox);
    // the attack: the same nonces against a different set of commitments (another challenge)
    const other = startSign({ key: keys.get('node-b')!, session, signers, message: msg, rng: seededRng('fresh'), nonceLedger: undefined }).outbox;
    const inbox2 = inbox.map((m) => (m.from === 'node-b' ? other[0]! : m));
    const err = abortOf(() => restoreSign(JSON.parse(saved) as RoundState, { nonceLedger: ledger }).finalize(inbox2));
    expect(err.code).toBe('frost_nonce_reused');
    // without the ledger the copy would sign again: the ledger is what makes restored states safe
    expect(() => restoreSign(JSON.parse(saved) as RoundState).finalize(inbox2)).not.toThrow();
  });

  it('t-1 parties cannot sign: the API refuses, and lying about the threshold gives no valid signature', () => {
    const two = ['node-a', 'node-b'];
    expect(abortOf(() => startSign({ key: keys.get('node-a')!, session: freshSession(), signers: two, message: msg, rng: seededRng('x') })).code)
      .toBe('frost_not_enough_signers');
    // Two parties whose key packages claim t = 2 (a forged package; the shares are the real ones).
    const forged = new Map(two.map((p) => {
      const k = keys.get(p)!;
      return [p, { ...k, threshold: 2 }];
    }));
    const err = abortOf(() => runSign(forged, two, msg, { json: false }));
    expect(err.code).toBe('frost_bad_signature_share');
    expect(err.message).toMatch(/do not aggregate/);
  });

  it('no message and no abort carries a signing share or a nonce', () => {
    const seen: Message[] = [];
    const session = freshSession();
    runSign(keys, ['node-a', 'node-b', 'node-c'], msg, { session, tamper: (m) => (seen.push(m), m) });
    const secrets = ['node-a', 'node-b', 'node-c'].map((p) => keys.get(p)!.signingShare);
    // the nonce of node-a, from a restored round-1 state of an identical run
    const st = startSign({ key: keys.get('node-a')!, session, signers: ['node-a', 'node-b', 'node-c'], message: msg, rng: seededRng(`sign/${session}/node-a`) });
    if (st.kind !== 'next') throw new Error('unexpected');
    const state = st.next.serialize() as RoundState & { data: { nonces: { hiding: string; binding: string } } };
    secrets.push(state.data.nonces.hiding, state.data.nonces.binding);
    const wire = seen.map((m) => bytesToHex(m.payload)).join('|');
    for (const s of secrets) expect(wire.includes(s)).toBe(false);
    const err = abortOf(() => runSign(keys, ['node-a', 'node-b', 'node-c'], msg, {
      json: false, tamper: (m) => (m.from === 'node-b' && m.round === 2 ? { ...m, payload: m.payload.slice(0, 10) } : m),
    }));
    for (const s of secrets) expect(err.message.includes(s)).toBe(false);
  });

  it('a coordinator without a share aggregates the relayed messages and names a cheater', () => {
    const session = freshSession();
    const signers = ['node-b', 'node-c', 'node-e'];
    const seen: Message[] = [];
    const out = runSign(keys, signers, msg, { session, json: false, tamper: (m, to) => (to === signers.find((s) => s !== m.from) && seen.push(m), m) });
    const round1 = seen.filter((m) => m.round === 1);
    const round2 = seen.filter((m) => m.round === 2);
    expect(round1).toHaveLength(3);
    const pkg = publicPackage(keys.get('node-a')!);
    expect(JSON.stringify(pkg)).not.toContain(keys.get('node-a')!.signingShare);
    const sig = aggregateSignature({ key: pkg, session, signers, message: msg, round1, round2 });
    expect(bytesToHex(sig.signature)).toBe(bytesToHex(out.get('node-b')!.signature));
    const suite = frostSuite('ed25519');
    const bad = round2.map((m) => {
      if (m.from !== 'node-e') return m;
      const [z] = decodePayload(m.payload, 'frost/sign/2', session, 1, 'node-e');
      return { ...m, payload: encodePayload('frost/sign/2', session, [suite.Fn.toBytes(suite.Fn.add(suite.Fn.fromBytes(z!), 1n))]) };
    });
    const err = abortOf(() => aggregateSignature({ key: pkg, session, signers, message: msg, round1, round2: bad }));
    expect(err.code).toBe('frost_bad_signature_share');
    expect(err.culprits).toEqual(['node-e']);
    // a coordinator asking about another message than the signers signed: the context hash disagrees
    expect(abortOf(() => aggregateSignature({ key: pkg, session, signers, message: new Uint8Array([9]), round1, round2 })).code).toBe('frost_sign_context_mismatch');
  });

  it('names a signer whose nonce commitment is the identity or whose message is huge', () => {
    const session = freshSession();
    const identity = abortOf(() => runSign(keys, ['node-a', 'node-b', 'node-c'], msg, {
      session, json: false,
      tamper: (m) => {
        if (m.from !== 'node-c' || m.round !== 1) return m;
        const [, E, ctx] = decodePayload(m.payload, 'frost/sign/1', session, 3, 'node-c');
        const id = ed25519.Point.ZERO.toBytes();
        return { ...m, payload: encodePayload('frost/sign/1', session, [id, E!, ctx!]) };
      },
    }));
    expect(identity.code).toBe('frost_bad_point');
    expect(identity.culprits).toEqual(['node-c']);
    const huge = abortOf(() => runSign(keys, ['node-a', 'node-b', 'node-c'], msg, {
      session: freshSession(), json: false,
      tamper: (m) => (m.from === 'node-a' && m.round === 1 ? { ...m, payload: new Uint8Array(2_000_000) } : m),
    }));
    expect(huge.code).toBe('frost_malformed_message');
    expect(huge.culprits).toEqual(['node-a']);
  });

  it('refuses to restore a state of another protocol', () => {
    expect(() => restoreSign({ protocol: 'frost-dkg', round: 1, session: freshSession(), data: {} })).toThrow(/not a FROST signing state/);
  });
});

describe('FROST signing, BIP-340 / Taproot, 3-of-5 from DKG', () => {
  let keys: Map<PartyId, FrostKeyShare>;
  beforeAll(() => {
    keys = runDkg('bip340', parties5, 3, { json: false });
  });
  const sighash = hexToBytes('4f3c1a6d7a2b9e8d1c0b5a4f3e2d1c0b9a8f7e6d5c4b3a29181706f5e4d3c2b1');

  it('untweaked: verifies with schnorr.verify under the x-only group key', () => {
    const out = runSign(keys, ['node-b', 'node-c', 'node-d'], sighash);
    const s = out.get('node-b')!;
    expect(s.publicKey).toHaveLength(32);
    expect(bytesToHex(s.publicKey)).toBe(keys.get('node-a')!.commitment[0]!.slice(2));
    expect(schnorr.verify(s.signature, sighash, s.publicKey)).toBe(true);
  });

  it('BIP-86 key path (empty merkle root) and a script-tree root: verifies under the tweaked output key', () => {
    const internal = hexToBytes(keys.get('node-a')!.commitment[0]!);
    for (const root of [new Uint8Array(0), hexToBytes('5b75adecf53548f3ec6ad7d78383bf84cc57b55a3127c72b9a2481752dd88b21')]) {
      const s = runSign(keys, ['node-a', 'node-c', 'node-e'], sighash, { taprootMerkleRoot: root }).get('node-e')!;
      const q = taprootOutputKey(internal, root);
      expect(bytesToHex(s.publicKey)).toBe(bytesToHex(q));
      expect(schnorr.verify(s.signature, sighash, q)).toBe(true);
      // not valid under the internal key
      expect(schnorr.verify(s.signature, sighash, internal.subarray(1))).toBe(false);
    }
  });

  it('works whatever the parity of the group key (several DKGs)', () => {
    const parities = new Set<string>();
    for (let i = 0; i < 12 && parities.size < 2; i++) {
      const k = runDkg('bip340', parties5.slice(0, 3), 2, { json: false });
      parities.add(k.get('node-a')!.commitment[0]!.slice(0, 2));
      const s = runSign(k, ['node-a', 'node-c'], sighash, { json: false, taprootMerkleRoot: new Uint8Array(0) }).get('node-a')!;
      expect(schnorr.verify(s.signature, sighash, s.publicKey)).toBe(true);
    }
    expect([...parities].sort()).toEqual(['02', '03']);
  });

  it('names a signer with a wrong share under a Taproot tweak', () => {
    const session = freshSession();
    const err = abortOf(() => runSign(keys, ['node-a', 'node-b', 'node-c'], sighash, {
      session, json: false, taprootMerkleRoot: new Uint8Array(0),
      tamper: (m) => {
        if (m.from !== 'node-a' || m.round !== 2) return m;
        const suite = frostSuite('bip340');
        const [z] = decodePayload(m.payload, 'frost/sign/2', session, 1, 'node-a');
        return { ...m, payload: encodePayload('frost/sign/2', session, [suite.Fn.toBytes(suite.Fn.add(suite.Fn.fromBytes(z!), 7n))]) };
      },
    }));
    expect(err.code).toBe('frost_bad_signature_share');
    expect(err.culprits).toEqual(['node-a']);
  });

  it('refuses a merkle root of the wrong size and a Taproot root on Ed25519', () => {
    expect(abortOf(() => startSign({ key: keys.get('node-a')!, session: freshSession(), signers: ['node-a', 'node-b', 'node-c'], message: sighash, taprootMerkleRoot: new Uint8Array(5), rng: seededRng('x') })).code)
      .toBe('frost_bad_merkle_root');
  });
});
