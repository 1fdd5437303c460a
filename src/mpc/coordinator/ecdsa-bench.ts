/**
 * `custos bench mpc` (threshold ECDSA part): CGGMP21 across five node processes on loopback.
 * - `ecdsa_keygen_s`: distributed key generation 3-of-5 through the coordinator, the real path:
 *   every node generates its two 1024-bit safe primes, then keygen and aux info with all proofs.
 * - `ecdsa_presign_s`: one presignature for three signers (3 rounds), mean over the pool fill.
 * - `ecdsa_sign_p50_ms` / `_p99_ms`: online signing end to end through the coordinator with three
 *   nodes from a pooled presignature: a policy-signed authorization with two approval signatures
 *   for an unsigned EIP-1559 transaction, which each node verifies, parses and re-digests
 *   (keccak-256), spends the presignature on disk (fsync), sends its σ share; the coordinator
 *   combines and verifies: the time to the verified signature. It then delivers the shares so every
 *   node records the withdrawal as signed; that bookkeeping is awaited between signatures, untimed.
 *   The first `WARMUP` signatures are made and not timed.
 * - `single_key_sign_ms`: one @noble/curves secp256k1 signature over a digest, in this process.
 *
 * @example
 *   const r = await runEcdsaClusterBench({ iterations: 30 });
 *   console.log(r.ecdsa_sign_p50_ms, r.ecdsa_keygen_s);
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ed25519 } from '@noble/curves/ed25519.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { keccak_256 } from '@noble/hashes/sha3.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { signApprovalsFor } from '../../approvals/authorization.js';
import { addressOfPublicKey, buildUnsigned } from '../../chains/ethereum/tx.js';
import { CustosError } from '../../core/errors.js';
import { signAuthorization } from '../node/authorization.js';
import { chainDigest } from '../node/chain-digest.js';
import { benchApprovers, WARMUP } from './bench.js';
import { Coordinator, type NodeEndpoint } from './coordinator.js';
import { startLocalCluster } from './local-cluster.js';

export interface EcdsaClusterBench {
  readonly nodes: number;
  readonly threshold: number;
  readonly iterations: number;
  readonly ecdsa_keygen_s: number;
  readonly ecdsa_presign_s: number;
  readonly ecdsa_sign_p50_ms: number;
  readonly ecdsa_sign_p99_ms: number;
  readonly single_key_sign_ms: number;
}

function pct(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return Number((s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? NaN).toFixed(2));
}

/** Mean time of one single-key secp256k1 signature (noble), for the ratio. */
export function singleKeySignMs(n = 200): number {
  const sk = secp256k1.utils.randomSecretKey();
  const digest = keccak_256(new Uint8Array(randomBytes(32)));
  secp256k1.sign(digest, sk, { prehash: false });
  const t0 = performance.now();
  for (let i = 0; i < n; i++) secp256k1.sign(digest, sk, { prehash: false });
  return Number(((performance.now() - t0) / n).toFixed(3));
}

