/**
 * Benchmark of the audit core, in memory (no database): appends per second into a MerkleTree
 * over MemoryTreeNodeStore, inclusion- and consistency-proof latency on the full tree, and the
 * time of a full offline verification (verifyLog) against signed checkpoints.
 *
 * Entries are synthetic withdrawal decisions written as canonical JSON (about 330 bytes each),
 * generated on the fly so the benchmark never holds the whole log; generation time is measured
 * separately and reported, because verification includes producing its input stream.
 * Every generated proof is verified; a failure throws instead of reporting numbers.
 *
 * @example
 *   const r = await benchAuditCore({ entries: 1_000_000 });
 *   console.log(r.inclusion_proof_p99_ms, r.verify_1m_s);
 */
import { signCheckpoint } from './checkpoint.js';
import { hashLeaf, verifyConsistency, verifyInclusion } from './merkle.js';
import { formatVerifierKey, parseVerifierKey } from './note.js';
import { ed25519SignerFromSeed } from './signer.js';
import { MerkleTree } from './tree.js';
import { MemoryTreeNodeStore } from './tree-store.js';
import { verifyLog } from './verify.js';

export interface BenchAuditOptions {
  /** Log size. Default 1,000,000. */
  entries?: number;
  /** Leaves per append call. Default 1,000. */
  batch?: number;
  /** Inclusion (and consistency) proofs to time. Default 10,000. */
  proofs?: number;
  /** Checkpoints to sign over the log (evenly spaced). Default 10. */
  checkpoints?: number;
  /** Monotonic clock in milliseconds. Default performance.now. */
  now?: () => number;
  /** CPU time of this process in milliseconds (user + system). Default from process.cpuUsage. */
  cpu?: () => number;
  /** Seed for the proof positions. Default 1. */
  seed?: number;
}

export interface BenchAuditResult {
  entries: number;
  batch: number;
  store: 'memory';
  hash: 'node:crypto sha256';
  memory_appends_per_s: number;
  append_s: number;
  proofs: number;
  inclusion_proof_p50_ms: number;
  inclusion_proof_p99_ms: number;
  inclusion_proof_max_ms: number;
  /** p99 of the CPU time per proof: separates the work from waiting for a core on a loaded machine. */
  inclusion_proof_cpu_p99_ms: number;
  consistency_proof_p99_ms: number;
  verify_s: number;
  /** CPU seconds of the append and verify phases: comparable across machine load, unlike wall time. */
  append_cpu_s: number;
  verify_cpu_s: number;
  /** verify_s scaled to 1,000,000 entries (equal to verify_s when entries = 1,000,000). */
  verify_1m_s: number;
  entry_generation_s: number;
  entry_bytes_avg: number;
  node: string;
}

const enc = new TextEncoder();

/**
 * One synthetic entry as canonical JSON (keys already in sorted order, no white space; the test
 * checks it equals canonicalJson of the same object).
 */
export function syntheticEntry(seq: number): Uint8Array {
  const at = 1_767_225_600_000 + seq * 7;
  return enc.encode(
    `{"action":"withdrawal.decided","actor":"pipeline","at":"${at}","decision":{"outcome":"${seq % 10 === 0 ? 'review' : 'approve'}",` +
      `"reasons":["amount ${seq % 1000} below limit","address allowlisted"]},"newState":"${seq % 10 === 0 ? 'in_review' : 'approved'}",` +
      `"prevState":"received","seq":"${seq}","subject":"withdrawal:0190b2c4-${String(seq).padStart(12, '0')}"}`,
  );
}

function* entryStream(n: number): Generator<Uint8Array> {
  for (let i = 1; i <= n; i++) yield syntheticEntry(i);
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Deterministic positions in [0, n) (Park–Miller, arithmetic only). */
function positions(count: number, n: number, seed: number): number[] {
  let s = (Math.abs(Math.floor(seed)) % 2147483646) + 1;
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    s = (s * 48271) % 2147483647;
    out.push(Math.floor((s / 2147483647) * n));
  }
  return out;
}

const round = (x: number, digits = 3) => Number(x.toFixed(digits));

