/**
 * HSM signing throughput for `custos bench enclave`: ECDSA secp256k1 (digest signed in the HSM,
 * low-S normalisation, recovery id and verification included, as callers get it) and Ed25519 (signed
 * and verified), each for a fixed wall-clock duration with a few requests in flight.
 * `benchSoftHsmSigning` sets up a throw-away SoftHSM2 token first and removes it afterwards.
 *
 * @example
 *   const r = await benchSoftHsmSigning({ durationMs: 2000 });
 *   console.log(r.hsm_ecdsa_sign_per_s, r.hsm_ed25519_sign_per_s);
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { CustosError } from '../core/errors.js';
import type { Hsm } from './hsm.js';
import { Pkcs11Hsm } from './pkcs11-hsm.js';
import { initToken } from './pkcs11-token.js';
import { softHsmStatus, useTemporarySoftHsm } from './softhsm.js';

export interface HsmSignBenchResult {
  backend: string;
  description: string;
  hsm_ecdsa_sign_per_s: number;
  hsm_ed25519_sign_per_s: number;
  concurrency: number;
  duration_ms_each: number;
}

export interface HsmBenchOptions {
  /** Wall-clock time per algorithm (default 2000 ms). */
  durationMs?: number;
  /** Requests in flight (default 4). */
  concurrency?: number;
}

async function rate(durationMs: number, concurrency: number, op: (i: number) => Promise<unknown>): Promise<number> {
  let done = 0;
  const start = performance.now();
  const end = start + durationMs;
  const worker = async (w: number) => {
    for (let i = w; performance.now() < end; i += concurrency) {
      await op(i);
      done++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));
  const elapsed = performance.now() - start;
  return Math.round((done / elapsed) * 1000 * 10) / 10;
}

/** Measures on an open Hsm; creates (and deletes) the two bench keys under a random label. */
export async function benchHsmSigning(hsm: Hsm, options: HsmBenchOptions = {}): Promise<HsmSignBenchResult> {
  const durationMs = options.durationMs ?? 2000;
  const concurrency = options.concurrency ?? 4;
  const tag = randomBytes(4).toString('hex');
  const k1 = `bench-secp256k1-${tag}`;
  const ed = `bench-ed25519-${tag}`;
  await hsm.generateSecp256k1(k1);
  await hsm.generateEd25519(ed);
  try {
    const digests = Array.from({ length: 64 }, () => new Uint8Array(randomBytes(32)));
    const pick = (i: number) => digests[i % digests.length] as Uint8Array;
    const ecdsa = await rate(durationMs, concurrency, (i) => hsm.signSecp256k1Digest(k1, pick(i)));
    const eddsa = await rate(durationMs, concurrency, (i) => hsm.signEd25519(ed, pick(i)));
    return {
      backend: hsm.backend,
      description: hsm.description,
      hsm_ecdsa_sign_per_s: ecdsa,
      hsm_ed25519_sign_per_s: eddsa,
      concurrency,
      duration_ms_each: durationMs,
    };
  } finally {
    await hsm.deleteKey(k1);
    await hsm.deleteKey(ed);
  }
}

/** Sets up a temporary SoftHSM2 token, measures, and removes it. Needs softhsm2 and pkcs11js. */
export async function benchSoftHsmSigning(options: HsmBenchOptions = {}): Promise<HsmSignBenchResult> {
  const status = softHsmStatus();
  if (!status.available) throw new CustosError('hsm_unavailable', `cannot benchmark SoftHSM2: ${status.reason}`, 503);
  const home = useTemporarySoftHsm();
  try {
    const pin = randomBytes(12).toString('hex');
    initToken({ library: status.library, tokenLabel: 'custos-bench', soPin: randomBytes(12).toString('hex'), userPin: pin });
    const hsm = await Pkcs11Hsm.open({ library: status.library, tokenLabel: 'custos-bench', pin, maxSessions: options.concurrency ?? 4 });
    try {
      return await benchHsmSigning(hsm, options);
    } finally {
      await hsm.close();
    }
  } finally {
    home.remove();
  }
}
