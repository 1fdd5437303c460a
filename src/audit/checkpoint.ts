/**
 * C2SP transparency-log checkpoints (c2sp.org/tlog-checkpoint) carried in signed notes.
 *
 * Note text: the origin line, the tree size in decimal (no leading zeros), the base64 root hash,
 * then optional non-empty extension lines, each ending in a newline. Parsing is strict; a
 * checkpoint is only trusted through `openCheckpoint`, which verifies the note signature and the
 * expected origin before looking at the contents.
 *
 * @example
 *   const note = await signCheckpoint({ origin: 'custos.example/audit', size: 42, rootHash: tree.root() }, [signer]);
 *   const { checkpoint } = openCheckpoint(note, [verifier], 'custos.example/audit');
 */
import { CustosError } from '../core/errors.js';
import { HASH_SIZE } from './merkle.js';
import { isWellFormedString, openNote, signNote, type NoteSigner, type NoteVerifier } from './note.js';

export interface Checkpoint {
  readonly origin: string;
  readonly size: number;
  readonly rootHash: Uint8Array;
  readonly extensions?: readonly string[];
}

export interface OpenedCheckpoint {
  readonly checkpoint: Checkpoint;
  /** The exact signed text. */
  readonly text: string;
  readonly verifiedBy: readonly string[];
}

export class CheckpointError extends CustosError {
  constructor(message: string) {
    super('audit_checkpoint_invalid', message, 422);
    this.name = 'CheckpointError';
  }
}

function checkLine(line: string, what: string): void {
  // eslint-disable-next-line no-control-regex
  if (line.length === 0 || /[\x00-\x1f]/.test(line) || !isWellFormedString(line)) {
    throw new CheckpointError(`${what} must be a non-empty line of text`);
  }
}

/** The note text of a checkpoint. */
export function formatCheckpoint(cp: Checkpoint): string {
  checkLine(cp.origin, 'origin');
  if (!Number.isSafeInteger(cp.size) || cp.size < 0) throw new CheckpointError('tree size must be a safe non-negative integer');
  if (cp.rootHash.length !== HASH_SIZE) throw new CheckpointError('root hash must be 32 bytes');
  const ext = cp.extensions ?? [];
  for (const e of ext) checkLine(e, 'extension line');
  return [cp.origin, String(cp.size), Buffer.from(cp.rootHash).toString('base64'), ...ext].join('\n') + '\n';
}

/** Parses checkpoint note text (as returned by openNote). */
export function parseCheckpoint(text: string): Checkpoint {
  if (!text.endsWith('\n')) throw new CheckpointError('checkpoint text must end with a newline');
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3) throw new CheckpointError('checkpoint needs origin, size and root hash lines');
  const [origin, sizeLine, rootLine, ...extensions] = lines as [string, string, string, ...string[]];
  checkLine(origin, 'origin');
  if (!/^(0|[1-9][0-9]*)$/.test(sizeLine)) throw new CheckpointError('tree size must be decimal without leading zeros');
  const size = Number(sizeLine);
  if (!Number.isSafeInteger(size)) throw new CheckpointError('tree size is beyond 2^53 - 1');
  if (!/^[A-Za-z0-9+/]{43}=$/.test(rootLine)) throw new CheckpointError('root hash must be base64 of 32 bytes');
  const rootHash = new Uint8Array(Buffer.from(rootLine, 'base64'));
  if (rootHash.length !== HASH_SIZE || Buffer.from(rootHash).toString('base64') !== rootLine) {
    throw new CheckpointError('root hash is not canonical base64 of 32 bytes');
  }
  for (const e of extensions) checkLine(e, 'extension line');
  return { origin, size, rootHash, extensions };
}

/** Formats and signs a checkpoint; returns the signed note. */
export async function signCheckpoint(cp: Checkpoint, signers: readonly NoteSigner[]): Promise<string> {
  return signNote(formatCheckpoint(cp), signers);
}

/**
 * Verifies the note against trusted keys, parses the checkpoint and checks its origin.
 * Throws NoteError (signature/format) or CheckpointError (contents).
 */
export function openCheckpoint(
  note: string | Uint8Array,
  verifiers: readonly NoteVerifier[],
  expectedOrigin: string,
): OpenedCheckpoint {
  const opened = openNote(note, verifiers);
  const checkpoint = parseCheckpoint(opened.text);
  if (checkpoint.origin !== expectedOrigin) {
    throw new CheckpointError(`checkpoint origin ${JSON.stringify(checkpoint.origin)} is not the expected log`);
  }
  return { checkpoint, text: opened.text, verifiedBy: opened.verifiedBy };
}
