import { describe, expect, it } from 'vitest';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { ProtocolAbort } from '../round.js';
import { runAuxRefresh, runKeygen } from './testdata/setup.js';
import { runPresign, runSign } from './testdata/sign-setup.js';
import { secureRng } from './testdata/fixtures.js';
import { startPresign } from './presign.js';
import { isModulusWarm } from '../../bigint/index.js';
import { keyShareFromJson, keyShareToJson, type CmpKeyShare } from './keyshare.js';

// Two real aux/refresh runs (2 parties each) and three presignatures: several seconds of CPU.
describe('CMP key refresh end to end (2-of-2)', { timeout: 120_000 }, () => {
  const kg = runKeygen(2, ['a', 'b']);
  const epoch1 = runAuxRefresh(kg, 12);
  const epoch2 = runAuxRefresh(epoch1, 14);
  // right after the refresh, before any test computes with the epoch-1 key again
  const epoch1PrimesWarm = epoch1.get('a')!.aux!.paillier.secretModuli().map(isModulusWarm);
  const pk = kg.get('a')!.publicKey;

  it('both epochs sign under the same public key', () => {
    for (const shares of [epoch1, epoch2]) {
      const digest = sha256(new TextEncoder().encode(`epoch ${shares === epoch1 ? 1 : 2}`));
      const sig = runSign(runPresign(shares, ['a', 'b']), digest).get('a')!;
      expect(secp256k1.verify(sig.compact, digest, pk.toBytes(true), { prehash: false })).toBe(true);
    }
    expect(epoch2.get('a')!.share).not.toBe(epoch1.get('a')!.share);
  });

  it('aux output and key load set up every modulus; a refresh drops the superseded primes', () => {
    const moduli = (k: CmpKeyShare) => {
      const aux = k.aux!;
      return [...aux.paillier.secretModuli(), ...[...aux.parties.values()].flatMap((a) => [a.paillier.n, a.paillier.n2])];
    };
    const a2 = epoch2.get('a')!;
    expect(moduli(a2).every(isModulusWarm)).toBe(true);
    // epoch 1's primes of 'a' were dropped when epoch 2 replaced them
    expect(epoch1PrimesWarm).toEqual([false, false, false, false]);
    const again = keyShareFromJson(keyShareToJson(epoch1.get('a')!));
    expect(moduli(again).every(isModulusWarm)).toBe(true);
  });

  it('an old-epoch share mixed with a new-epoch share cannot presign; the up-to-date party names the stale one', () => {
    // 'a' still holds its epoch-1 share and aux info; 'b' is on epoch 2. Seen from 'b', a's Π^enc
    // refers to a's old Paillier key and fails. ('a', working from stale data, blames 'b' in turn:
    // from its own data it cannot tell which side is stale.)
    const session = 'mixed-' + Math.random().toString(16).slice(2);
    const startA = startPresign({ session, share: epoch1.get('a')!, signers: ['a', 'b'] }, secureRng);
    const startB = startPresign({ session, share: epoch2.get('b')!, signers: ['a', 'b'] }, secureRng);
    if (startB.kind !== 'next') throw new Error('unexpected');
    let abort: ProtocolAbort | undefined;
    try {
      startB.next.finalize(startA.outbox.filter((m) => m.to === null || m.to === 'b'));
    } catch (e) {
      if (e instanceof ProtocolAbort) abort = e;
      else throw e;
    }
    expect(abort?.culprits).toEqual(['a']);
  });
});
