/**
 * Benchmarks of CGGMP21 for `custos bench protocols`, all parties in one process: key generation,
 * aux info (excluding safe-prime generation, which is timed separately and which a node does ahead
 * of time), loading the signers' key shares (keyShareFromJson, which does the one-time OpenSSL
 * set-up of every modulus, timed from a state where none of those moduli is set up), one
 * presignature for `signers` parties, and online signing from it (the whole round for all signers,
 * and per party).
 *
 * @example
 *   const r = await benchCmp({ parties: 5, threshold: 3 });
 *   r.ecdsa_presign_s; r.ecdsa_online_ms;
 */
import { randomBytes } from 'node:crypto';
import { sha256 } from '@noble/hashes/sha2.js';
import { forgetModuli, generateSafePrime, type ByteSource } from '../../bigint/index.js';
import type { Json, RoundResult } from '../round.js';
import { startAuxRefresh } from './aux.js';
import { startKeygen } from './keygen.js';
import { keyShareFromJson, keyShareToJson, type CmpKeyShare } from './keyshare.js';
import { runLocal } from './local.js';
import { PRIME_BITS } from './params.js';
import { startPresign } from './presign.js';
import type { Presignature } from './presignature.js';
import { startSign, type EcdsaSignature } from './sign.js';

/**
 * Wall-clock seconds/milliseconds, and the process CPU time of each phase (`*_cpu_*`): on a shared
 * machine the wall clock includes waiting for a core, the CPU time does not.
 */
export interface CmpBench {
  ecdsa_safe_primes_s: number;
  ecdsa_keygen_s: number;
  ecdsa_aux_s: number;
  /**
   * Loading the signers' key shares from JSON (all signers together), with the one-time OpenSSL
   * set-up of every modulus they compute modulo (own p, q, p², q²; every party's N and N²), from a
   * state where none of those moduli is set up: what a node pays once per process and key.
   */
  ecdsa_key_load_ms: number;
  /** The first presignature of the process, after the key load above. */
  ecdsa_presign_s: number;
  /** A second presignature in the same process: what a running node pays per presignature. */
  ecdsa_presign_warm_s: number;
  /**
   * One signer's whole online compute from a stored presignature: its σ share, then combining the
   * other signers' shares and verifying the signature (on the second presignature of the process).
   */
  ecdsa_online_ms: number;
  /** Compute of one signer's share (σ_i) alone. */
  ecdsa_online_share_ms: number;
  /** The online round of all signers together in this one process (each combines and verifies), on the first presignature. */
  ecdsa_online_round_ms: number;
  ecdsa_keygen_cpu_s: number;
  ecdsa_aux_cpu_s: number;
  ecdsa_presign_cpu_s: number;
  ecdsa_presign_warm_cpu_s: number;
  ecdsa_online_cpu_ms: number;
}

function cpuSince(c: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(c);
  return (d.user + d.system) / 1e6;
}

