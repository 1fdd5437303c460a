/**
 * Test-only helpers: Paillier keys and ring-Pedersen parameters from the pre-generated safe primes
 * in safe-primes-1024.json (see SOURCES.md), and a seeded deterministic byte source for replayable
 * tests. Never used by production code.
 *
 * @example
 *   const sk = fixturePaillier(0); // primes 0 and 1
 */
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { shake256 } from '@noble/hashes/sha3.js';
import type { ByteSource } from '../../../bigint/index.js';
import { paillierFromPrimes, type PaillierSecretKey } from '../paillier.js';
import { ringPedersenGenerate, type RingPedersen } from '../pedersen.js';

const data = JSON.parse(readFileSync(new URL('./safe-primes-1024.json', import.meta.url), 'utf8')) as { primes: string[] };

export const SAFE_PRIMES: readonly bigint[] = data.primes.map((h) => BigInt('0x' + h));

/** Paillier key from fixture primes 2i and 2i+1 (i < 16). */
export function fixturePaillier(i: number): PaillierSecretKey {
  return paillierFromPrimes(SAFE_PRIMES[2 * i] as bigint, SAFE_PRIMES[2 * i + 1] as bigint);
}

export function fixtureAux(i: number, rng: ByteSource = secureRng): { sk: PaillierSecretKey; rp: RingPedersen; lambda: bigint } {
  const sk = fixturePaillier(i);
  const { params, lambda } = ringPedersenGenerate(sk, rng);
  return { sk, rp: params, lambda };
}

export const secureRng: ByteSource = (n) => new Uint8Array(randomBytes(n));

/** Deterministic byte stream from a seed (SHAKE256 in counter mode), for replayable tests. */
export function seededRng(seed: string): ByteSource {
  let ctr = 0;
  return (n) => shake256.create({ dkLen: n }).update(new TextEncoder().encode(`${seed}/${ctr++}`)).digest();
}
