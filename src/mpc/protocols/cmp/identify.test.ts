import { describe, expect, it } from 'vitest';
import { sha256 } from '@noble/hashes/sha2.js';
import { modPowSecret } from '../../bigint/index.js';
import type { Json, Message, RoundResult } from '../round.js';
import { decodePayload, encodePayload, hexInt, hexPoint, parseHexInt } from './codec.js';
import { mulG, Point, pointFromHex, scalar } from './group.js';
import { restoreRound } from './machine.js';
import { ELL } from './params.js';
import { Presignature } from './presignature.js';
import { affGEncode } from './proofcodec.js';
import type { EcdsaSignature } from './sign.js';
import { secureRng as rng } from './testdata/fixtures.js';
import type { PartyEnd } from './testdata/run.js';
import { fixtureShares } from './testdata/shares.js';
import { presignEach, runPresign, signEach } from './testdata/sign-setup.js';
import { proveAffG } from './zk/affg.js';

type Obj = Record<string, Json>;

function rewrite(m: Message, f: (o: Obj) => void): Message {
  const o = decodePayload(m.payload, m.from) as Obj;
  f(o);
  return { ...m, payload: encodePayload(o) };
}

/** A corrupted party changes its own next-round state and what it sends, consistently. */
function corrupt<Out>(res: RoundResult<Out>, f: (state: Obj, outbox: Message[]) => Message[]): RoundResult<Out> {
  if (res.kind !== 'next') return res;
  const st = res.next.serialize();
  const data = JSON.parse(JSON.stringify(st.data)) as Obj;
  const outbox = f(data, res.outbox);
  return { kind: 'next', next: restoreRound<Out>({ ...st, data }, rng), outbox };
}

/** The party `who` corrupts itself when its result's next round is `round`. */
function at<Out>(who: string, round: number, f: (state: Obj, outbox: Message[]) => Message[]) {
  return (id: string, res: RoundResult<Out>) => (id === who && res.kind === 'next' && res.next.number === round ? corrupt(res, f) : res);
}

function broadcastField(outbox: Message[], round: number, f: (o: Obj) => void): Message[] {
  return outbox.map((m) => (m.to === null && m.round === round ? rewrite(m, f) : m));
}

/** Every party (or the listed honest ones: a cheater's own verdict does not matter) names exactly `culprits`. */
function expectAllName<Out>(ends: Map<string, PartyEnd<Out>>, code: string, culprits: string[], honest?: string[]): void {
  for (const [id, end] of ends) {
    if (honest && !honest.includes(id)) continue;
    if (!('abort' in end)) throw new Error(`${id} did not abort`);
    expect({ id, code: end.abort.code, culprits: end.abort.culprits }).toEqual({ id, code, culprits });
  }
}

