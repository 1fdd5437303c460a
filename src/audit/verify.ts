/**
 * Offline verification of an exported (or live) audit log against its signed checkpoints.
 *
 * 1. Every checkpoint note must carry a valid signature by a trusted key and name the expected
 *    origin; checkpoints are then ordered by tree size, and two of equal size must agree.
 * 2. Entries are streamed once in sequence order: each becomes a leaf SHA-256(0x00 || bytes),
 *    kept in a compact range (O(log n) memory). When the count reaches a checkpoint's size, the
 *    recomputed root must equal the signed one. Consecutive checkpoints are thereby consistent
 *    (both are roots of prefixes of the same entries); an RFC 9162 consistency proof built from
 *    these same entries would test the same predicate, so it is not built twice.
 * 3. A checkpoint larger than the log means entries were removed.
 * 4. If the log's own tree nodes are supplied (`storedNodes`: the table that serves online
 *    proofs, untrusted), the consistency proof between each pair of consecutive checkpoints is
 *    built from them and verified against the two signed roots (RFC 9162 §2.1.4.2), so a
 *    corrupted or forked node table is reported even when the entries are intact.
 *
 * On a root mismatch the first changed entry lies after the previous matching checkpoint. If the
 * log's own tree nodes are supplied (`storedNodes`, untrusted), the verifier walks down from the
 * signed root, trusting a stored node only when it hashes up to an already trusted one, and names
 * the first leaf whose recomputed hash differs; this costs 64 bytes per entry of memory (a copy of
 * the recomputed nodes), so it is opt-in.
 *
 * @example
 *   const report = await verifyLog({ entries: readEntries(dir), checkpoints, verifiers: [parseVerifierKey(vkey)], origin });
 *   if (!report.ok) console.error(report.reason, report.message, report.firstBadSeq ?? report.suspectSeqs);
 */
import { isCustosError } from '../core/errors.js';
import { openCheckpoint, type Checkpoint } from './checkpoint.js';
import { CompactRange } from './compact-range.js';
import {
  bytesEqual,
  consistencyProofRanges,
  emptyRoot,
  foldRangeNodes,
  hashChildren,
  hashLeaf,
  rangeNodes,
  splitPoint,
  verifyConsistency,
  type LeafRange,
} from './merkle.js';
import type { NoteVerifier } from './note.js';
import { MemoryTreeNodeStore, type TreeNodeStore } from './tree-store.js';

export interface VerifyLogInput {
  /** Entry bytes (the exact leaf inputs) in sequence order. */
  readonly entries: Iterable<Uint8Array> | AsyncIterable<Uint8Array>;
  /** Signed checkpoint notes, in any order. */
  readonly checkpoints: ReadonlyArray<string | Uint8Array>;
  readonly verifiers: readonly NoteVerifier[];
  readonly origin: string;
  /** Sequence number of the first entry (leaf 0). Default 0. */
  readonly firstSeq?: number;
  /** The log's stored tree nodes (untrusted), to name the exact first changed entry. */
  readonly storedNodes?: TreeNodeStore;
}

export type VerifyFailureReason =
  | 'checkpoint_invalid' // bad signature, unknown key, malformed, wrong origin
  | 'checkpoint_fork' // two signed checkpoints of one size with different roots
  | 'stored_tree_inconsistent' // the log's stored nodes give no valid consistency proof between two checkpoints
  | 'root_mismatch' // entries do not hash to a signed root: rewritten, inserted or removed
  | 'entries_missing'; // a signed checkpoint covers more entries than the log holds

export interface VerifyOk {
  readonly ok: true;
  readonly entries: number;
  readonly checkpoints: number;
  /** Largest signed tree size, all of whose entries were verified. */
  readonly verifiedSize: number;
  /** Entries after the last checkpoint (hashed, not yet covered by a signature). */
  readonly unverifiedTail: number;
  readonly root: Uint8Array;
}

export interface VerifyFailure {
  readonly ok: false;
  readonly reason: VerifyFailureReason;
  readonly message: string;
  /** Index (in the input list) of the checkpoint that failed. */
  readonly checkpoint?: number;
  readonly checkpointSize?: number;
  /** The first entry that does not match, when it could be determined exactly. */
  readonly firstBadSeq?: number;
  /** Sequence numbers [first, last] within which the first changed entry must lie. */
  readonly suspectSeqs?: readonly [number, number];
  /** Entries read before stopping. */
  readonly entries: number;
}

