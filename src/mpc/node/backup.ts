/**
 * Backup and recovery of a signing node: `createNodeBackup` copies what the node keeps on disk —
 * its store (identity and key shares, only ever sealed under the node's sealing key, which the
 * key-release service keeps wrapped under the HSM root KEK), its journal and its configuration —
 * plus the public material (each key's id, scheme and group public key) so an operator can see
 * what a backup holds without opening it. `restoreNodeBackup` writes it into a wiped data
 * directory and leaves a marker; the node, once it has its sealing key again, drops every stored
 * presignature and pooled safe-prime pair (`dropAfterRestore`): they may have been used after the
 * backup, and a presignature used twice gives the key away. A restore holds the directory's lock
 * (`dir-lock.ts`) while it writes, so it is refused (`node_dir_locked`) while a node has it open.
 *
 * @example
 *   writeFileSync('node-2.backup.json', JSON.stringify(createNodeBackup('/var/lib/custos/node-2')));
 *   restoreNodeBackup(JSON.parse(readFileSync('node-2.backup.json', 'utf8')), '/var/lib/custos/node-2');
 */
import { existsSync, mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CustosError } from '../../core/errors.js';
import { lockDirectory } from './dir-lock.js';
import { CONFIG_FILE } from './measurement.js';
import { JOURNAL_FILE, STORE_FILE, type NodeStore } from './store.js';

export const BACKUP_FORMAT = 'custos-node-backup/v1';
export const RESTORE_MARKER = 'restored-from-backup.json';
const FILES = [STORE_FILE, JOURNAL_FILE, CONFIG_FILE] as const;

export interface NodeBackup {
  readonly format: typeof BACKUP_FORMAT;
  readonly nodeId: string;
  readonly createdAt: number;
  /** Public: what the store holds, readable without any key. */
  readonly keys: readonly { keyId: string; suite: string; threshold: number; publicKey: string; generation: number }[];
  /** File name → base64 of its bytes (the store's secrets are sealed in it). */
  readonly files: Readonly<Record<string, string>>;
}

const bad = (why: string) => new CustosError('node_backup_invalid', `node backup: ${why}`, 400);

export function createNodeBackup(dir: string, now: number = Date.now()): NodeBackup {
  const storePath = join(dir, STORE_FILE);
  if (!existsSync(storePath)) throw new CustosError('node_backup_no_store', `no node store in ${dir}`, 404);
  const files: Record<string, string> = {};
  for (const f of FILES) if (existsSync(join(dir, f))) files[f] = readFileSync(join(dir, f)).toString('base64');
  const store = JSON.parse(Buffer.from(files[STORE_FILE] as string, 'base64').toString('utf8')) as {
    nodeId: string;
    keys: Record<string, { keyId: string; suite: string; threshold: number; publicKey: string; generation: number }>;
  };
  const keys = Object.values(store.keys ?? {}).map((k) => ({ keyId: k.keyId, suite: k.suite, threshold: k.threshold, publicKey: k.publicKey, generation: k.generation }));
  return { format: BACKUP_FORMAT, nodeId: store.nodeId, createdAt: now, keys, files };
}

/** Writes a backup into `dir` (refused over an existing store unless `force`); the node drops presignatures at its next start. */
export function restoreNodeBackup(backup: unknown, dir: string, o: { force?: boolean } = {}): NodeBackup {
  const b = (typeof backup === 'object' && backup !== null ? backup : {}) as Partial<NodeBackup>;
  if (b.format !== BACKUP_FORMAT) throw bad(`format is not ${BACKUP_FORMAT}`);
  if (typeof b.nodeId !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(b.nodeId)) throw bad('nodeId');
  if (!Number.isSafeInteger(b.createdAt)) throw bad('createdAt');
  const files = (typeof b.files === 'object' && b.files !== null ? b.files : {}) as Record<string, unknown>;
  for (const name of Object.keys(files)) if (!(FILES as readonly string[]).includes(name) || typeof files[name] !== 'string') throw bad(`unexpected file ${name}`);
  if (typeof files[STORE_FILE] !== 'string') throw bad('no node store in it');
  const store = JSON.parse(Buffer.from(files[STORE_FILE], 'base64').toString('utf8')) as { nodeId?: unknown };
  if (store.nodeId !== b.nodeId) throw bad('the store belongs to another node than the backup names');
  if (existsSync(join(dir, STORE_FILE)) && !o.force) {
    throw new CustosError('node_backup_would_overwrite', `${dir} already holds a node store; restore into a wiped directory (or --force)`, 409);
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const lock = lockDirectory(dir); // never under a running node
  try {
    // The marker first: a crash half-way still makes the node drop its presignatures at start.
    writeFileSync(join(dir, RESTORE_MARKER), JSON.stringify({ nodeId: b.nodeId, backupCreatedAt: b.createdAt }), { mode: 0o600 });
    for (const f of FILES) {
      const path = join(dir, f);
      if (typeof files[f] === 'string') {
        writeFileSync(`${path}.restore`, Buffer.from(files[f], 'base64'), { mode: 0o600 });
        renameSync(`${path}.restore`, path);
      } else if (existsSync(path)) unlinkSync(path);
    }
  } finally {
    lock.release();
  }
  return b as NodeBackup;
}

/** At node start, after the store opened: completes a restore (drops presignatures and pooled primes). */
export function completeRestore(store: NodeStore, dir: string): { presignatures: number; primePairs: number } | null {
  const marker = join(dir, RESTORE_MARKER);
  if (!existsSync(marker)) return null;
  const dropped = store.dropAfterRestore();
  unlinkSync(marker);
  return dropped;
}