describe('identifiable abort: presigning δ and χ, signing σ (2-of-3 fixture, all three sign)', { timeout: 60_000 }, () => {
  const shares = fixtureShares('2of3');
  const signers = ['a', 'b', 'c'];

  it('a signer that sends a wrong δ_i is named by every signer (every round resumed from JSON); the reveals carry no χ_i, x_i or prime', () => {
    const seen: string[] = [];
    const secrets: bigint[] = [];
    const cheat = at<Presignature>('c', 3, (st, out) => {
      const d = hexInt(scalar(parseHexInt(st.delta as string) + 1n));
      st.delta = d;
      return broadcastField(out, 3, (o) => (o.delta = d));
    });
    const ends = presignEach(
      shares,
      signers,
      (m) => {
        if (m.round === 4) seen.push(new TextDecoder().decode(m.payload));
        return m;
      },
      (id, res) => {
        if (res.kind === 'next' && res.next.number === 3) secrets.push(parseHexInt((res.next.serialize().data as Obj).chi as string));
        return corrupt(cheat(id, res), (_st, out) => out); // every party continues from its JSON state
      },
    );
    expectAllName(ends, 'cmp_bad_delta', ['c']);
    for (const sh of shares.values()) secrets.push(sh.share, sh.aux!.paillier.p, sh.aux!.paillier.q);
    const text = seen.join('\n');
    expect(seen.length).toBe(6);
    for (const secret of secrets) expect(text.includes(secret.toString(16))).toBe(false);
  });

  for (const [who, wrong] of [['b', 'gamma'], ['a', 'k']] as const) {
    it(`a signer that computes δ_i with a wrong ${wrong === 'gamma' ? 'k (k+1)' : 'γ (γ+1)'} is named, never an honest one`, () => {
      const ends = presignEach(shares, signers, undefined, at(who, 3, (st, out) => {
        // δ_i with k_i+1 instead of k_i adds γ_i; with γ_i+1 instead of γ_i it adds k_i
        const d = hexInt(scalar(parseHexInt(st.delta as string) + parseHexInt(st[wrong] as string)));
        st.delta = d;
        return broadcastField(out, 3, (o) => (o.delta = d));
      }));
      expectAllName(ends, 'cmp_bad_delta', [who]);
    });
  }

  it('a signer whose Δ_i uses a wrong k (k+1)·Γ is named by Π^log* against K_i, by every honest signer', () => {
    const ends = presignEach(shares, signers, undefined, at('c', 3, (st, out) => {
      const D = hexPoint(pointFromHex(st.Delta as string).add(pointFromHex(st.GammaSum as string)));
      st.Delta = D;
      return broadcastField(out, 3, (o) => (o.Delta = D));
    }));
    expectAllName(ends, 'cmp_bad_proof', ['c'], ['a', 'b']);
  });

  it('a signer whose reveal is false (γ that does not match Γ, a wrong decryption, the other kind of reveal) is named', () => {
    const wrongDelta = (st: Obj, out: Message[]) => {
      const d = hexInt(scalar(parseHexInt(st.delta as string) + 5n));
      st.delta = d;
      return broadcastField(out, 3, (o) => (o.delta = d));
    };
    const lieGamma = (_st: Obj, out: Message[]) => broadcastField(out, 4, (o) => (o.gamma = hexInt(parseHexInt(o.gamma as string) + 1n)));
    let ends = presignEach(shares, signers, undefined, (id, res) => at<Presignature>('c', 4, lieGamma)(id, at<Presignature>('c', 3, wrongDelta)(id, res)));
    expectAllName(ends, 'cmp_bad_delta', ['c']);
    // b is honest in δ but lies about what it decrypted from a: b is named (its opening fails)
    const lieAlpha = (_st: Obj, out: Message[]) =>
      broadcastField(out, 4, (o) => {
        const alpha = o.alpha as Record<string, Obj>;
        alpha.a = { ...alpha.a, m: hexInt(parseHexInt(alpha.a!.m as string) + 1n) };
      });
    ends = presignEach(shares, signers, undefined, (id, res) => at<Presignature>('b', 4, lieAlpha)(id, at<Presignature>('c', 3, wrongDelta)(id, res)));
    expectAllName(ends, 'cmp_bad_delta', ['b'], ['a']);
    // c answers the δ identification with a χ reveal
    const wrongKind = (_st: Obj, out: Message[]) => broadcastField(out, 4, (o) => (o.kind = 'chi'));
    ends = presignEach(shares, signers, undefined, (id, res) => at<Presignature>('c', 4, wrongKind)(id, at<Presignature>('c', 3, wrongDelta)(id, res)));
    expectAllName(ends, 'cmp_bad_identification', ['c'], ['a', 'b']);
  });

  it('a signer that sends a wrong Ŝ_i = χ_i·Γ is named (χ identification), and nothing secret is revealed', () => {
    const seen: string[] = [];
    const secrets: bigint[] = [];
    const ends = presignEach(
      shares,
      signers,
      (m) => {
        if (m.round === 4) seen.push(new TextDecoder().decode(m.payload));
        return m;
      },
      (id, res) => {
        // every signer's k_i and χ_i, to check that none is revealed
        if (res.kind === 'next' && res.next.number === 3) {
          const data = res.next.serialize().data as Obj;
          secrets.push(parseHexInt(data.k as string), parseHexInt(data.chi as string));
        }
        return at<Presignature>('a', 3, (st, out) => {
          const S = hexPoint(pointFromHex(st.S as string).add(Point.BASE));
          st.S = S;
          return broadcastField(out, 3, (o) => (o.S = S));
        })(id, res);
      },
    );
    expectAllName(ends, 'cmp_bad_chi', ['a']);
    const text = seen.join('\n');
    expect(text.length).toBeGreaterThan(0);
    for (const sh of shares.values()) secrets.push(sh.share, sh.aux!.paillier.p, sh.aux!.paillier.q);
    expect(secrets.length).toBe(6 + 9);
    for (const secret of secrets) expect(text.includes(secret.toString(16))).toBe(false);
  });

  it('a signer that sends a wrong σ_i is named by every signer (presignatures reloaded from JSON); the honest σ_j pass their check', () => {
    const presigs = new Map([...runPresign(shares, signers)].map(([id, p]) => [id, Presignature.fromJson(JSON.parse(JSON.stringify(p.toJson())))]));
    const digest = sha256(new Uint8Array([42]));
    const ends = signEach(presigs, digest, undefined, (id, res: RoundResult<EcdsaSignature>) =>
      id === 'b' && res.kind === 'next'
        ? corrupt(res, (st, out) => {
            const s = hexInt(scalar(parseHexInt(st.sigma as string) + 1n));
            st.sigma = s;
            return broadcastField(out, 1, (o) => (o.sigma = s));
          })
        : res,
    );
    expectAllName(ends, 'cmp_bad_signature_share', ['b']);
  });

  it('σ identification needs the presignature public shares: an old stored presignature aborts naming nobody', () => {
    const presigs = runPresign(shares, ['a', 'b']);
    const old = new Map(
      [...presigs].map(([id, p]) => {
        const j = p.toJson() as Obj;
        delete j.RBar;
        delete j.SBar;
        return [id, Presignature.fromJson(j)];
      }),
    );
    const ends = signEach(old, sha256(new Uint8Array([1])), (m) => (m.from === 'a' ? rewrite(m, (o) => (o.sigma = hexInt(7n))) : m));
    const b = ends.get('b')!;
    expect('abort' in b && b.abort.code).toBe('cmp_bad_signature');
    expect('abort' in b && b.abort.culprits).toEqual([]);
  });

  it('a wrong γ in the affine operation (D = K^γ\' ⊕ enc(β) with γ\' ≠ γ) cannot be proven: Π^aff-g names the sender', () => {
    const c = shares.get('c')!;
    const skC = c.aux!.paillier;
    const seen = new Map<string, bigint>();
    const swapped = new Map<string, { D: bigint; F: bigint; proof: Json }>();
    const ends = presignEach(shares, ['a', 'c'], (m) => {
      if (m.round === 1 && m.to === null) {
        const o = decodePayload(m.payload, m.from) as Record<string, string>;
        seen.set(`K:${m.from}`, parseHexInt(o.K!));
        seen.set(`G:${m.from}`, parseHexInt(o.G!));
      }
      if (m.from !== 'c' || m.round !== 2) return m;
      if (!swapped.has(m.session)) {
        const gamma = skC.decrypt(seen.get('G:c')!) + 1n; // the cheater's wrong γ'
        const Ka = seen.get('K:a')!;
        const auxA = c.aux!.parties.get('a')!;
        const s = auxA.paillier.randomNonce(rng);
        const r = skC.pk.randomNonce(rng);
        const D = (modPowSecret(Ka, gamma, auxA.paillier.n2, ELL + 1) * auxA.paillier.encrypt(3n, s)) % auxA.paillier.n2;
        const F = skC.pk.encrypt(3n, r);
        const proof = affGEncode(
          proveAffG({ session: m.session, prover: 'c' }, { pk0: auxA.paillier, pk1: skC.pk, C: Ka, D, Y: F, X: mulG(gamma), setup: auxA.pedersen }, { x: gamma, y: 3n, rho: s, rhoY: r }, rng),
        );
        swapped.set(m.session, { D, F, proof });
      }
      const w = swapped.get(m.session)!;
      return m.to === null
        ? rewrite(m, (o) => ((o.D as Obj).a = hexInt(w.D)))
        : rewrite(m, (o) => {
            o.F = hexInt(w.F);
            o.affg = w.proof;
          });
    });
    const a = ends.get('a')!;
    expect('abort' in a && { code: a.abort.code, culprits: a.abort.culprits }).toEqual({ code: 'cmp_bad_proof', culprits: ['c'] });
  });
});
