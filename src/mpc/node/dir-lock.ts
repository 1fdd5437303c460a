/**
 * An exclusive lock on a signing node's data directory: one process at a time opens its store.
 * Two processes spending from one journal could each use the same presignature for a different
 * withdrawal, and two ECDSA signatures from one presignature give the key share away.
 *
 * The lock is the file `LOCK_FILE` in the directory, naming its holder: pid, the process's start
 * time (field 22 of `/proc/<pid>/stat`), the boot id, the host name and a random token. It appears
 * complete (written under a temporary name, then hard-linked, which fails if the name exists).
 * A lock whose holder is gone (no such process, a zombie, the pid reused by a process that started
 * at another time, or written before the last boot) is stale, and the next opener takes it over:
 * it first creates `<lock>.takeover-<hash of the stale lock>` the same exclusive way, so of several
 * processes taking over one stale lock exactly one wins (a claim left by a process killed while
 * taking over is itself stale and taken over the same way); the winner checks that the lock still
 * is the stale one and renames its own record over it. A lock written on another host is never
 * judged stale: nothing here can tell whether its holder lives. The lock is released by
 * `release()` and at normal process exit (not on SIGKILL: that is what stale detection is for).
 *
 * @example
 *   const lock = lockDirectory(dir);   // throws DirectoryLocked (`node_dir_locked`, the holder's pid) while a live process holds it
 *   try { work(dir); } finally { lock.release(); }
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, linkSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { CustosError } from '../../core/errors.js';

export const LOCK_FILE = 'node.lock';

/** What a lock file says about the process holding it (one JSON object). */
export interface LockHolder {
  readonly pid: number;
  /** Field 22 of /proc/<pid>/stat (clock ticks after boot); null where there is no /proc. */
  readonly startTime: string | null;
  /** /proc/sys/kernel/random/boot_id; null where there is none. */
  readonly bootId: string | null;
  readonly host: string;
  readonly token: string;
}

export interface DirectoryLock {
  readonly dir: string;
  /** Removes the lock file if it is still this lock (idempotent). */
  release(): void;
}

/** Another live process (or this one) holds the directory, or is taking over its stale lock right now. */
export class DirectoryLocked extends CustosError {
  constructor(readonly dir: string, readonly holderPid: number, why: string) {
    super('node_dir_locked', `data directory ${dir} is locked by process ${holderPid}${why}; one process at a time may open it`, 409, { dir, pid: holderPid });
    this.name = 'DirectoryLocked';
  }
}

/** Lock files this process holds → the sha-256 of what it wrote (released at exit). */
const held = new Map<string, string>();
let exitHook = false;
let self: Omit<LockHolder, 'token'> | undefined;

const hash = (s: string): string => createHash('sha256').update(s).digest('hex');