export async function benchAuditCore(opts: BenchAuditOptions = {}): Promise<BenchAuditResult> {
  const n = opts.entries ?? 1_000_000;
  const batch = opts.batch ?? 1000;
  const proofs = opts.proofs ?? 10_000;
  const nCheckpoints = Math.max(1, opts.checkpoints ?? 10);
  const now = opts.now ?? (() => performance.now());
  const cpu =
    opts.cpu ??
    (() => {
      const u = process.cpuUsage();
      return (u.user + u.system) / 1000;
    });
  if (!Number.isSafeInteger(n) || n < 2) throw new RangeError('entries must be an integer >= 2');

  // 0. entry generation alone
  let bytes = 0;
  let t = now();
  for (const e of entryStream(n)) bytes += e.length;
  const genMs = now() - t;

  // 1. appends (leaf hashing + tree update), excluding entry generation
  const tree = MerkleTree.empty(new MemoryTreeNodeStore());
  const origin = 'bench.custos.invalid/audit';
  const signer = ed25519SignerFromSeed(origin, new Uint8Array(32).fill(0x5a));
  const checkpointSizes = new Set(Array.from({ length: nCheckpoints }, (_, i) => Math.floor(((i + 1) * n) / nCheckpoints)));
  const checkpoints: string[] = [];
  const roots = new Map<number, Uint8Array>();
  let appendMs = 0;
  let appendCpuMs = 0;
  const it = entryStream(n);
  while (tree.size < n) {
    // stop each batch at the next checkpoint size so the tree head there can be signed
    let end = Math.min(n, tree.size + batch);
    for (const s of checkpointSizes) if (s > tree.size && s < end) end = s;
    const chunk: Uint8Array[] = [];
    while (chunk.length < end - tree.size) chunk.push(it.next().value as Uint8Array);
    t = now();
    const c = cpu();
    await tree.append(chunk.map(hashLeaf));
    appendMs += now() - t;
    appendCpuMs += cpu() - c;
    if (checkpointSizes.has(tree.size)) {
      roots.set(tree.size, tree.root());
      checkpoints.push(await signCheckpoint({ origin, size: tree.size, rootHash: tree.root() }, [signer]));
    }
  }

  // 2. proof latency on the full tree
  const root = tree.root();
  const incl: number[] = [];
  const inclCpu: number[] = [];
  const cons: number[] = [];
  const idx = positions(proofs, n, opts.seed ?? 1);
  for (const i of idx) {
    t = now();
    const c = cpu();
    const proof = await tree.inclusionProof(i, n);
    inclCpu.push(cpu() - c);
    incl.push(now() - t);
    verifyInclusion(hashLeaf(syntheticEntry(i + 1)), i, n, proof, root);
  }
  for (const i of idx.slice(0, Math.min(idx.length, 2000))) {
    const m = Math.max(1, i);
    t = now();
    const proof = await tree.consistencyProof(m, n);
    cons.push(now() - t);
    if (m === n) continue;
    verifyConsistency(m, n, proof, await tree.rootAt(m), root);
  }
  incl.sort((a, b) => a - b);
  inclCpu.sort((a, b) => a - b);
  cons.sort((a, b) => a - b);

  // 3. full offline verification against the signed checkpoints
  t = now();
  const verifyCpu = cpu();
  const report = await verifyLog({
    entries: entryStream(n),
    checkpoints,
    verifiers: [parseVerifierKey(formatVerifierKey(signer.name, signer.publicKey))],
    origin,
    firstSeq: 1,
  });
  const verifyMs = now() - t;
  const verifyCpuMs = cpu() - verifyCpu;
  if (!report.ok || report.verifiedSize !== n) throw new Error(`benchmark log failed verification: ${JSON.stringify(report)}`);

  return {
    entries: n,
    batch,
    store: 'memory',
    hash: 'node:crypto sha256',
    memory_appends_per_s: Math.round(n / (appendMs / 1000)),
    append_s: round(appendMs / 1000),
    proofs: incl.length,
    inclusion_proof_p50_ms: round(percentile(incl, 50), 4),
    inclusion_proof_p99_ms: round(percentile(incl, 99), 4),
    inclusion_proof_max_ms: round(incl[incl.length - 1] ?? 0, 4),
    inclusion_proof_cpu_p99_ms: round(percentile(inclCpu, 99), 4),
    consistency_proof_p99_ms: round(percentile(cons, 99), 4),
    verify_s: round(verifyMs / 1000),
    append_cpu_s: round(appendCpuMs / 1000),
    verify_cpu_s: round(verifyCpuMs / 1000),
    verify_1m_s: round((verifyMs / 1000) * (1_000_000 / n)),
    entry_generation_s: round(genMs / 1000),
    entry_bytes_avg: Math.round(bytes / n),
    node: process.version,
  };
}
