/**
 * CPU time of processes from Linux's /proc, for benchmarks that report CPU per operation next to
 * throughput (a figure that carries from one machine to another better than a rate does).
 *
 * @example
 *   const before = processCpuMs(pid);           // utime + stime so far, in ms, or null
 *   const pg = cpuMsOfCommand('postgres');      // every postgres process together
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ, 100 on every Linux build that matters). */
const TICKS_PER_S = 100;

/**
 * Parses one /proc/<pid>/stat line: the command (field 2, in parentheses, may itself hold spaces
 * and parentheses) and utime + stime (fields 14 and 15) in ms. Null when the line is not one.
 */
export function parseProcStat(line: string): { comm: string; cpuMs: number } | null {
  const open = line.indexOf('(');
  const close = line.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  const rest = line.slice(close + 2).trim().split(/\s+/);
  // rest[0] is field 3 (state), so fields 14 and 15 are rest[11] and rest[12].
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  if (!Number.isInteger(utime) || !Number.isInteger(stime) || utime < 0 || stime < 0) return null;
  return { comm: line.slice(open + 1, close), cpuMs: ((utime + stime) * 1000) / TICKS_PER_S };
}

function readStat(pid: number | string): { comm: string; cpuMs: number } | null {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return null; // gone, or not Linux
  }
}

/** utime + stime of one process in ms, or null where /proc does not answer. */
export function processCpuMs(pid: number): number | null {
  return readStat(pid)?.cpuMs ?? null;
}

/** Summed CPU ms of every process whose command is `comm` (e.g. all PostgreSQL backends), or null without /proc. */
export function cpuMsOfCommand(comm: string): number | null {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return null;
  }
  let sum = 0;
  for (const pid of pids) {
    const s = readStat(pid);
    if (s?.comm === comm) sum += s.cpuMs;
  }
  return sum;
}