/** Takes the lock of `dir` (which must exist), taking over a stale one. */
export function lockDirectory(dir: string): DirectoryLock {
  const lock = join(dir, LOCK_FILE);
  const me = { ...thisProcess(), token: randomBytes(16).toString('hex') };
  const record = `${JSON.stringify(me)}\n`;
  const staged: string[] = [];
  const stage = (): string => {
    const tmp = join(dir, `.${LOCK_FILE}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
    writeFileSync(tmp, record, { mode: 0o600, flag: 'wx' });
    staged.push(tmp);
    return tmp;
  };
  try {
    for (let attempt = 0; attempt < 16; attempt++) {
      if (linkExclusive(stage(), lock)) return hold(dir, lock, hash(record));
      const found = readLock(lock);
      if (found === undefined) continue; // released meanwhile
      refuseIfLive(dir, lock, found);
      if (replaceStale(dir, lock, found.hash, stage)) return hold(dir, lock, hash(record));
    }
    throw new DirectoryLocked(dir, readLock(lock)?.holder?.pid ?? 0, ': its lock kept changing while this process tried to take it');
  } finally {
    for (const tmp of staged) removeQuietly(tmp);
  }
}

/**
 * Replaces `file` (a stale lock or claim whose content hashed to `staleHash`) by a staged copy of
 * this process's record. False when it changed meanwhile (another process finished taking it over).
 */
function replaceStale(dir: string, file: string, staleHash: string, stage: () => string): boolean {
  const claim = `${file}.takeover-${staleHash.slice(0, 32)}`;
  if (!linkExclusive(stage(), claim)) {
    const other = readLock(claim);
    if (other === undefined) return false; // its winner finished: look at the lock again
    refuseIfLive(dir, claim, other, ' (it is taking over a stale lock)');
    if (!replaceStale(dir, claim, other.hash, stage)) return false; // killed while taking over: take its claim over
  }
  try {
    if (readLock(file)?.hash !== staleHash) return false;
    // Only the holder of the claim moves `file` off the stale content, and that content never comes back.
    renameSync(stage(), file);
    return true;
  } finally {
    removeQuietly(claim);
  }
}

/** Throws DirectoryLocked unless the holder named in `path` is gone (then its file is stale). */
function refuseIfLive(dir: string, path: string, found: { holder: LockHolder | null }, why = ''): void {
  const h = found.holder;
  if (h === null) return; // unreadable: a lock appears complete, so only a crash or damage leaves one
  const me = thisProcess();
  if (h.host !== me.host) {
    throw new DirectoryLocked(dir, h.pid, ` on host ${h.host}${why}, which this host cannot check: remove ${path} once that process is gone`);
  }
  if (h.bootId !== null && me.bootId !== null && h.bootId !== me.bootId) return; // before the last boot
  if (h.pid === process.pid) {
    if (h.startTime === me.startTime) throw new DirectoryLocked(dir, h.pid, `${why} (this process has it open already)`);
    return;
  }
  const started = processStart(h.pid);
  if (started === undefined) return; // gone
  if (h.startTime !== null && started !== null && started !== h.startTime) return; // pid reused
  throw new DirectoryLocked(dir, h.pid, why);
}

function hold(dir: string, lock: string, mine: string): DirectoryLock {
  held.set(lock, mine);
  if (!exitHook) {
    exitHook = true;
    process.on('exit', () => {
      for (const [path, h] of held) {
        try {
          releaseFile(path, h);
        } catch {
          // exiting anyway: a lock left behind is stale once this process is gone
        }
      }
    });
  }
  return {
    dir,
    release: () => {
      if (held.get(lock) !== mine) return;
      held.delete(lock);
      releaseFile(lock, mine);
    },
  };
}

function releaseFile(path: string, mine: string): void {
  // Nobody replaces the lock of a live holder, so what is there is still this lock.
  if (readLock(path)?.hash === mine) removeQuietly(path);
}

/** link(2) fails with EEXIST when `to` exists: the exclusive, all-or-nothing create. */
function linkExclusive(from: string, to: string): boolean {
  try {
    linkSync(from, to);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

function readLock(path: string): { hash: string; holder: LockHolder | null } | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return { hash: hash(text), holder: parseHolder(text) };
}

function parseHolder(text: string): LockHolder | null {
  try {
    const o = JSON.parse(text) as Record<string, unknown>;
    const optional = (v: unknown) => v === null || typeof v === 'string';
    if (!Number.isSafeInteger(o.pid) || (o.pid as number) <= 0 || !optional(o.startTime) || !optional(o.bootId) || typeof o.host !== 'string' || typeof o.token !== 'string') return null;
    return o as unknown as LockHolder;
  } catch {
    return null;
  }
}

function thisProcess(): Omit<LockHolder, 'token'> {
  if (!self) {
    let bootId: string | null = null;
    try {
      bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    } catch {
      // no /proc: pid and host only
    }
    self = { pid: process.pid, startTime: processStart(process.pid) ?? null, bootId, host: hostname() };
  }
  return self;
}

/** The start time of `pid` (string, or null where there is no /proc); undefined when it is gone or a zombie. */
function processStart(pid: number): string | null | undefined {
  if (!existsSync('/proc/self/stat')) {
    try {
      process.kill(pid, 0);
      return null;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'EPERM' ? null : undefined;
    }
  }
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' || code === 'ESRCH' ? undefined : null;
  }
  // pid (comm) state ... : comm may hold spaces and parentheses, so split after the last ')'
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  if (fields[0] === 'Z' || fields[0] === 'X') return undefined;
  return fields[19] ?? null;
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
