/**
 * The data-directory lock: a second holder in this process or in another one is refused with the
 * holder's pid; a lock left by a SIGKILLed process, by a reused pid or by an earlier boot is
 * stale and taken over; of several processes taking over one stale lock exactly one wins. The
 * cross-process tests run the compiled module and node entry (`npm run build`; skipped without).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { thrownCode as code } from '../../core/test-helpers/thrown-code.js';
import { defaultNodeEntry } from '../coordinator/local-cluster.js';
import { DirectoryLocked, LOCK_FILE, lockDirectory } from './dir-lock.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const builtLock = join(root, 'dist', 'mpc', 'node', 'dir-lock.js');
const built = existsSync(builtLock) && existsSync(defaultNodeEntry());
if (!built) console.warn('src/mpc/node/dir-lock.test.ts: dist/ is missing or stale; run `npm run build` first (process tests skipped)');
const linux = existsSync('/proc/self/stat');

const dirs: string[] = [];
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const fresh = () => {
  const d = mkdtempSync(join(tmpdir(), 'custos-dir-lock-'));
  dirs.push(d);
  return d;
};
const lockPath = (dir: string) => join(dir, LOCK_FILE);
const holderPid = (dir: string) => (JSON.parse(readFileSync(lockPath(dir), 'utf8')) as { pid: number }).pid;

/** Field 22 of /proc/<pid>/stat, as the lock records it. */
function startTime(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] as string;
}
const bootId = () => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
const writeLock = (file: string, o: { pid: number; startTime: string | null; bootId?: string | null; host?: string }) =>
  writeFileSync(file, JSON.stringify({ bootId: bootId(), host: hostname(), token: 'f'.repeat(32), ...o }));

function refusal(dir: string): DirectoryLocked {
  try {
    lockDirectory(dir);
  } catch (err) {
    if (err instanceof DirectoryLocked) return err;
    throw err;
  }
  throw new Error('the lock was taken');
}

function exited(c: ChildProcess): Promise<number | null> {
  if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve(c.exitCode);
  return new Promise((resolve) => c.once('exit', (code) => resolve(code)));
}

/** A dead pid: a process that ran and was reaped. */
async function deadPid(): Promise<number> {
  const c = spawn(process.execPath, ['-e', '']);
  await exited(c);
  return c.pid as number;
}

describe('lockDirectory in one process', () => {
  it('refuses a second holder with node_dir_locked naming the directory and this pid, until released', () => {
    const dir = fresh();
    const lock = lockDirectory(dir);
    expect(holderPid(dir)).toBe(process.pid);
    const err = refusal(dir);
    expect(err).toMatchObject({ code: 'node_dir_locked', status: 409, dir, holderPid: process.pid, details: { dir, pid: process.pid } });
    expect(err.message).toContain(dir);
    expect(err.message).toContain(String(process.pid));
    lock.release();
    expect(existsSync(lockPath(dir))).toBe(false);
    lock.release(); // idempotent
    const again = lockDirectory(dir);
    expect(code(() => lockDirectory(dir))).toBe('node_dir_locked');
    again.release();
    expect(readdirSync(dir)).toEqual([]); // no temporary file left behind
  });

  it.skipIf(!linux)('takes over a lock whose pid is gone, or alive with another start time, or from another boot; refuses a live holder and another host', async () => {
    const dir = fresh();
    const live = process.ppid;
    writeLock(lockPath(dir), { pid: live, startTime: startTime(live) });
    expect(refusal(dir)).toMatchObject({ code: 'node_dir_locked', holderPid: live });

    writeLock(lockPath(dir), { pid: live, startTime: String(Number(startTime(live)) + 1) }); // the pid reused by another process
    lockDirectory(dir).release();

    writeLock(lockPath(dir), { pid: live, startTime: startTime(live), bootId: '00000000-0000-4000-8000-000000000000' }); // written before the last boot
    lockDirectory(dir).release();

    writeLock(lockPath(dir), { pid: await deadPid(), startTime: '1' });
    const taken = lockDirectory(dir);
    expect(holderPid(dir)).toBe(process.pid);
    taken.release();

    writeLock(lockPath(dir), { pid: 4242, startTime: '1', host: `not-${hostname()}` });
    const foreign = refusal(dir);
    expect(foreign).toMatchObject({ code: 'node_dir_locked', holderPid: 4242 });
    expect(foreign.message).toContain(`not-${hostname()}`);

    writeFileSync(lockPath(dir), '{"pid":'); // damaged (a lock appears whole, so only a crash or damage does this)
    lockDirectory(dir).release();
    expect(readdirSync(dir)).toEqual([]);
  });

  it.skipIf(!linux)('a takeover claim by a live process refuses this one; a claim left by a dead one is taken over', async () => {
    const dir = fresh();
    writeLock(lockPath(dir), { pid: await deadPid(), startTime: '1' });
    const stale = readFileSync(lockPath(dir), 'utf8');
    const claim = `${lockPath(dir)}.takeover-${createHash('sha256').update(stale).digest('hex').slice(0, 32)}`;
    writeLock(claim, { pid: process.ppid, startTime: startTime(process.ppid) });
    expect(refusal(dir)).toMatchObject({ code: 'node_dir_locked', holderPid: process.ppid });
    expect(readFileSync(lockPath(dir), 'utf8')).toBe(stale); // untouched

    writeLock(claim, { pid: await deadPid(), startTime: '1' }); // killed half-way through its takeover
    const lock = lockDirectory(dir);
    expect(holderPid(dir)).toBe(process.pid);
    expect(readdirSync(dir)).toEqual([LOCK_FILE]); // claims cleaned up
    lock.release();
  });
});

