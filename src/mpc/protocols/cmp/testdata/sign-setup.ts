/**
 * Test-only: run presigning and online signing for a signer set in one process.
 *
 * @example
 *   const presigs = runPresign(shares, ['a', 'c']); const sigs = runSign(presigs, digest);
 */
import type { RoundResult } from '../../round.js';
import type { CmpKeyShare } from '../keyshare.js';
import { startPresign } from '../presign.js';
import type { Presignature } from '../presignature.js';
import { startSign, type EcdsaSignature } from '../sign.js';
import { secureRng } from './fixtures.js';
import { runAll, runEach, type Adversary, type PartyEnd, type Tamper } from './run.js';
import { freshSession } from './setup.js';

export function runPresign(shares: ReadonlyMap<string, CmpKeyShare>, signers: readonly string[], tamper?: Tamper): Map<string, Presignature> {
  const session = freshSession('pre');
  const starts = new Map<string, RoundResult<Presignature>>(
    signers.map((id) => [id, startPresign({ session, share: shares.get(id) as CmpKeyShare, signers }, secureRng)]),
  );
  return runAll(starts, tamper);
}

export function runSign(presigs: ReadonlyMap<string, Presignature>, digest: Uint8Array, tamper?: Tamper): Map<string, EcdsaSignature> {
  const starts = new Map<string, RoundResult<EcdsaSignature>>([...presigs].map(([id, p]) => [id, startSign({ presignature: p, digest }, secureRng)]));
  return runAll(starts, tamper);
}

/** Presigning with every party run to its own end (output or abort); `adversary` corrupts parties. */
export function presignEach(shares: ReadonlyMap<string, CmpKeyShare>, signers: readonly string[], hook?: Tamper, adversary?: Adversary<Presignature>): Map<string, PartyEnd<Presignature>> {
  const session = freshSession('pre');
  const starts = new Map<string, RoundResult<Presignature>>(
    signers.map((id) => [id, startPresign({ session, share: shares.get(id) as CmpKeyShare, signers }, secureRng)]),
  );
  return runEach(starts, hook, adversary);
}

export function signEach(presigs: ReadonlyMap<string, Presignature>, digest: Uint8Array, hook?: Tamper, adversary?: Adversary<EcdsaSignature>): Map<string, PartyEnd<EcdsaSignature>> {
  const starts = new Map<string, RoundResult<EcdsaSignature>>([...presigs].map(([id, p]) => [id, startSign({ presignature: p, digest }, secureRng)]));
  return runEach(starts, hook, adversary);
}
