/**
 * Test-only: run keygen and aux/refresh for a set of parties in one process, using the fixture
 * safe primes (party k of a run gets fixture pair `offset + k`).
 *
 * @example
 *   const shares = runAuxRefresh(runKeygen(3, ['a','b','c','d','e']), 0);
 */
import type { RoundResult } from '../../round.js';
import { startAuxRefresh, startAuxRefreshWithKey } from '../aux.js';
import type { PaillierSecretKey } from '../paillier.js';
import { startKeygen } from '../keygen.js';
import type { CmpKeyShare } from '../keyshare.js';
import { SAFE_PRIMES, secureRng } from './fixtures.js';
import { runAll, type Tamper } from './run.js';

let counter = 0;
export function freshSession(prefix: string): string {
  return `${prefix}-${++counter}-${Math.random().toString(16).slice(2)}`;
}

export function runKeygen(t: number, ids: readonly string[], tamper?: Tamper): Map<string, CmpKeyShare> {
  const session = freshSession('kg');
  const starts = new Map<string, RoundResult<CmpKeyShare>>(ids.map((self) => [self, startKeygen({ session, self, parties: ids, threshold: t }, secureRng)]));
  return runAll(starts, tamper);
}

export function runAuxRefresh(
  shares: ReadonlyMap<string, CmpKeyShare>,
  primeOffset: number,
  tamper?: Tamper,
  keyFor?: (id: string) => PaillierSecretKey | undefined,
): Map<string, CmpKeyShare> {
  const session = freshSession('aux');
  const ids = [...shares.keys()];
  const starts = new Map<string, RoundResult<CmpKeyShare>>(
    ids.map((id, k) => {
      const primes = {
        p: SAFE_PRIMES[(2 * (primeOffset + k)) % 32] as bigint,
        q: SAFE_PRIMES[(2 * (primeOffset + k) + 1) % 32] as bigint,
      };
      const share = shares.get(id) as CmpKeyShare;
      const evil = keyFor?.(id);
      return [id, evil ? startAuxRefreshWithKey(session, share, evil, secureRng) : startAuxRefresh({ session, share, primes }, secureRng)];
    }),
  );
  return runAll(starts, tamper);
}