/**
 * A child process running the compiled lock: prints `ready`, takes the lock on `go`, prints the
 * outcome as JSON, and holds it until its stdin ends (then exits normally).
 */
function lockingChild(dir: string): { child: ChildProcess; ready: Promise<void>; outcome: Promise<{ won?: boolean; code?: string; message?: string }>; go(): void; end(): void } {
  const script = `
    const { lockDirectory } = await import(process.argv[1]);
    let buf = '';
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (c) => {
      buf += c;
      if (buf.includes('go\\n')) {
        buf = '';
        try { lockDirectory(process.argv[2]); console.log(JSON.stringify({ won: true })); }
        catch (err) { console.log(JSON.stringify({ code: err.code, message: err.message })); }
      }
    });
    process.stdin.on('end', () => process.exit(0));
    console.log('ready');`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script, pathToFileURL(builtLock).href, dir], { stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(child);
  const lines: string[] = [];
  const waiters: (() => void)[] = [];
  let buf = '';
  child.stdout?.setEncoding('utf8').on('data', (c: string) => {
    buf += c;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      lines.push(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
      for (const w of waiters.splice(0)) w();
    }
  });
  const line = (i: number): Promise<string> => new Promise((resolve, reject) => {
    const check = () => {
      if (lines.length > i) resolve(lines[i] as string);
      else if (child.exitCode !== null || child.signalCode !== null) reject(new Error(`child exited (${child.exitCode ?? child.signalCode})`));
      else waiters.push(check);
    };
    child.once('exit', () => check());
    check();
  });
  return {
    child,
    ready: line(0).then((l) => void expect(l).toBe('ready')),
    outcome: line(1).then((l) => JSON.parse(l) as { won?: boolean; code?: string; message?: string }),
    go: () => child.stdin?.write('go\n'),
    end: () => child.stdin?.end(),
  };
}

