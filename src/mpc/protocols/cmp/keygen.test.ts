import { describe, expect, it } from 'vitest';
import { decodePayload, encodePayload, hexInt } from './codec.js';
import { mulG, Point } from './group.js';
import { startKeygen } from './keygen.js';
import type { CmpKeyShare } from './keyshare.js';
import { keyShareFromJson, keyShareToJson } from './keyshare.js';
import { restoreRound } from './machine.js';
import { Q } from './params.js';
import { evaluationPoints, lagrangeAtZero } from './shamir.js';
import { secureRng as rng } from './testdata/fixtures.js';
import { runAll, type Tamper } from './testdata/run.js';
import { ProtocolAbort, type Message, type RoundResult } from '../round.js';

const parties = ['alice', 'bob', 'carol', 'dave', 'erin'];

function keygen(t: number, ids = parties, tamper?: Tamper): Map<string, CmpKeyShare> {
  const session = 'kg-' + Math.random().toString(16).slice(2);
  const starts = new Map<string, RoundResult<CmpKeyShare>>(ids.map((self) => [self, startKeygen({ session, self, parties: ids, threshold: t }, rng)]));
  return runAll(starts, tamper);
}

function abortOf(f: () => unknown): ProtocolAbort {
  try {
    f();
  } catch (e) {
    if (e instanceof ProtocolAbort) return e;
    throw e;
  }
  throw new Error('expected an abort');
}

