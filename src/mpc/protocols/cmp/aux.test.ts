import { describe, expect, it } from 'vitest';
import { ProtocolAbort } from '../round.js';
import { mulG } from './group.js';
import { keyShareFromJson, keyShareToJson } from './keyshare.js';
import { Q } from './params.js';
import { evaluationPoints, lagrangeAtZero } from './shamir.js';
import { SAFE_PRIMES } from './testdata/fixtures.js';
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

describe('CMP aux info + refresh (2-of-3)', () => {
  const kg = runKeygen(2, ids);
  const refreshed = runAuxRefresh(kg, 0);

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

  it('old shares are useless with new ones: mixing them does not give the key', () => {
    const pk = kg.get('a')!.publicKey;
    const mixed = new Map([
      ['a', kg.get('a')!],
      ['c', refreshed.get('c')!],
    ]);
    expect(mulG(reconstruct(mixed, ['a', 'c'])).equals(pk)).toBe(false);
  });

  it('refuses a modulus with a small factor (missing Π^fac attack) and names the party', () => {
    // 'b' brings N = p·q with q tiny-factor composite of the right size; Π^mod fails first or Π^fac does
    const small = 65537n;
    const p = SAFE_PRIMES[10]!;
    let q = (1n << 1023n) / small;
    q = q * small + 0n; // q is a multiple of 65537 with 1023-1024 bits: N has a small factor
    const e = abortOf(() =>
      runAuxRefresh(kg, 4, undefined, (id, k) => (id === 'b' ? { p, q: q | (1n << 1023n) ? fixOdd(q) : q } : { p: SAFE_PRIMES[2 * (4 + k)]!, q: SAFE_PRIMES[2 * (4 + k) + 1]! })),
    );
    expect(e.culprits).toEqual(['b']);
  });
});

function fixOdd(q: bigint): bigint {
  // a 1024-bit number ≡ 3 mod 4 divisible by 65537: 65537 · m with m ≡ 3 mod 4 (65537 ≡ 1 mod 4)
  let m = ((1n << 1023n) / 65537n) + 1n;
  while ((m & 3n) !== 3n) m++;
  void q;
  return 65537n * m;
}