export async function benchCmp(opts: { parties?: number; threshold?: number; signers?: number; primes?: readonly bigint[] } = {}): Promise<CmpBench> {
  const n = opts.parties ?? 5;
  const t = opts.threshold ?? 3;
  const signersCount = opts.signers ?? t;
  const rng: ByteSource = (k) => new Uint8Array(randomBytes(k));
  const ids = Array.from({ length: n }, (_, i) => `p${i + 1}`);
  const session = (kind: string) => `bench-${kind}-${randomBytes(8).toString('hex')}`;

  let t0 = performance.now();
  const primes: bigint[] = opts.primes ? [...opts.primes] : [];
  while (primes.length < 2 * n) primes.push(await generateSafePrime(PRIME_BITS));
  const primesS = (performance.now() - t0) / 1000;

  let c0 = process.cpuUsage();
  t0 = performance.now();
  const kgSession = session('keygen');
  const kg = runLocal(new Map<string, RoundResult<CmpKeyShare>>(ids.map((id) => [id, startKeygen({ session: kgSession, self: id, parties: ids, threshold: t }, rng)])));
  const keygenS = (performance.now() - t0) / 1000;
  const keygenCpu = cpuSince(c0);
  c0 = process.cpuUsage();

  t0 = performance.now();
  const auxSession = session('aux');
  const shares = runLocal(
    new Map<string, RoundResult<CmpKeyShare>>(
      ids.map((id, k) => [id, startAuxRefresh({ session: auxSession, share: kg.get(id) as CmpKeyShare, primes: { p: primes[2 * k] as bigint, q: primes[2 * k + 1] as bigint } }, rng)]),
    ),
  );
  const auxS = (performance.now() - t0) / 1000;
  const auxCpu = cpuSince(c0);

  const signers = ids.slice(0, signersCount);
  // key load, cold: drop every cached per-modulus object of these keys (aux info set them up)
  const jsons = signers.map((id) => keyShareToJson(shares.get(id) as CmpKeyShare));
  for (const sh of shares.values()) {
    if (!sh.aux) continue;
    forgetModuli(sh.aux.paillier.secretModuli());
    for (const a of sh.aux.parties.values()) forgetModuli([a.paillier.n, a.paillier.n2]);
  }
  t0 = performance.now();
  const loaded = new Map(signers.map((id, k) => [id, keyShareFromJson(jsons[k] as Json)]));
  const keyLoadMs = performance.now() - t0;

  c0 = process.cpuUsage();
  t0 = performance.now();
  const preSession = session('presign');
  const presigs = runLocal(
    new Map<string, RoundResult<Presignature>>(signers.map((id) => [id, startPresign({ session: preSession, share: loaded.get(id) as CmpKeyShare, signers }, rng)])),
  );
  const presignS = (performance.now() - t0) / 1000;
  const presignCpu = cpuSince(c0);

  const digest = sha256(randomBytes(32));
  c0 = process.cpuUsage();
  t0 = performance.now();
  runLocal(new Map<string, RoundResult<EcdsaSignature>>([...presigs].map(([id, p]) => [id, startSign({ presignature: p, digest }, rng)])));
  const onlineMs = performance.now() - t0;
  const onlineCpu = cpuSince(c0) * 1000;

  // a second presignature (the steady state of a node: per-modulus OpenSSL objects and public
  // ring-Pedersen corrections exist from the first), then one signer's share alone on it
  const preSession2 = session('presign');
  c0 = process.cpuUsage();
  t0 = performance.now();
  const presigs2 = runLocal(
    new Map<string, RoundResult<Presignature>>(signers.map((id) => [id, startPresign({ session: preSession2, share: loaded.get(id) as CmpKeyShare, signers }, rng)])),
  );
  const presignWarmS = (performance.now() - t0) / 1000;
  const presignWarmCpu = cpuSince(c0);
  const [me, ...others] = signers as [string, ...string[]];
  const peers = others.map((id) => startSign({ presignature: presigs2.get(id) as Presignature, digest }, rng).outbox);
  t0 = performance.now();
  const mine = startSign({ presignature: presigs2.get(me) as Presignature, digest }, rng);
  const shareMs = performance.now() - t0;
  if (mine.kind !== 'next') throw new Error('online signing ended in its first step');
  const t1 = performance.now();
  const done = mine.next.finalize(peers.flat());
  const combineMs = performance.now() - t1;
  if (done.kind !== 'done') throw new Error('online signing did not finish');

  return {
    ecdsa_safe_primes_s: primesS,
    ecdsa_keygen_s: keygenS,
    ecdsa_aux_s: auxS,
    ecdsa_key_load_ms: keyLoadMs,
    ecdsa_presign_s: presignS,
    ecdsa_presign_warm_s: presignWarmS,
    ecdsa_online_ms: shareMs + combineMs,
    ecdsa_online_share_ms: shareMs,
    ecdsa_online_round_ms: onlineMs,
    ecdsa_keygen_cpu_s: keygenCpu,
    ecdsa_aux_cpu_s: auxCpu,
    ecdsa_presign_cpu_s: presignCpu,
    ecdsa_presign_warm_cpu_s: presignWarmCpu,
    ecdsa_online_cpu_ms: onlineCpu,
  };
}