describe('CMP keygen', () => {
  it('3-of-5: all agree on the key, shares interpolate to a key whose public key matches, any 3 suffice', () => {
    const out = keygen(3);
    const pk = out.get('alice')!.publicKey;
    for (const s of out.values()) {
      expect(s.publicKey.equals(pk)).toBe(true);
      expect(mulG(s.share).equals(s.publicShares.get(s.self)!)).toBe(true);
    }
    const pts = evaluationPoints(parties);
    for (const set of [['alice', 'bob', 'carol'], ['bob', 'dave', 'erin'], ['alice', 'carol', 'erin']]) {
      const xs = set.map((id) => pts.get(id)!);
      let x = 0n;
      for (const id of set) x = (x + lagrangeAtZero(pts.get(id)!, xs) * out.get(id)!.share) % Q;
      expect(mulG(x).equals(pk)).toBe(true);
    }
    // two shares are not enough
    const xs = [pts.get('alice')!, pts.get('bob')!];
    const two = (lagrangeAtZero(xs[0]!, xs) * out.get('alice')!.share + lagrangeAtZero(xs[1]!, xs) * out.get('bob')!.share) % Q;
    expect(mulG(two).equals(pk)).toBe(false);
  });

  it('key shares and rounds serialise', () => {
    const out = keygen(2, ['a', 'b', 'c']);
    const s = out.get('a')!;
    const again = keyShareFromJson(JSON.parse(JSON.stringify(keyShareToJson(s))));
    expect(again.share).toBe(s.share);
    expect(again.publicKey.equals(s.publicKey)).toBe(true);
    const bad = JSON.parse(JSON.stringify(keyShareToJson(s)));
    bad.threshold = 9;
    expect(() => keyShareFromJson(bad)).toThrow(/malformed/);
    expect(() => keyShareFromJson({ ...bad, threshold: 2, self: 'zed' })).toThrow(/malformed/);
    expect(() => keyShareFromJson(null)).toThrow(/malformed/);
    const start = startKeygen({ session: 'x', self: 'a', parties: ['a', 'b'], threshold: 2 }, rng);
    if (start.kind !== 'next') throw new Error('unexpected');
    const state = JSON.parse(JSON.stringify(start.next.serialize()));
    expect(restoreRound(state, rng).number).toBe(1);
  });

  it('rejects bad parameters: duplicate ids, t = 1, t > n', () => {
    expect(() => startKeygen({ session: 's', self: 'a', parties: ['a', 'a', 'b'], threshold: 2 }, rng)).toThrow(/distinct/);
    expect(() => startKeygen({ session: 's', self: 'a', parties: ['a', 'b'], threshold: 1 }, rng)).toThrow(/threshold/);
    expect(() => startKeygen({ session: 's', self: 'a', parties: ['a', 'b'], threshold: 3 }, rng)).toThrow(/threshold/);
  });

  const tamperField = (from: string, round: number, to: string | null, f: (o: Record<string, unknown>) => void): Tamper => (m: Message) => {
    if (m.from !== from || m.round !== round || m.to !== to) return m;
    const o = decodePayload(m.payload, from) as Record<string, unknown>;
    f(o);
    return { ...m, payload: encodePayload(o as never) };
  };

  it('names a party that sends a share inconsistent with its commitment', () => {
    const e = abortOf(() => keygen(2, ['a', 'b', 'c'], tamperField('b', 2, 'c', (o) => (o.share = hexInt(1n)))));
    expect(e.code).toBe('cmp_bad_share');
    expect(e.culprits).toEqual(['b']);
  });

  it('names a party that sends a zero share, a huge field or a non-JSON payload', () => {
    const e = abortOf(() => keygen(2, ['a', 'b', 'c'], tamperField('c', 2, 'a', (o) => (o.share = '0'))));
    expect(e.code).toBe('cmp_bad_share');
    expect(e.culprits).toEqual(['c']);
    const e2 = abortOf(() => keygen(2, ['a', 'b', 'c'], tamperField('b', 2, 'a', (o) => (o.share = 'f'.repeat(100_000)))));
    expect(e2.code).toBe('cmp_malformed_message');
    expect(e2.culprits).toEqual(['b']);
    const e3 = abortOf(() => keygen(2, ['a', 'b', 'c'], (m) => (m.from === 'a' && m.round === 1 ? { ...m, payload: new Uint8Array([0xff, 0x00]) } : m)));
    expect(e3.code).toBe('cmp_malformed_message');
    expect(e3.culprits).toEqual(['a']);
  });

  it('equivocation in the commitment round is caught by the echo check (no culprit: the equivocator is not attributable there)', () => {
    const e = abortOf(() =>
      keygen(2, ['a', 'b', 'c'], (m, to) => (m.from === 'a' && m.round === 1 && to === 'c' ? { ...m, payload: encodePayload({ V: 'ab'.repeat(32) }) } : m)),
    );
    expect(e.code).toBe('cmp_echo_mismatch');
    expect(e.culprits).toEqual([]);
  });

  it('names a party that opens a different commitment, or a zero secret', () => {
    const e = abortOf(() => keygen(2, ['a', 'b', 'c'], tamperField('c', 2, null, (o) => (o.u = '00'.repeat(32)))));
    expect(e.code).toBe('cmp_bad_decommitment');
    expect(e.culprits).toEqual(['c']);
  });

  it('names a party whose Schnorr proof fails or that replays into another session', () => {
    const e = abortOf(() => keygen(2, ['a', 'b', 'c'], tamperField('a', 3, null, (o) => (o.z = hexInt(5n)))));
    expect(e.code).toBe('cmp_bad_proof');
    expect(e.culprits).toEqual(['a']);
    const e2 = abortOf(() => keygen(2, ['a', 'b', 'c'], (m) => (m.from === 'b' && m.round === 2 ? { ...m, session: 'other' } : m)));
    expect(e2.culprits).toEqual(['b']);
  });

  it('an identity constant term in a revealed commitment is refused, naming the dealer', () => {
    // a party whose commitment constant is the identity (f(0) = 0) is caught by the commitment or the zero check
    const e = abortOf(() =>
      keygen(2, ['a', 'b', 'c'], tamperField('b', 2, null, (o) => {
        (o.F as string[])[0] = '00';
      })),
    );
    expect(e.culprits).toEqual(['b']);
    expect(Point.ZERO.is0()).toBe(true);
  });
});
