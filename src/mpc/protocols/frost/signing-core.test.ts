/**
 * Cross-checks signing-core.ts against @noble/curves' own RFC 9591 implementation (whose TR suite
 * interoperates with frost-secp256k1-tr): with the same key, nonces and commitments, our signature
 * shares must equal noble's `signShare`, untweaked and with the BIP-341 tweak.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { mulAddUnsafe } from '@noble/curves/abstract/curve.js';
import type { FrostSecret, NonceCommitments, Nonces } from '@noble/curves/abstract/frost.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import type { Message, PartyId, RoundState } from '../round.js';
import { keyIdentifiers, noblePublic, nobleSecret, type FrostKeyShare } from './key-share.js';
import { startSign } from './sign.js';
import { baseMultiply, secp256k1Combination } from './signing-core.js';
import { frostSuite, type SuiteName } from './suite.js';
import { tweakPublic, tweakSecret } from './taproot.js';
import { freshSession, parties5, runDkg, seededRng } from './test-helpers/harness.js';
import { decodePayload } from './wire.js';

describe.each<[SuiteName, string, Uint8Array | undefined]>([
  ['ed25519', 'no tweak', undefined],
  ['bip340', 'no tweak', undefined],
  ['bip340', 'BIP-86 tweak', new Uint8Array(0)],
  ['bip340', 'script-tree tweak', hexToBytes('aa'.repeat(32))],
])('signature shares equal noble\'s signShare (%s, %s)', (suiteName, _label, root) => {
  it('for several keys and signer sets', () => {
    const suite = frostSuite(suiteName);
    const message = hexToBytes('42'.repeat(32));
    for (let run = 0; run < 2; run++) {
      const keys: Map<PartyId, FrostKeyShare> = runDkg(suiteName, parties5.slice(0, 4), 3, { json: false });
      const signers = run === 1 ? ['node-a', 'node-b', 'node-c', 'node-d'] : ['node-a', 'node-c', 'node-d'];
      const session = freshSession('xcheck');
      const starts = signers.map((p) => startSign({ key: keys.get(p)!, session, signers, message, taprootMerkleRoot: root, rng: seededRng(`${session}/${p}`) }));
      const round1 = starts.flatMap((s) => s.outbox);
      const nonces = new Map<PartyId, { hiding: string; binding: string }>();
      const round2: Message[] = [];
      starts.forEach((s, i) => {
        if (s.kind !== 'next') throw new Error('unexpected');
        const p = signers[i]!;
        nonces.set(p, (s.next.serialize() as RoundState & { data: { nonces: { hiding: string; binding: string } } }).data.nonces);
        const r = s.next.finalize(round1.filter((m) => m.from !== p));
        round2.push(...r.outbox);
      });
      const k0 = keys.get('node-a')!;
      const ids = keyIdentifiers(suite, k0);
      const list: NonceCommitments[] = signers.map((p) => {
        const m = round1.find((x) => x.from === p)!;
        const [D, E] = decodePayload(m.payload, 'frost/sign/1', session, 3, p);
        return { identifier: ids.hex(p), hiding: D!, binding: E! } as NonceCommitments;
      });
      let pub = noblePublic(suite, k0);
      if (root !== undefined) pub = tweakPublic(pub, root);
      for (const p of signers) {
        let secret: FrostSecret = nobleSecret(suite, keys.get(p)!);
        if (root !== undefined) secret = tweakSecret(secret, hexToBytes(k0.commitment[0]!), root);
        const n = nonces.get(p)!;
        const theirs = suite.frost.signShare(secret, pub, { hiding: hexToBytes(n.hiding), binding: hexToBytes(n.binding) } as Nonces, list, message);
        const mine = decodePayload(round2.find((m) => m.from === p)!.payload, 'frost/sign/2', session, 1, p)[0]!;
        expect(bytesToHex(mine)).toBe(bytesToHex(theirs));
      }
    }
  });
});

describe('secp256k1Combination (Σ ρ_i·E_i through libsecp256k1) equals @noble/curves', () => {
  const suite = frostSuite('bip340');
  const n = suite.Fn.ORDER;
  const rand = (): bigint => (BigInt(`0x${Buffer.from(randomBytes(32)).toString('hex')}`) % (n - 1n)) + 1n;
  it('on random commitments and binding factors, for 1 to 5 signers', () => {
    for (let signers = 1; signers <= 5; signers++) {
      const points = Array.from({ length: signers }, () => suite.Point.BASE.multiply(rand()));
      const scalars = points.map(() => rand());
      const fast = secp256k1Combination(suite, points.map((p) => p.toBytes()), scalars);
      const plain = mulAddUnsafe(suite.Point as never, points as never[], scalars) as unknown as typeof points[number];
      expect(fast?.equals(plain)).toBe(true);
    }
  });
  it('declines (null, so the caller uses @noble/curves) for a zero scalar or an identity on the way', () => {
    const P = suite.Point.BASE.multiply(rand());
    expect(secp256k1Combination(suite, [P.toBytes()], [0n])).toBeNull();
    expect(secp256k1Combination(suite, [P.toBytes(), P.negate().toBytes()], [7n, 7n])).toBeNull();
    expect(secp256k1Combination(suite, [new Uint8Array(33)], [7n])).toBeNull();
  });
});

describe('baseMultiply (nonce commitments k·G; libsecp256k1 on secp256k1)', () => {
  it('equals @noble/curves for random and edge scalars on both secp256k1 suites and on Ed25519', () => {
    for (const name of ['bip340', 'secp256k1', 'ed25519'] as const) {
      const suite = frostSuite(name);
      const n = suite.Fn.ORDER;
      const ks = [1n, 2n, n - 1n, n - 2n, ...Array.from({ length: 8 }, () => (BigInt(`0x${Buffer.from(randomBytes(32)).toString('hex')}`) % (n - 1n)) + 1n)];
      for (const k of ks) expect(baseMultiply(suite, k).equals(suite.Point.BASE.multiply(k))).toBe(true);
    }
  });
});