export type VerifyReport = VerifyOk | VerifyFailure;

interface Signed {
  readonly input: number;
  readonly cp: Checkpoint;
}

/** Verifies the whole log; see the module documentation. Never throws for bad data. */
export async function verifyLog(input: VerifyLogInput): Promise<VerifyReport> {
  const firstSeq = input.firstSeq ?? 0;
  const signed: Signed[] = [];
  for (let i = 0; i < input.checkpoints.length; i++) {
    try {
      signed.push({ input: i, cp: openCheckpoint(input.checkpoints[i]!, input.verifiers, input.origin).checkpoint });
    } catch (err) {
      const why = isCustosError(err) ? `${err.code}: ${err.message}` : 'unreadable checkpoint';
      return { ok: false, reason: 'checkpoint_invalid', message: `checkpoint ${i}: ${why}`, checkpoint: i, entries: 0 };
    }
  }
  signed.sort((a, b) => a.cp.size - b.cp.size || a.input - b.input);

  // distinct sizes in order; equal sizes must have equal roots
  const steps: Signed[] = [];
  for (const s of signed) {
    if (s.cp.size === 0 && !bytesEqual(s.cp.rootHash, emptyRoot())) {
      return {
        ok: false,
        reason: 'checkpoint_invalid',
        message: `checkpoint ${s.input} signs tree size 0 with a root other than the empty tree's`,
        checkpoint: s.input,
        checkpointSize: 0,
        entries: 0,
      };
    }
    const prev = steps[steps.length - 1];
    if (prev && prev.cp.size === s.cp.size) {
      if (!bytesEqual(prev.cp.rootHash, s.cp.rootHash)) {
        return {
          ok: false,
          reason: 'checkpoint_fork',
          message: `checkpoints ${prev.input} and ${s.input} sign different roots for tree size ${s.cp.size}`,
          checkpoint: s.input,
          checkpointSize: s.cp.size,
          entries: 0,
        };
      }
      continue;
    }
    steps.push(s);
  }

  const recomputed = input.storedNodes ? new MemoryTreeNodeStore() : undefined;
  const sink = recomputed ? (level: number, index: number, hash: Uint8Array) => recomputed.put(level, index, hash) : undefined;

  const range = new CompactRange();
  let next = 0;
  const check = async (): Promise<VerifyFailure | undefined> => {
    while (next < steps.length && steps[next]!.cp.size === range.size) {
      const step = steps[next]!;
      const prevSize = next > 0 ? steps[next - 1]!.cp.size : 0;
      const root = range.size === 0 ? emptyRoot() : range.root();
      if (!bytesEqual(root, step.cp.rootHash)) {
        return mismatch(step, prevSize, firstSeq, input.storedNodes, recomputed);
      }
      next++;
    }
    return undefined;
  };

  let failure = await check();
  if (failure) return failure;
  const entries = input.entries;
  if (Symbol.iterator in entries) {
    // synchronous sources (arrays, generators over a file) avoid one await per entry
    for (const bytes of entries) {
      range.push(hashLeaf(bytes), sink);
      if (next < steps.length && steps[next]!.cp.size === range.size && (failure = await check())) return failure;
    }
  } else {
    for await (const bytes of entries) {
      range.push(hashLeaf(bytes), sink);
      if (next < steps.length && steps[next]!.cp.size === range.size && (failure = await check())) return failure;
    }
  }
  if (next < steps.length) {
    const step = steps[next]!;
    return {
      ok: false,
      reason: 'entries_missing',
      message: `the log holds ${range.size} entries but checkpoint ${step.input} signs tree size ${step.cp.size}`,
      checkpoint: step.input,
      checkpointSize: step.cp.size,
      suspectSeqs: [firstSeq + (next > 0 ? steps[next - 1]!.cp.size : 0), firstSeq + step.cp.size - 1],
      entries: range.size,
    };
  }
  if (input.storedNodes) {
    const bad = await checkStoredConsistency(input.storedNodes, steps);
    if (bad) return { ...bad, entries: range.size };
  }
  const verifiedSize = steps.length > 0 ? steps[steps.length - 1]!.cp.size : 0;
  return {
    ok: true,
    entries: range.size,
    checkpoints: signed.length,
    verifiedSize,
    unverifiedTail: range.size - verifiedSize,
    root: range.size === 0 ? emptyRoot() : range.root(),
  };
}

