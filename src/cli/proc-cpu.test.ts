import { describe, expect, it } from 'vitest';
import { cpuMsOfCommand, parseProcStat, processCpuMs } from './proc-cpu.js';

describe('parseProcStat', () => {
  it('reads utime + stime after a command that holds spaces and parentheses', () => {
    // A real line's shape (proc(5)): pid (comm) state ppid … utime stime …
    const line = '4242 (node (x) y) S 1 4242 4242 0 -1 4194560 1523 0 0 0 250 37 0 0 20 0 11 0 3061 1142829056 24813 18446744073709551615';
    expect(parseProcStat(line)).toEqual({ comm: 'node (x) y', cpuMs: 2870 });
  });
  it('refuses what is not a stat line', () => {
    expect(parseProcStat('')).toBeNull();
    expect(parseProcStat('12 (x) S 1 2 3')).toBeNull();
    expect(parseProcStat('12 (x) S 1 2 3 4 5 6 7 8 9 10 -5 3')).toBeNull();
  });
});

describe.runIf(process.platform === 'linux')('processCpuMs on this machine', () => {
  it('grows while this process computes', () => {
    const before = processCpuMs(process.pid) as number;
    expect(before).toBeGreaterThanOrEqual(0);
    const t = performance.now();
    let x = 0;
    while (performance.now() - t < 150) x += Math.sqrt(x + 1);
    expect(x).toBeGreaterThan(0);
    expect((processCpuMs(process.pid) as number) - before).toBeGreaterThanOrEqual(50);
    expect(cpuMsOfCommand('no-such-command-here')).toBe(0);
    expect(processCpuMs(2 ** 30)).toBeNull();
  });
});
