/**
 * `custos bench mpc` (FROST part): end-to-end signing latency through the coordinator with node
 * processes on loopback (authorization check, durable nonce ledger, envelopes, the coordinator's
 * aggregation and verification all included: the time to the verified signature), and distributed
 * key generation time. The nodes then aggregate and record the signature themselves in the
 * background; that is awaited between signatures, untimed. `benchFrostCluster` measures an existing
 * cluster; `runFrostClusterBench` starts five local nodes in a temporary directory, measures, stops.
 *
 * @example
 *   const r = await runFrostClusterBench({ iterations: 50 });
 *   console.log(r.frost_ed25519_sign_p50_ms, r.frost_schnorr_sign_p50_ms, r.frost_keygen_s);
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { signApprovalsFor } from '../../approvals/authorization.js';
import { signAuthorization } from '../node/authorization.js';
import { Coordinator, type NodeEndpoint } from './coordinator.js';
import { startLocalCluster } from './local-cluster.js';

export interface FrostClusterBench {
  readonly nodes: number;
  readonly threshold: number;
  readonly iterations: number;
  readonly frost_keygen_s: number;
  readonly frost_ed25519_sign_p50_ms: number;
  readonly frost_ed25519_sign_p99_ms: number;
  readonly frost_schnorr_sign_p50_ms: number;
  readonly frost_schnorr_sign_p99_ms: number;
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return Number((s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? NaN).toFixed(2));
}

/**
 * Signatures made and not timed before the measured ones (FROST and threshold ECDSA): they open
 * the connections and let V8 compile the signing path. A node in service runs it hot; the first
 * few dozen calls run in V8's interpreter and baseline tiers.
 */
export const WARMUP = 10;

/** Bench approvers: two fresh approval keys per run, pinned in the bench cluster's nodes. */
export function benchApprovers(): { approver: string; secretKey: Uint8Array }[] {
  return ['bench-a', 'bench-b'].map((approver) => ({ approver, secretKey: new Uint8Array(randomBytes(32)) }));
}

/**
 * Measures keygen and signing on running nodes whose policy key is `policySecret` and which pin
 * the approval keys of `approvers` (each authorization carries their real approval signatures).
 */
export async function benchFrostCluster(o: {
  nodes: readonly NodeEndpoint[]; policySecret: Uint8Array; iterations: number; threshold?: number; coordinatorSecret?: Uint8Array;
  approvers: readonly { approver: string; secretKey: Uint8Array }[];
}): Promise<FrostClusterBench> {
  const coordinator = new Coordinator({ nodes: o.nodes, healthTtlMs: 60_000, ...(o.coordinatorSecret ? { secretKey: o.coordinatorSecret } : {}) });
  const t = o.threshold ?? 3;
  const tag = bytesToHex(randomBytes(4));
  const k0 = performance.now();
  await coordinator.keygen({ scheme: 'ed25519', threshold: t, keyId: `bench-ed-${tag}` });
  const keygenS = (performance.now() - k0) / 1000;
  await coordinator.keygen({ scheme: 'schnorr', threshold: t, keyId: `bench-bip-${tag}` });
  const run = async (keyId: string, size: number): Promise<number[]> => {
    const times: number[] = [];
    for (let i = 0; i < WARMUP + o.iterations; i++) {
      const msg = new Uint8Array(randomBytes(size));
      const withdrawalId = `bench-${tag}-${keyId}-${i}`;
      const now = Date.now();
      const withdrawal = { id: withdrawalId, customerId: 'bench', chain: 'bench', asset: 'BENCH', to: 'bench', amount: '1', fee: '0', memo: null, createdAt: now };
      const authorization = signAuthorization({
        withdrawalId, keyId, chain: 'bench', unsignedTx: bytesToHex(msg), digest: bytesToHex(msg), to: 'bench', amount: '1', policyVersion: 1, withdrawal,
        approvals: signApprovalsFor(withdrawal, 1, o.approvers, { at: now, expiresAt: now + 600_000 }), expiresAt: now + 60_000,
      }, o.policySecret);
      const s = performance.now();
      await coordinator.sign({ keyId, authorization });
      if (i >= WARMUP) times.push(performance.now() - s);
      await coordinator.settle(); // untimed: the nodes' own aggregation and bookkeeping, in the background
    }
    return times;
  };
  const ed = await run(`bench-ed-${tag}`, 200);
  const bip = await run(`bench-bip-${tag}`, 32);
  return {
    nodes: o.nodes.length, threshold: t, iterations: o.iterations, frost_keygen_s: Number(keygenS.toFixed(3)),
    frost_ed25519_sign_p50_ms: pct(ed, 50), frost_ed25519_sign_p99_ms: pct(ed, 99),
    frost_schnorr_sign_p50_ms: pct(bip, 50), frost_schnorr_sign_p99_ms: pct(bip, 99),
  };
}

/** Starts five local node processes (needs dist/), benchmarks them, stops them. */
export async function runFrostClusterBench(o: { iterations?: number } = {}): Promise<FrostClusterBench> {
  const base = mkdtempSync(join(tmpdir(), 'custos-bench-mpc-'));
  const policySecret = new Uint8Array(randomBytes(32));
  const coordinatorSecret = new Uint8Array(randomBytes(32));
  const approvers = benchApprovers();
  const cluster = await startLocalCluster({
    baseDir: base, n: 5, policyPublicKey: bytesToHex(ed25519.getPublicKey(policySecret)), minApprovals: 2,
    approverKeys: approvers.map((a) => ({ approver: a.approver, publicKey: bytesToHex(ed25519.getPublicKey(a.secretKey)) })),
    coordinatorKeys: [bytesToHex(ed25519.getPublicKey(coordinatorSecret))],
  });
  try {
    return await benchFrostCluster({ nodes: cluster.nodes, policySecret, iterations: o.iterations ?? 50, coordinatorSecret, approvers });
  } finally {
    await cluster.stop();
    rmSync(base, { recursive: true, force: true });
  }
}