describe.skipIf(!built || !linux)('lockDirectory across processes (compiled module)', () => {
  it('a second process is refused while the first holds the lock; normal exit releases it', async () => {
    const dir = fresh();
    const first = lockingChild(dir);
    const second = lockingChild(dir);
    await Promise.all([first.ready, second.ready]);
    first.go();
    expect(await first.outcome).toEqual({ won: true });
    expect(holderPid(dir)).toBe(first.child.pid);
    second.go();
    const refused = await second.outcome;
    expect(refused.code).toBe('node_dir_locked');
    expect(refused.message).toContain(dir);
    expect(refused.message).toContain(`process ${first.child.pid}`);
    expect(refusal(dir)).toMatchObject({ holderPid: first.child.pid });
    first.end();
    expect(await exited(first.child)).toBe(0);
    expect(existsSync(lockPath(dir))).toBe(false); // released at exit
    second.end();
    await exited(second.child);
  });

  it('after SIGKILL of the holder its lock is stale: a new holder takes it over', async () => {
    const dir = fresh();
    const holder = lockingChild(dir);
    await holder.ready;
    holder.go();
    expect(await holder.outcome).toEqual({ won: true });
    expect(code(() => lockDirectory(dir))).toBe('node_dir_locked');
    holder.child.kill('SIGKILL');
    await exited(holder.child);
    expect(holderPid(dir)).toBe(holder.child.pid); // left behind
    const lock = lockDirectory(dir);
    expect(holderPid(dir)).toBe(process.pid);
    lock.release();
  });

  it('of four processes taking over one stale lock at once, exactly one wins (ten rounds)', async () => {
    for (let round = 0; round < 10; round++) {
      const dir = fresh();
      writeLock(lockPath(dir), { pid: await deadPid(), startTime: '1' });
      const racers = [0, 1, 2, 3].map(() => lockingChild(dir));
      await Promise.all(racers.map((r) => r.ready));
      for (const r of racers) r.go();
      const outcomes = await Promise.all(racers.map((r) => r.outcome));
      const winners = racers.filter((_, i) => outcomes[i]?.won === true);
      expect(winners).toHaveLength(1);
      expect(outcomes.filter((o) => o.code === 'node_dir_locked')).toHaveLength(3);
      expect(holderPid(dir)).toBe(winners[0]?.child.pid);
      for (const r of racers) r.end();
      await Promise.all(racers.map((r) => exited(r.child)));
      expect(readdirSync(dir)).toEqual([]);
    }
  });
});

describe.skipIf(!built || !linux)('a signing node process holds its data directory', () => {
  const env = (): NodeJS.ProcessEnv => {
    const e: NodeJS.ProcessEnv = { ...process.env, CUSTOS_NODE_PASSPHRASE: 'dir lock test passphrase' };
    for (const k of ['CUSTOS_KEY_RELEASE_URL', 'CUSTOS_NODE_TEST_HOOK', 'CUSTOS_NODE_TEST_SAFE_PRIMES']) delete e[k];
    return e;
  };
  const run = (dir: string, ...extra: string[]) => {
    const child = spawn(process.execPath, [defaultNodeEntry(), '--id', 'n1', '--data-dir', dir, '--port', '0', ...extra], { env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let out = '';
    child.stdout?.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.stderr?.setEncoding('utf8').on('data', (c: string) => (out += c));
    return { child, output: () => out };
  };
  const listening = (n: ReturnType<typeof run>) => new Promise<void>((resolve, reject) => {
    const t = setInterval(() => {
      if (n.output().includes(' listening on ')) resolve();
      else if (n.child.exitCode !== null) reject(new Error(n.output()));
      else return;
      clearInterval(t);
    }, 20);
  });

  it('--enrol is refused while the node runs, and succeeds once the node was SIGKILLed', async () => {
    const dir = fresh();
    const node = run(dir);
    await listening(node);
    const refused = run(dir, '--enrol');
    expect(await exited(refused.child)).toBe(1);
    expect(refused.output()).toContain('node_dir_locked');
    expect(refused.output()).toContain(`process ${node.child.pid}`);
    node.child.kill('SIGKILL');
    await exited(node.child);
    expect(holderPid(dir)).toBe(node.child.pid); // stale now
    const enrolled = run(dir, '--enrol');
    expect(await exited(enrolled.child)).toBe(0);
    expect(enrolled.output()).toMatch(/enrolled/);
    expect(existsSync(lockPath(dir))).toBe(false); // the enrolment closed its store
    const again = run(dir);
    await listening(again);
    again.child.kill('SIGTERM');
    const exit = await exited(again.child);
    expect({ exit, signal: again.child.signalCode, output: again.output() }).toMatchObject({ exit: 0, signal: null });
    expect(existsSync(lockPath(dir))).toBe(false); // a clean stop releases it
  });
});
