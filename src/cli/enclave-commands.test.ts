import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { registerEnclaveCommands } from './enclave-commands.js';

let dir: string;
let out: string[];

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'custos-cli-enclave-'));
  out = [];
  vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
    out.push(args.map(String).join(' '));
  });
});
afterEach(() => {
  vi.restoreAllMocks();
  rmSync(dir, { recursive: true, force: true });
});

async function run(...args: string[]): Promise<string> {
  const program = new Command('custos').option('--data-dir <dir>').exitOverride();
  registerEnclaveCommands(program, () => program.opts<{ dataDir?: string }>(), { env: {} });
  out.length = 0;
  await program.parseAsync(['node', 'custos', '--data-dir', dir, ...args]);
  return out.join('\n');
}

describe('custos init / hsm / enclave commands', () => {
  it('init creates labelled development material once; the second run changes nothing and says so', async () => {
    const first = await run('init');
    expect(first).toContain('DEVELOPMENT setup');
    expect(first).toContain('created');
    expect(first).toContain('2-of-3');
    const report = JSON.parse(await run('init', '--json')) as { changed: boolean; created: string[]; hsmKeysCreated: string[]; kept: string[] };
    expect(report).toMatchObject({ changed: false, created: [], hsmKeysCreated: [] });
    expect(report.kept.length).toBeGreaterThan(0);
    expect(await run('init')).toContain('nothing changed');
    for (const f of ['development-hsm.passphrase', 'development-hsm.json']) expect(statSync(path.join(dir, f)).mode & 0o777).toBe(0o600);
    const rootKey = readFileSync(path.join(dir, 'enclave', 'attestation-roots.json'), 'utf8');
    const keyFile = (JSON.parse(rootKey) as { roots: { keyFile: string }[] }).roots[0]!.keyFile;
    expect(statSync(path.join(dir, 'enclave', keyFile)).mode & 0o777).toBe(0o600);
  });

  it('hsm status shows the standard keys, the KEK not extractable; hsm init is idempotent', async () => {
    await run('init');
    const status = JSON.parse(await run('hsm', 'status', '--json')) as { description: string; keys: { label: string; extractable: boolean }[]; missingStandardKeys: string[] };
    expect(status.description).toContain('development, not an HSM');
    expect(status.missingStandardKeys).toEqual([]);
    expect(status.keys.find((k) => k.label === 'custos-root-kek')?.extractable).toBe(false);
    expect(await run('hsm', 'init')).toContain('nothing changed');
    await run('hsm', 'backup', 'export', '--out', path.join(dir, 'backup.json'));
    expect(readFileSync(path.join(dir, 'backup.json'))).toEqual(readFileSync(path.join(dir, 'development-hsm.json')));
  });

  it('enclave allowlist add/show and roots rotate/list', async () => {
    await run('init');
    expect(await run('enclave', 'allowlist', 'add', '--name', 'node-1', '--pcr0', 'ab'.repeat(48))).toContain('version 1');
    expect(await run('enclave', 'allowlist', 'show')).toContain(`node-1  PCR0 ${'ab'.repeat(48)}`);
    await expect(run('enclave', 'allowlist', 'add', '--name', 'bad', '--pcr0', '00')).rejects.toMatchObject({ code: 'invalid_arguments' });
    expect(await run('enclave', 'roots', 'rotate', '--cutover', '+1h')).toMatch(/added DEVELOPMENT root [0-9a-f]{64}\nretiring [0-9a-f]{64} at /);
    const roots = JSON.parse(await run('enclave', 'roots', 'list', '--json')) as { acceptUntil: string | null }[];
    expect(roots).toHaveLength(2);
    expect(roots[0]!.acceptUntil).not.toBeNull();
    expect(roots[1]!.acceptUntil).toBeNull();
  });

  it('refuses the development HSM when init has not run and no passphrase is set', async () => {
    await expect(run('hsm', 'status')).rejects.toMatchObject({ code: 'dev_hsm_passphrase_missing' });
  });
});
