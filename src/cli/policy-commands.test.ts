import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { registerPolicyCommands } from './policy-commands.js';

/** The commands in process on an embedded database in a temporary data directory. */
describe('custos policy / sanctions commands', () => {
  let dir: string;
  const saved = process.env.DATABASE_URL;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'custos-policy-cli-'));
    delete process.env.DATABASE_URL;
  });
  afterAll(() => {
    if (saved !== undefined) process.env.DATABASE_URL = saved;
    rmSync(dir, { recursive: true, force: true });
  });

  async function run(...args: string[]): Promise<string> {
    const program = new Command('custos').exitOverride();
    registerPolicyCommands(program, () => ({ dataDir: dir }));
    const lines: string[] = [];
    const spy = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void lines.push(a.map(String).join(' ')));
    try {
      await program.parseAsync(['node', 'custos', ...args]);
    } finally {
      spy.mockRestore();
    }
    return lines.join('\n');
  }

  it('show, sanctions import/list, init, propose/approve/apply with generated admin keys', async () => {
    const shown = await run('policy', 'show');
    expect(shown).toMatch(/policy version 1 \(starter\)[\s\S]*ETH\s+3000\s+starter\s+fixed/);
    // no approver of the starter policy has an approval key yet: nobody can sign an approval
    expect(shown).toContain('approvers without a registered approval key (custos approvers add): approver-1, approver-2, approver-3 — only 0 can sign, fewer than the highest quorum (2)');

    const list = join(dir, 'sanctioned_addresses_ETH.json');
    writeFileSync(list, JSON.stringify(['0x2222222222222222222222222222222222222222', 'TQ5NMbBYVRh9GS4a2ZqkFTcNotAnAddress']));
    expect(await run('sanctions', 'import', list)).toBe('sanctions list ETH: 1 addresses imported, 1 skipped (chains custos does not support)');
    expect(await run('sanctions', 'list')).toMatch(/ETH\s+1\s+/);
    writeFileSync(join(dir, 'bad.json'), '{"not": "a list"}');
    await expect(run('sanctions', 'import', join(dir, 'bad.json'), '--list', 'ETH')).rejects.toMatchObject({ code: 'sanctions_list_invalid' });

    const pubs: Record<string, string> = {};
    for (const a of ['a1', 'a2', 'a3']) pubs[a] = (await run('policy', 'admin-key', join(dir, `${a}.key`))).trim();
    expect(readFileSync(join(dir, 'a1.key'), 'utf8').trim()).toMatch(/^[0-9a-f]{64}$/);
    const doc = JSON.parse(await run('policy', 'show', '--json')) as Record<string, unknown>;
    doc.version = 2;
    doc.governance = { quorum: 2, admins: pubs };
    writeFileSync(join(dir, 'v2.json'), JSON.stringify(doc, null, 2));
    expect(await run('policy', 'init', join(dir, 'v2.json'))).toMatch(/policy version 2 installed/);

    doc.version = 3;
    (doc.approvals as Record<string, unknown>).expiryHours = 12;
    writeFileSync(join(dir, 'v3.json'), JSON.stringify(doc, null, 2));
    const proposed = await run('policy', 'propose', join(dir, 'v3.json'), '--admin', 'a1');
    const id = /proposal (pp_[A-Za-z0-9_-]+)/.exec(proposed)![1]!;
    await expect(run('policy', 'approve', id, '--admin', 'a1', '--key', join(dir, 'a1.key'))).rejects.toMatchObject({ code: 'approver_is_proposer' });
    await expect(run('policy', 'approve', id, '--admin', 'a2', '--key', join(dir, 'a3.key'))).rejects.toMatchObject({ code: 'approval_signature_invalid' });
    expect(await run('policy', 'approve', id, '--admin', 'a2', '--key', join(dir, 'a2.key'))).toMatch(/1 of 2/);
    await expect(run('policy', 'apply', id)).rejects.toMatchObject({ code: 'quorum_not_reached' });
    expect(await run('policy', 'approve', id, '--admin', 'a3', '--key', join(dir, 'a3.key'))).toMatch(/2 of 2 — ready/);
    expect(await run('policy', 'apply', id)).toMatch(/policy version 3 is active/);
    expect(await run('policy', 'show')).toMatch(/policy version 3 \(governance\)[\s\S]*expiry 12 h/);
    expect(await run('policy', 'simulate', join(dir, 'v3.json'), '--days', '1')).toMatch(/0 withdrawals of the last 1 days replayed/);
  }, 120_000);
});
