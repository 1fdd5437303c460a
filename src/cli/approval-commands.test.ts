/**
 * `custos approvers …` and `custos approve|reject` end to end: key files, registry on the embedded
 * database of a temporary data directory, then a gateway (in-process Fastify) on that database and
 * the CLI deciding through the signed HTTP API.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CustosClient } from '../client/index.js';
import { buildGateway } from '../gateway/app.js';
import { createCredential } from '../gateway/credentials.js';
import { listApprovals } from '../store/approvals.js';
import type { Db } from '../store/db.js';
import { seedStarter } from '../store/seed.js';
import { createCustomer } from '../store/customers.js';
import { addApprover } from '../approvals/registry.js';
import { systemClock } from '../core/clock.js';
import { registerApprovalCommands } from './approval-commands.js';
import { openConfiguredDb } from './env.js';

describe('custos approvers / approve / reject', () => {
  let dir: string;
  const saved = { db: process.env.DATABASE_URL, url: process.env.CUSTOS_URL, id: process.env.CUSTOS_CREDENTIAL_ID, key: process.env.CUSTOS_PRIVATE_KEY };
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'custos-approvers-cli-'));
    delete process.env.DATABASE_URL;
  });
  afterAll(() => {
    for (const [k, v] of [['DATABASE_URL', saved.db], ['CUSTOS_URL', saved.url], ['CUSTOS_CREDENTIAL_ID', saved.id], ['CUSTOS_PRIVATE_KEY', saved.key]] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  async function run(...args: string[]): Promise<string> {
    const program = new Command('custos').exitOverride();
    registerApprovalCommands(program, () => ({ dataDir: dir }));
    const lines: string[] = [];
    const spy = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void lines.push(a.map(String).join(' ')));
    process.exitCode = undefined;
    try {
      await program.parseAsync(['node', 'custos', ...args]);
    } finally {
      spy.mockRestore();
    }
    return lines.join('\n');
  }
  const key = (name: string) => join(dir, `${name}.key`);
  let publicKeys: Record<string, string> = {};

  it('keygen writes a 0600 key file and never overwrites one; add and list the registry', async () => {
    const pub = (await run('approvers', 'keygen', '--id', 'approver-1', '--out', key('approver-1'))).trim();
    expect(pub).toMatch(/^[0-9a-f]{64}$/);
    expect(statSync(key('approver-1')).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(key('approver-1'), 'utf8'))).toMatchObject({ type: 'custos-approval-key/v1', approver: 'approver-1', publicKey: pub });
    await expect(run('approvers', 'keygen', '--id', 'approver-1', '--out', key('approver-1'))).rejects.toMatchObject({ code: 'EEXIST' });
    const pubs: Record<string, string> = { 'approver-1': pub };
    for (const id of ['approver-2', 'approver-3']) pubs[id] = (await run('approvers', 'keygen', '--id', id, '--out', key(id))).trim();

    // each command opens the embedded database (seconds): approver-1 through the CLI here, the others in the next test;
    // the registry's refusals are tested in src/approvals/registry.test.ts
    expect(await run('approvers', 'add', '--id', 'approver-1', '--public-key', pub, '--label', 'approver-1 (test)')).toBe(`approver approver-1 registered with approval key ${pub}`);
    const listed = JSON.parse(await run('approvers', 'list', '--json')) as { approver: string; publicKey: string; revokedAt: string | null }[];
    expect(listed).toMatchObject([{ approver: 'approver-1', publicKey: pub, revokedAt: null }]);
    publicKeys = pubs;
    (await run('approvers', 'keygen', '--id', 'approver-1', '--out', key('spare'))).trim();
  });

  it('approve / reject through a running gateway: signed, quorum reached, refusals printed with their code', async () => {
    let db: Db = await openConfiguredDb({ dataDir: dir });
    await seedStarter(db, { customerId: 'acme' });
    const submitter = await createCredential(db, { customerId: 'acme', scopes: ['withdraw', 'read', 'approve'] });
    const creds: Record<string, { credentialId: string; privateKey: string }> = {};
    for (const id of ['approver-1', 'approver-2', 'approver-3']) {
      await db.tx((q) => createCustomer(q, { id, name: id }));
      creds[id] = await createCredential(db, { customerId: id, scopes: ['approve'] });
      if (id !== 'approver-1') await addApprover(db, systemClock, { approverId: id, publicKey: publicKeys[id]!, label: `${id} (test)` }, 'test');
    }
    const { app } = await buildGateway({ db });
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const client = new CustosClient({ baseUrl: url, credentialId: submitter.credentialId, privateKey: submitter.privateKey, retries: 1 });
      const submit = () => client.submitWithdrawal({ chain: 'ethereum', asset: 'ETH', to: '0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359', amount: '5' });
      const w = await submit();
      expect(w.status).toBe('in_review');
      process.env.CUSTOS_URL = url;
      const as = (id: string) => {
        process.env.CUSTOS_CREDENTIAL_ID = creds[id]!.credentialId;
        process.env.CUSTOS_PRIVATE_KEY = creds[id]!.privateKey;
      };

      as('approver-1');
      const first = await run('approve', w.id, '--key', key('approver-1'), '--comment', 'looks right');
      expect(first).toMatch(new RegExp(`approver-1 signed "approve" for ${w.id}: 5 ETH to 0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359 on ethereum \\(policy version \\d+, digest [0-9a-f]{16}…\\)`));
      expect(first).toMatch(/→ recorded: 1 of 2 approvals, status in_review/);
      expect(process.exitCode).toBeUndefined();
      // again: one decision per approver
      expect(await run('approve', w.id, '--key', key('approver-1'))).toMatch(/^refused 409 approval_duplicate/);
      expect(process.exitCode).toBe(1);
      // approver-2's credential with approver-3's key file: the signature names another approver
      as('approver-2');
      expect(await run('approve', w.id, '--key', key('approver-3'))).toMatch(/^refused 403 approval_signer_mismatch/);
      // the spare key of approver-1 was never registered
      as('approver-1');
      const other = await submit();
      expect(await run('approve', other.id, '--key', key('spare'))).toMatch(/^refused 403 approval_signature_invalid/);
      // the submitter is not an eligible approver of its own withdrawal: it cannot even fetch what to sign
      process.env.CUSTOS_CREDENTIAL_ID = submitter.credentialId;
      process.env.CUSTOS_PRIVATE_KEY = submitter.privateKey;
      expect(await run('approve', w.id, '--key', key('approver-2'))).toMatch(/^refused 403 approver_not_eligible/);

      as('approver-2');
      const second = JSON.parse(await run('approve', w.id, '--key', key('approver-2'), '--json')) as { result: string; approved: number; quorum: number; withdrawal: { status: string } };
      expect(second).toMatchObject({ result: 'approved', approved: 2, quorum: 2, withdrawal: { status: 'approved' } });
      const stored = await listApprovals(db, w.id);
      expect(stored.map((a) => [a.approverId, a.comment, a.signature?.length])).toEqual([['approver-1', 'looks right', 128], ['approver-2', '', 128]]);

      as('approver-3');
      expect(await run('reject', other.id, '--key', key('approver-3'), '--comment', 'unknown counterparty')).toMatch(/→ rejected: 0 of 2 approvals, status rejected/);
      as('approver-1');
      expect(await run('approve', other.id, '--key', key('approver-1'))).toMatch(/^refused 409 withdrawal_not_pending/);
    } finally {
      await app.close();
      await db.close();
    }
    // revoke (the gateway and its database are closed: the embedded database has one owner at a time)
    expect(await run('approvers', 'revoke', 'approver-3')).toMatch(/of approver-3 revoked$/);
    // every approval and rejection in the audit trail re-verifies against the registry entries before it
    expect(await run('approvers', 'verify-trail')).toMatch(/2 approvals and 1 rejections checked against 3 key registrations \(1 revoked\)\nevery approval signature verifies/);
    expect(process.exitCode).toBeUndefined();
    expect(await run('approvers', 'list', '--all')).toMatch(/approver-3\s+[0-9a-f]{64}\s+approver-3 \(test\)\s+\S+\s+\d{4}-\d\d-\d\dT/);
    db = await openConfiguredDb({ dataDir: dir });
    try {
      const audit = await db.query<{ action: string; subject: string }>("SELECT action, subject FROM audit_entries WHERE action LIKE 'approver.%' ORDER BY id");
      expect(audit.map((a) => `${a.action} ${a.subject}`)).toEqual([
        'approver.added approver:approver-1', 'approver.added approver:approver-2', 'approver.added approver:approver-3', 'approver.revoked approver:approver-3',
      ]);
    } finally {
      await db.close();
    }
  });
});
