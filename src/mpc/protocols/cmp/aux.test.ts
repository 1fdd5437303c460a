import { describe, expect, it } from 'vitest';
import { ProtocolAbort } from '../round.js';
import { mulG } from './group.js';
import { keyShareFromJson, keyShareToJson } from './keyshare.js';
import { Q } from './params.js';
import { evaluationPoints, lagrangeAtZero } from './shamir.js';
import { generatePrimeSync } from 'node:crypto';
import { decodePayload, encodePayload } from './codec.js';
import { PaillierSecretKey } from './paillier.js';
import { secureRng } from './testdata/fixtures.js';
import { proveMod, verifyMod } from './zk/mod.js';
import { runAuxRefresh, runKeygen } from './testdata/setup.js';

const ids = ['a', 'b', 'c'];

function abortOf(f: () => unknown): ProtocolAbort {
  try {
    f();
  } catch (e) {
    if (e instanceof ProtocolAbort) return e;
    throw e;
  }
  throw new Error('expected an abort');
}

function reconstruct(shares: Map<string, { share: bigint }>, set: string[]): bigint {
  const pts = evaluationPoints(ids);
  const xs = set.map((id) => pts.get(id)!);
  let x = 0n;
  for (const id of set) x = (x + lagrangeAtZero(pts.get(id)!, xs) * shares.get(id)!.share) % Q;
  return x;
}

// Aux info runs 80-round Π^mod and Π^prm for real; on a loaded 2-core machine one 3-party run takes
// several seconds, hence the longer timeout. The attack runs use two parties.
describe('CMP aux info + refresh (2-of-3)', { timeout: 60_000 }, () => {
  const kg = runKeygen(2, ids);
  const seen: string[] = [];
  const refreshed = runAuxRefresh(kg, 0, (m) => {
    seen.push(new TextDecoder().decode(m.payload));
    return m;
  });
  const kg2 = runKeygen(2, ['a', 'b']);

  it('keeps the public key, changes every share, and gives each party all moduli and parameters', () => {
    const pk = kg.get('a')!.publicKey;
    for (const id of ids) {
      const s = refreshed.get(id)!;
      expect(s.publicKey.equals(pk)).toBe(true);
      expect(s.share).not.toBe(kg.get(id)!.share);
      expect(mulG(s.share).equals(s.publicShares.get(id)!)).toBe(true);
      expect([...s.aux!.parties.keys()].sort()).toEqual(ids);
    }
    expect(mulG(reconstruct(refreshed, ['a', 'c'])).equals(pk)).toBe(true);
    const again = keyShareFromJson(JSON.parse(JSON.stringify(keyShareToJson(refreshed.get('b')!))));
    expect(again.aux!.paillier.pk.n).toBe(refreshed.get('b')!.aux!.paillier.pk.n);
  });

  it('no message carries a Paillier prime, λ-derived secret or a key share', () => {
    const all = seen.join('\n');
    expect(seen.length).toBeGreaterThan(0);
    for (const id of ids) {
      const s = refreshed.get(id)!;
      for (const secret of [s.aux!.paillier.p, s.aux!.paillier.q, s.share, kg.get(id)!.share, s.aux!.paillier.phi]) {
        expect(all.includes(secret.toString(16))).toBe(false);
      }
    }
  });

  it('old shares are useless with new ones: mixing them does not give the key', () => {
    const pk = kg.get('a')!.publicKey;
    const mixed = new Map([
      ['a', kg.get('a')!],
      ['c', refreshed.get('c')!],
    ]);
    expect(mulG(reconstruct(mixed, ['a', 'c'])).equals(pk)).toBe(false);
  });

  it('refuses a Blum modulus with a small factor that passes Π^mod and Π^prm (missing Π^fac: TSSHOCK/BitForge) and names the party', () => {
    const p = generatePrimeSync(256, { add: 4n, rem: 3n, bigint: true });
    const q = generatePrimeSync(1792, { add: 4n, rem: 3n, bigint: true });
    const evil = new PaillierSecretKey(p, q);
    // without Π^fac this modulus would be accepted: it is a valid Paillier-Blum modulus
    expect(verifyMod({ session: 's', prover: 'b' }, p * q, proveMod({ session: 's', prover: 'b' }, { p, q }, secureRng))).toBe(true);
    const e = abortOf(() => runAuxRefresh(kg2, 4, undefined, (id) => (id === 'b' ? evil : undefined)));
    expect(e.code).toBe('cmp_bad_proof');
    expect(e.message).toMatch(/Π\^fac of b/);
    expect(e.culprits).toEqual(['b']);
  });

  it('names a party whose Π^mod is missing, replaced or from another session', () => {
    const e = abortOf(() =>
      runAuxRefresh(kg2, 6, (m) => {
        if (m.from !== 'b' || m.round !== 3 || m.to !== null) return m;
        const o = decodePayload(m.payload, 'b') as Record<string, unknown>;
        const mod = o.mod as { z: string[] };
        mod.z = [...mod.z].reverse();
        return { ...m, payload: encodePayload(o as never) };
      }),
    );
    expect(e.message).toMatch(/Π\^mod of b/);
    expect(e.culprits).toEqual(['b']);
  });

  it('names a party that sends a zero refresh share or a short Paillier modulus', () => {
    const e = abortOf(() =>
      runAuxRefresh(kg2, 8, (m) => {
        if (m.from !== 'a' || m.round !== 3 || m.to !== 'b') return m;
        const o = decodePayload(m.payload, 'a') as Record<string, unknown>;
        o.share = '0';
        return { ...m, payload: encodePayload(o as never) };
      }),
    );
    expect(e.code).toBe('cmp_bad_share');
    expect(e.culprits).toEqual(['a']);
    const p = generatePrimeSync(512, { add: 4n, rem: 3n, bigint: true });
    const q = generatePrimeSync(512, { add: 4n, rem: 3n, bigint: true });
    const e2 = abortOf(() => runAuxRefresh(kg2, 10, undefined, (id) => (id === 'b' ? new PaillierSecretKey(p, q) : undefined)));
    expect(e2.code).toBe('cmp_bad_modulus');
    expect(e2.culprits).toEqual(['b']);
  });
});
