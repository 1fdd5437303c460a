/**
 * `custos audit …` in process on an embedded database: checkpoint, verify, export and offline
 * verify; then a superuser rewrites an entry and recomputes the whole hash chain, and `audit
 * verify` (exit 2) names that entry from the earlier checkpoint, as does the offline verifier on
 * a fresh export.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { GENESIS_HASH, appendAudit, chainHash } from '../audit/chain.js';
import { openDb } from '../store/db.js';
import { migrate } from '../store/migrate.js';
import { registerAuditCommands } from './audit-commands.js';

describe('custos audit (embedded PGlite in a temporary data directory)', () => {
  let dir: string;
  const saved = { ...process.env };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'custos-audit-cli-'));
    process.env.CUSTOS_DATA_DIR = dir;
    delete process.env.DATABASE_URL;
    delete process.env.CUSTOS_HSM;
    delete process.env.CUSTOS_DEV_HSM_PASSPHRASE;
    delete process.env.CUSTOS_AUDIT_WITNESS_URL;
  });
  afterAll(() => {
    process.env = saved;
    rmSync(dir, { recursive: true, force: true });
  });

  async function custos(...args: string[]): Promise<{ out: string; code: number }> {
    const program = new Command('custos').exitOverride();
    registerAuditCommands(program, () => ({}));
    const lines: string[] = [];
    const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void lines.push(a.join(' ')));
    const write = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => (lines.push(String(s)), true));
    process.exitCode = 0;
    try {
      await program.parseAsync(['node', 'custos', ...args]);
    } finally {
      log.mockRestore();
      write.mockRestore();
    }
    const code = Number(process.exitCode ?? 0);
    process.exitCode = 0;
    return { out: lines.join('\n'), code };
  }

  async function withDb(fn: (db: Awaited<ReturnType<typeof openDb>>) => Promise<void>): Promise<void> {
    const db = await openDb({ dataDir: join(dir, 'db') });
    try {
      await migrate(db);
      await fn(db);
    } finally {
      await db.close();
    }
  }

  it('checkpoint, verify, export; a rewrite with a recomputed chain is named against the checkpoint', async () => {
    await withDb(async (db) => {
      for (let i = 0; i < 6; i++) {
        await db.tx((q) => appendAudit(q, { at: 1_750_000_000_000 + i, actor: 'operator', action: 'test.event', subject: `t:${i}`, data: { i } }));
      }
    });
    const cp = await custos('audit', 'checkpoint');
    expect(cp.code).toBe(0);
    expect(cp.out).toMatch(/signed checkpoint at tree size 6 \(development software key/);
    expect(cp.out).toContain('custos.local/audit\n6\n');
    const ok = await custos('audit', 'verify');
    expect(ok.code).toBe(0);
    expect(ok.out).toContain('audit chain intact: 6 entries');
    expect(ok.out).toContain('Merkle log intact: 6 leaves, 1 checkpoints verified');
    expect((await custos('audit', 'export', join(dir, 'exp1'))).code).toBe(0);
    expect((await custos('audit', 'verify', '--export', join(dir, 'exp1'))).out).toContain('audit export intact: 6 entries, 1 checkpoints');

    // A superuser rewrites entry 4 and recomputes every chain hash from there.
    await withDb(async (db) => {
      const rows = await db.query<{ seq: string; id: string; body: string }>(
        'SELECT c.seq::text AS seq, e.id::text AS id, e.body FROM audit_chain c JOIN audit_entries e ON e.id = c.entry_id ORDER BY c.seq',
      );
      const bodies = rows.map((r) => r.body);
      bodies[3] = bodies[3]!.replace('"actor":"operator"', '"actor":"nobody"');
      await db.tx(async (q) => {
        await q.query('ALTER TABLE audit_entries DISABLE TRIGGER ALL');
        await q.query('ALTER TABLE audit_chain DISABLE TRIGGER ALL');
        await q.query('UPDATE audit_entries SET body = $1 WHERE id = $2', [bodies[3], rows[3]!.id]);
        let prev: Uint8Array = GENESIS_HASH;
        for (let s = 1; s <= bodies.length; s++) {
          const h = chainHash(BigInt(s), prev, bodies[s - 1]!);
          await q.query('UPDATE audit_chain SET prev_hash = $1, hash = $2 WHERE seq = $3', [Buffer.from(prev), Buffer.from(h), s]);
          prev = h;
        }
        for (const t of ['audit_entries', 'audit_chain']) {
          await q.query(`ALTER TABLE ${t} ENABLE TRIGGER ALL`);
          await q.query(`ALTER TABLE ${t} ENABLE ALWAYS TRIGGER ${t}_append_only`);
          await q.query(`ALTER TABLE ${t} ENABLE ALWAYS TRIGGER ${t}_no_truncate`);
        }
      });
    });
    const bad = await custos('audit', 'verify');
    expect(bad.code).toBe(2);
    expect(bad.out).toContain('audit chain intact: 6 entries'); // the chain alone is fooled
    expect(bad.out).toContain('Merkle log BROKEN (root_mismatch)');
    expect(bad.out).toContain('first bad entry: seq 4');
    const json = JSON.parse((await custos('audit', 'verify', '--json')).out) as { ok: boolean; firstBadSeq: number };
    expect(json).toMatchObject({ ok: false, firstBadSeq: 4 });
    // the export of the rewritten log fails offline against the checkpoint (range, no stored nodes offline)
    await custos('audit', 'export', join(dir, 'exp2'));
    const off = await custos('audit', 'verify', '--export', join(dir, 'exp2'));
    expect(off.code).toBe(2);
    expect(off.out).toMatch(/audit export BROKEN \(root_mismatch\).*between 1 and 6/);
  }, 60_000);
});