async function mismatch(
  step: Signed,
  prevSize: number,
  firstSeq: number,
  stored: TreeNodeStore | undefined,
  recomputed: MemoryTreeNodeStore | undefined,
): Promise<VerifyFailure> {
  const size = step.cp.size;
  let suspect: [number, number] = [prevSize, size - 1];
  let exact: number | undefined;
  if (stored && recomputed) {
    const found = await descend(stored, recomputed, size, step.cp.rootHash);
    if (found.end - found.start === 1) exact = found.start;
    else if (found.end - found.start < size - prevSize) suspect = [found.start, found.end - 1];
  }
  const where =
    exact !== undefined
      ? `entry ${firstSeq + exact} is the first that differs from the signed tree`
      : `the first changed entry is between ${firstSeq + suspect[0]} and ${firstSeq + suspect[1]}`;
  return {
    ok: false,
    reason: 'root_mismatch',
    message: `entries do not hash to the root signed by checkpoint ${step.input} (size ${size}); ${where}`,
    checkpoint: step.input,
    checkpointSize: size,
    ...(exact !== undefined ? { firstBadSeq: firstSeq + exact } : {}),
    suspectSeqs: exact !== undefined ? [firstSeq + exact, firstSeq + exact] : [firstSeq + suspect[0], firstSeq + suspect[1]],
    entries: size,
  };
}

/** Consistency proofs from the stored nodes between consecutive checkpoints (size > 0). */
async function checkStoredConsistency(stored: TreeNodeStore, steps: readonly Signed[]): Promise<VerifyFailure | undefined> {
  for (let j = 1; j < steps.length; j++) {
    const prev = steps[j - 1]!;
    const step = steps[j]!;
    if (prev.cp.size === 0) continue;
    let why: string;
    try {
      const proof: Uint8Array[] = [];
      for (const r of consistencyProofRanges(prev.cp.size, step.cp.size)) {
        const h = await rangeHash(stored, r);
        if (!h) throw new Error(`stored tree lacks nodes for leaves [${r.start}, ${r.end})`);
        proof.push(h);
      }
      verifyConsistency(prev.cp.size, step.cp.size, proof, prev.cp.rootHash, step.cp.rootHash);
      continue;
    } catch (err) {
      why = err instanceof Error ? err.message : 'unreadable stored tree';
    }
    return {
      ok: false,
      reason: 'stored_tree_inconsistent',
      message: `the stored tree gives no valid consistency proof from checkpoint ${prev.input} (size ${prev.cp.size}) to checkpoint ${step.input} (size ${step.cp.size}): ${why}`,
      checkpoint: step.input,
      checkpointSize: step.cp.size,
      entries: 0,
    };
  }
  return undefined;
}

async function rangeHash(store: TreeNodeStore, r: LeafRange): Promise<Uint8Array | undefined> {
  const ids = rangeNodes(r);
  const got = await store.getNodes(ids);
  if (got.some((h) => !h || h.length !== 32)) return undefined;
  return foldRangeNodes(got as Uint8Array[]);
}

/**
 * Walks down from the signed root of [0, size): a stored child pair is trusted only if it hashes
 * to its trusted parent; goes left whenever the recomputed left child differs. Returns the
 * narrowest range proven to hold the first difference (width 1 = exact).
 */
async function descend(
  stored: TreeNodeStore,
  recomputed: MemoryTreeNodeStore,
  size: number,
  signedRoot: Uint8Array,
): Promise<LeafRange> {
  let r: LeafRange = { start: 0, end: size };
  let trusted = signedRoot;
  while (r.end - r.start > 1) {
    const k = splitPoint(r.end - r.start);
    const left = { start: r.start, end: r.start + k };
    const right = { start: r.start + k, end: r.end };
    const [sl, sr] = [await rangeHash(stored, left), await rangeHash(stored, right)];
    if (!sl || !sr || !bytesEqual(hashChildren(sl, sr), trusted)) return r;
    const cl = await rangeHash(recomputed, left);
    if (!cl || !bytesEqual(cl, sl)) {
      r = left;
      trusted = sl;
    } else {
      r = right;
      trusted = sr;
    }
  }
  return r;
}
