import { randomBytes } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import { AttestationError } from './errors.js';

export interface NonceBookOptions {
  clock: Clock;
  /** How long an issued nonce may be answered (default 5 minutes). */
  ttlMs?: number;
  /** Most nonces outstanding at once (default 10 000); beyond it `issue` refuses. */
  maxOutstanding?: number;
  random?: (n: number) => Uint8Array;
}

/**
 * Single-use challenge nonces for attestation (the verifier's side of freshness): `issue` hands
 * out 32 random bytes, `consume` accepts each exactly once and only before it expires. A replayed
 * document therefore fails even inside its max age. In memory: a verifier that restarts forgets
 * outstanding nonces, which only makes pending attestations fail (safe direction).
 *
 * @example
 *   const nonce = book.issue(); const doc = await enclave.attest(undefined, pk, nonce);
 *   book.consume(verifyAttestation(doc, { ...opts, expectedNonce: nonce }).nonce!);
 */
export class NonceBook {
  private readonly outstanding = new Map<string, number>();
  private readonly ttlMs: number;
  private readonly maxOutstanding: number;
  private readonly random: (n: number) => Uint8Array;

  constructor(private readonly options: NonceBookOptions) {
    this.ttlMs = options.ttlMs ?? 5 * 60_000;
    this.maxOutstanding = options.maxOutstanding ?? 10_000;
    this.random = options.random ?? ((n) => new Uint8Array(randomBytes(n)));
  }

  issue(): Uint8Array {
    const now = this.options.clock.now();
    for (const [k, expires] of this.outstanding) if (expires <= now) this.outstanding.delete(k);
    if (this.outstanding.size >= this.maxOutstanding) throw new AttestationError('attestation_nonce', 'too many attestation nonces outstanding');
    const nonce = this.random(32);
    const key = Buffer.from(nonce).toString('hex');
    if (nonce.length !== 32 || this.outstanding.has(key)) throw new TypeError('random source returned a bad or repeated nonce');
    this.outstanding.set(key, now + this.ttlMs);
    return nonce;
  }

  /** Accept a nonce once; throws `attestation_nonce` for an unknown, expired or already used one. */
  consume(nonce: Uint8Array): void {
    const key = Buffer.from(nonce).toString('hex');
    const expires = this.outstanding.get(key);
    this.outstanding.delete(key);
    if (expires === undefined) throw new AttestationError('attestation_nonce', 'nonce was not issued here or has already been used');
    if (this.options.clock.now() >= expires) throw new AttestationError('attestation_nonce', 'nonce has expired');
  }
}
