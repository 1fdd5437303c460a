import { randomBytes } from 'node:crypto';
import { manualClock } from '../core/clock.js';
import { clearCertificateCache } from './certificate-chain.js';
import { createDevelopmentIntermediate, createDevelopmentRoot, pinDevelopmentRoot } from './development-ca.js';
import { DevelopmentAttester } from './development-attester.js';
import { measureEntries } from './measure.js';
import { verifyAttestation } from './verify-attestation.js';

export interface EnclaveBenchResult {
  /** Verifications per second of a document whose chain is already known (same instance, warm cache). */
  attestation_verify_per_s: number;
  /** Milliseconds for one verification with nothing memoised (every chain signature checked). */
  attestation_verify_cold_ms: number;
  /** Development documents signed per second. */
  development_attest_per_s: number;
}

/**
 * Measure attestation throughput on this machine for `custos bench enclave`, on development
 * documents shaped like AWS ones (root → three intermediates → leaf, so five ECDSA P-384
 * verifications cold). Timing only; nothing here is asserted.
 *
 * @example
 *   const r = benchEnclave({ iterations: 200 }); console.log(r.attestation_verify_per_s);
 */
export function benchEnclave(options: { iterations?: number } = {}): EnclaveBenchResult {
  const n = options.iterations ?? 200;
  const now = Date.now();
  const clock = manualClock(now);
  const root = createDevelopmentRoot({ now: now - 86_400_000, pathLen: 3 });
  const regional = createDevelopmentIntermediate(root, { now: now - 86_400_000, name: 'regional', pathLen: 2 });
  const zonal = createDevelopmentIntermediate(regional, { now: now - 86_400_000, name: 'zonal', pathLen: 1 });
  const instance = createDevelopmentIntermediate(zonal, { now: now - 86_400_000, name: 'instance', pathLen: 0 });
  const measurement = measureEntries([{ name: 'bench', content: new Uint8Array(1024) }]);
  const attester = new DevelopmentAttester({ ca: instance, moduleId: 'bench', measurement, clock });
  const nonce = new Uint8Array(randomBytes(32));
  const doc = attester.attest({ nonce, publicKey: new Uint8Array(randomBytes(65)) });
  const opts = { roots: [pinDevelopmentRoot(root)], at: now, maxAgeMs: 60_000, expectedNonce: nonce };

  let cold = 0;
  const coldRuns = Math.max(5, Math.floor(n / 20));
  for (let i = 0; i < coldRuns; i++) {
    clearCertificateCache();
    const t = performance.now();
    verifyAttestation(doc, opts);
    cold += performance.now() - t;
  }
  verifyAttestation(doc, opts);
  let t = performance.now();
  for (let i = 0; i < n; i++) verifyAttestation(doc, opts);
  const warmMs = performance.now() - t;

  t = performance.now();
  for (let i = 0; i < n; i++) attester.attest({ nonce });
  const attestMs = performance.now() - t;
  return {
    attestation_verify_per_s: Math.round((n * 1000) / warmMs),
    attestation_verify_cold_ms: Number((cold / coldRuns).toFixed(2)),
    development_attest_per_s: Math.round((n * 1000) / attestMs),
  };
}