/** Measures threshold ECDSA on running nodes (which must derive digests with `chainDigest`). */
export async function benchEcdsaCluster(o: {
  nodes: readonly NodeEndpoint[]; policySecret: Uint8Array; coordinatorSecret?: Uint8Array; iterations: number; threshold?: number;
  approvers: readonly { approver: string; secretKey: Uint8Array }[]; onProgress?: (line: string) => void;
}): Promise<EcdsaClusterBench> {
  const coordinator = new Coordinator({
    nodes: o.nodes, healthTtlMs: 600_000, ...(o.coordinatorSecret ? { secretKey: o.coordinatorSecret } : {}), ...(o.onProgress ? { onProgress: o.onProgress } : {}),
  });
  const t = o.threshold ?? 3;
  const keyId = `bench-ecdsa-${bytesToHex(randomBytes(4))}`;
  const k0 = performance.now();
  await coordinator.keygen({ scheme: 'ecdsa', threshold: t, keyId });
  const keygenS = (performance.now() - k0) / 1000;
  const signers = o.nodes.slice(0, t).map((n) => n.id);
  const p0 = performance.now();
  const total = WARMUP + o.iterations;
  await coordinator.presign({ keyId, signers, count: total });
  const presignS = (performance.now() - p0) / 1000 / total;
  const to = addressOfPublicKey(secp256k1.getPublicKey(secp256k1.utils.randomSecretKey()));
  const times: number[] = [];
  for (let i = 0; i < total; i++) {
    const amount = 10n ** 15n + BigInt(i);
    const unsigned = buildUnsigned({ to, amount }, { chainId: 1, nonce: BigInt(i), maxFeePerGas: 30n * 10n ** 9n, maxPriorityFeePerGas: 10n ** 9n });
    const digest = chainDigest('ethereum', unsigned.bytes).digest;
    const withdrawalId = `${keyId}-${i}`;
    const now = Date.now();
    const withdrawal = { id: withdrawalId, customerId: 'bench', chain: 'ethereum', asset: 'ETH', to, amount: amount.toString(), fee: null, memo: null, createdAt: now };
    const authorization = signAuthorization({
      withdrawalId, keyId, chain: 'ethereum', unsignedTx: bytesToHex(unsigned.bytes), digest: bytesToHex(digest), to, amount: amount.toString(), policyVersion: 1,
      withdrawal, approvals: signApprovalsFor(withdrawal, 1, o.approvers, { at: now, expiresAt: now + 600_000 }), expiresAt: now + 60_000,
    }, o.policySecret);
    const s = performance.now();
    const r = await coordinator.sign({ keyId, authorization }, chainDigest);
    const ms = performance.now() - s;
    // Untimed: the nodes' bookkeeping after the signature (each checks the combined signature and
    // records the withdrawal as signed) runs in the background; it is let finish here so that
    // each timed signature starts on idle nodes, as the latency of one withdrawal does.
    await coordinator.settle();
    if (r.attempts !== 1 || r.signers.join(',') !== signers.join(',')) throw new CustosError('bench_unexpected', 'a bench signature needed a retry or another subset');
    if (i >= WARMUP) times.push(ms);
  }
  return {
    nodes: o.nodes.length, threshold: t, iterations: o.iterations, ecdsa_keygen_s: Number(keygenS.toFixed(2)), ecdsa_presign_s: Number(presignS.toFixed(3)),
    ecdsa_sign_p50_ms: pct(times, 50), ecdsa_sign_p99_ms: pct(times, 99), single_key_sign_ms: singleKeySignMs(),
  };
}

/** bin/custos.js of this package (its `mpc-node` derives digests with the chain parsers). */
export function custosBin(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin', 'custos.js');
}

/** Starts five `custos mpc-node` processes (needs dist/), benchmarks threshold ECDSA, stops them. */
export async function runEcdsaClusterBench(o: { iterations?: number; onProgress?: (line: string) => void } = {}): Promise<EcdsaClusterBench> {
  const entry = custosBin();
  if (!existsSync(entry)) throw new CustosError('mpc_not_built', `${entry} is missing`);
  const base = mkdtempSync(join(tmpdir(), 'custos-bench-ecdsa-'));
  const policySecret = new Uint8Array(randomBytes(32));
  const coordinatorSecret = new Uint8Array(randomBytes(32));
  const approvers = benchApprovers();
  const cluster = await startLocalCluster({
    baseDir: base, n: 5, policyPublicKey: bytesToHex(ed25519.getPublicKey(policySecret)), minApprovals: 2, entry, entryArgs: ['mpc-node'],
    approverKeys: approvers.map((a) => ({ approver: a.approver, publicKey: bytesToHex(ed25519.getPublicKey(a.secretKey)) })),
    coordinatorKeys: [bytesToHex(ed25519.getPublicKey(coordinatorSecret))],
  });
  try {
    return await benchEcdsaCluster({ nodes: cluster.nodes, policySecret, coordinatorSecret, approvers, iterations: o.iterations ?? 30, ...(o.onProgress ? { onProgress: o.onProgress } : {}) });
  } finally {
    await cluster.stop();
    rmSync(base, { recursive: true, force: true });
  }
}
