/**
 * Benchmark of the FROST protocols with all parties in one process (what `custos bench protocols`
 * reports): 3-of-5 DKG, 3-of-5 refresh, and one signature by 3 signers including aggregation, for
 * Ed25519 and BIP-340 (Taproot key path), each the median of `iterations` runs after one warm-up.
 *
 * @example
 *   const r = benchFrost({ iterations: 5 });
 *   console.log(r.frost_ed25519_sign_ms, r.frost_schnorr_sign_ms);
 */
import { randomBytes } from 'node:crypto';
import type { FROST } from '@noble/curves/abstract/frost.js';
import { ed25519, ed25519_FROST } from '@noble/curves/ed25519.js';
import { schnorr, schnorr_FROST } from '@noble/curves/secp256k1.js';
import type { PartyId, Rng } from '../round.js';
import { startDkg } from './dkg.js';
import type { FrostKeyShare } from './key-share.js';
import { runLocal } from './local-run.js';
import { startRefresh } from './refresh.js';
import { startSign } from './sign.js';
import type { SuiteName } from './suite.js';

export interface FrostBench {
  readonly frost_ed25519_dkg_ms: number;
  readonly frost_schnorr_dkg_ms: number;
  readonly frost_ed25519_refresh_ms: number;
  readonly frost_schnorr_refresh_ms: number;
  /** 3 signers' two rounds plus aggregation and the final verification. */
  readonly frost_ed25519_sign_ms: number;
  /** Same, BIP-340 with the BIP-86 Taproot tweak. */
  readonly frost_schnorr_sign_ms: number;
  /** The plain @noble/curves FROST flow (commit, signShare, aggregate; 3 of 5), for comparison. */
  readonly noble_frost_ed25519_sign_ms: number;
  readonly noble_frost_schnorr_sign_ms: number;
  /** Single-key @noble/curves signatures, for the ratio. */
  readonly single_key_ed25519_sign_ms: number;
  readonly single_key_schnorr_sign_ms: number;
  readonly iterations: number;
}

const rng: Rng = (n) => new Uint8Array(randomBytes(n));
const session = (): string => randomBytes(32).toString('hex');
const parties = ['p1', 'p2', 'p3', 'p4', 'p5'];

function median(f: () => void, iterations: number, warmup: boolean): number {
  if (warmup) f();
  const times: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const t0 = performance.now();
    f();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return Math.round((times[Math.floor(times.length / 2)] as number) * 100) / 100;
}

function dkg(suite: SuiteName): Map<PartyId, FrostKeyShare> {
  const s = session();
  return runLocal(new Map(parties.map((p) => [p, startDkg({ suite, session: s, self: p, parties, threshold: 3, rng })])));
}

function sign(keys: Map<PartyId, FrostKeyShare>, message: Uint8Array, taproot: boolean): void {
  const s = session();
  const signers = ['p1', 'p3', 'p5'];
  runLocal(new Map(signers.map((p) => [p, startSign({
    key: keys.get(p) as FrostKeyShare, session: s, signers, message, rng,
    taprootMerkleRoot: taproot ? new Uint8Array(0) : undefined,
  })])));
}

function refresh(keys: Map<PartyId, FrostKeyShare>): void {
  const s = session();
  runLocal(new Map([...keys].map(([p, key]) => [p, startRefresh({ key, session: s, rng })])));
}

function nobleFlow(frost: FROST, message: Uint8Array): () => void {
  const ids = [1, 2, 3, 4, 5].map((i) => frost.Identifier.fromNumber(i));
  const deal = frost.trustedDealer({ min: 3, max: 5 }, ids);
  const signers = [ids[0], ids[2], ids[4]] as string[];
  return () => {
    const r1 = signers.map((id) => frost.commit(deal.secretShares[id] as never));
    const list = r1.map((r) => r.commitments);
    const shares: Record<string, Uint8Array> = {};
    signers.forEach((id, i) => {
      shares[id] = frost.signShare(deal.secretShares[id] as never, deal.public, (r1[i] as (typeof r1)[number]).nonces, list, message);
    });
    frost.aggregate(deal.public, list, message, shares);
  };
}

/** Runs the FROST benchmark (a few seconds at the default 5 iterations on a 2-core machine). */
export function benchFrost(options: { iterations?: number; warmup?: boolean } = {}): FrostBench {
  const iterations = options.iterations ?? 5;
  const warm = options.warmup ?? true;
  const median_ = (f: () => void, n: number): number => median(f, n, warm);
  const message = new Uint8Array(randomBytes(32));
  const edKeys = dkg('ed25519');
  const btcKeys = dkg('bip340');
  const edSecret = ed25519.utils.randomSecretKey();
  const btcSecret = schnorr.utils.randomSecretKey();
  return {
    frost_ed25519_dkg_ms: median_(() => dkg('ed25519'), iterations),
    frost_schnorr_dkg_ms: median_(() => dkg('bip340'), iterations),
    frost_ed25519_refresh_ms: median_(() => refresh(edKeys), iterations),
    frost_schnorr_refresh_ms: median_(() => refresh(btcKeys), iterations),
    frost_ed25519_sign_ms: median_(() => sign(edKeys, message, false), iterations),
    frost_schnorr_sign_ms: median_(() => sign(btcKeys, message, true), iterations),
    noble_frost_ed25519_sign_ms: median_(nobleFlow(ed25519_FROST, message), iterations),
    noble_frost_schnorr_sign_ms: median_(nobleFlow(schnorr_FROST, message), iterations),
    single_key_ed25519_sign_ms: median_(() => ed25519.sign(message, edSecret), iterations * 4),
    single_key_schnorr_sign_ms: median_(() => schnorr.sign(message, btcSecret), iterations * 4),
    iterations,
  };
}
