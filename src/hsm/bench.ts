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
import { CK } from './pkcs11-api.js';
import type { Hsm } from './hsm.js';
import { Pkcs11Hsm } from './pkcs11-hsm.js';
import { ED25519_EC_PARAMS, SECP256K1_EC_PARAMS } from './ec-encoding.js';
import { acquirePkcs11Library, releasePkcs11Library } from './pkcs11-module.js';
import { findSlot, initToken } from './pkcs11-token.js';
import { softHsmStatus, useTemporarySoftHsm } from './softhsm.js';

export interface HsmSignBenchResult {
  backend: string;
  description: string;
  hsm_ecdsa_sign_per_s: number;
  hsm_ed25519_sign_per_s: number;
  concurrency: number;
  duration_ms_each: number;
  /** SoftHSM2 only: bare C_SignInit + C_Sign on one session, without custos' checks around it. */
  raw?: { ecdsa_sign_per_s: number; ed25519_sign_per_s: number };
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

/** The token's own speed: session-object keys, synchronous C_Sign in a loop, nothing else. */
function rawSoftHsmRates(library: string, tokenLabel: string, durationMs: number): { ecdsa_sign_per_s: number; ed25519_sign_per_s: number } {
  const lib = acquirePkcs11Library(library);
  const { pkcs11 } = lib;
  const session = pkcs11.C_OpenSession(findSlot(lib, tokenLabel), CK.CKF_SERIAL_SESSION | CK.CKF_RW_SESSION);
  try {
    const pair = (mechanism: number, params: Uint8Array) =>
      pkcs11.C_GenerateKeyPair(
        session,
        { mechanism },
        [{ type: CK.CKA_TOKEN, value: false }, { type: CK.CKA_EC_PARAMS, value: Buffer.from(params) }, { type: CK.CKA_VERIFY, value: true }],
        [{ type: CK.CKA_TOKEN, value: false }, { type: CK.CKA_SENSITIVE, value: true }, { type: CK.CKA_SIGN, value: true }],
      ).privateKey;
    const k1 = pair(CK.CKM_EC_KEY_PAIR_GEN, SECP256K1_EC_PARAMS);
    const ed = pair(CK.CKM_EC_EDWARDS_KEY_PAIR_GEN, ED25519_EC_PARAMS);
    const loop = (mechanism: number, key: Buffer) => {
      const data = randomBytes(32);
      const out = Buffer.alloc(64);
      let n = 0;
      const start = performance.now();
      while (performance.now() - start < durationMs) {
        pkcs11.C_SignInit(session, { mechanism }, key);
        pkcs11.C_Sign(session, data, out);
        n++;
      }
      return Math.round((n / (performance.now() - start)) * 1000 * 10) / 10;
    };
    return { ecdsa_sign_per_s: loop(CK.CKM_ECDSA, k1), ed25519_sign_per_s: loop(CK.CKM_EDDSA, ed) };
  } finally {
    pkcs11.C_CloseSession(session);
    releasePkcs11Library(lib);
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
      const result = await benchHsmSigning(hsm, options);
      return { ...result, raw: rawSoftHsmRates(status.library, 'custos-bench', options.durationMs ?? 2000) };
    } finally {
      await hsm.close();
    }
  } finally {
    home.remove();
  }
}
