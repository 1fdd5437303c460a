/** Writes a benchmark result under bench/results/ with the date and the machine it ran on. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';

export function machine() {
  return { cpus: cpus().length, model: cpus()[0]?.model ?? 'unknown', memory_gib: Math.round(totalmem() / 2 ** 30), node: process.version, load_average_1m: Math.round((loadavg()[0] ?? 0) * 100) / 100 };
}

export function writeResult(name: string, result: Record<string, unknown>): string {
  mkdirSync('bench/results', { recursive: true });
  const path = `bench/results/${name}.json`;
  writeFileSync(path, `${JSON.stringify({ date: new Date().toISOString(), machine: machine(), ...result }, null, 2)}\n`);
  return path;
}
