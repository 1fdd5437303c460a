/**
 * Benchmarks of the big-integer layer for `custos bench`: 4096-bit modular exponentiation (full-length
 * exponent, as in Paillier operations modulo N²) on the native path, the pure-BigInt path and the
 * secret-exponent ladder, plus the 2048-bit case (ring-Pedersen and Paillier-Blum operations).
 *
 * @example
 *   const r = benchModexp({ iterations: 3 }); // { modexp_4096_native_ms: 12.1, ... }
 */
import { randomBytes } from 'node:crypto';
import { fromBytes } from './arith.js';
import { modPowBigInt, modPowLadder, modPowNative, modPowRsa, modPowSecret } from './modpow.js';

export interface ModexpBench {
  /** The default path (native), under the key name `custos bench protocols --json` reports. */
  modexp_4096_ms: number;
  /** OpenSSL, DH route (constant-time Montgomery). */
  modexp_4096_native_ms: number;
  /** OpenSSL, RSA public operation in 63-bit exponent chunks. */
  modexp_4096_rsa_ms: number;
  modexp_4096_bigint_ms: number;
  /** Secret-exponent path (native, exponent shifted to a fixed length, plus correction). */
  modexp_4096_secret_ms: number;
  modexp_4096_ladder_ms: number;
  modexp_2048_native_ms: number;
  modexp_2048_rsa_ms: number;
  modexp_2048_bigint_ms: number;
  modexp_2048_secret_ms: number;
  modexp_2048_ladder_ms: number;
}

function time(iterations: number, f: () => void): number {
  const t0 = performance.now();
  for (let i = 0; i < iterations; i++) f();
  return (performance.now() - t0) / iterations;
}

export function benchModexp(opts: { iterations?: number } = {}): ModexpBench {
  const it = opts.iterations ?? 5;
  const out: Record<string, number> = {};
  for (const bits of [4096, 2048]) {
    const m = fromBytes(randomBytes(bits / 8)) | 1n | (1n << BigInt(bits - 1));
    const e = fromBytes(randomBytes(bits / 8));
    const x = fromBytes(randomBytes(bits / 8)) % m;
    out[`modexp_${bits}_native_ms`] = time(it, () => modPowNative(x, e, m));
    out[`modexp_${bits}_rsa_ms`] = time(it, () => modPowRsa(x, e, m));
    out[`modexp_${bits}_bigint_ms`] = time(it, () => modPowBigInt(x, e, m));
    out[`modexp_${bits}_secret_ms`] = time(it, () => modPowSecret(x, e, m, bits));
    out[`modexp_${bits}_ladder_ms`] = time(it, () => modPowLadder(x, e, m, bits));
  }
  out.modexp_4096_ms = out.modexp_4096_native_ms as number;
  return out as unknown as ModexpBench;
}
