/**
 * CLI of the approver registry and of approvers' decisions:
 *   custos approvers keygen --id ID --out FILE   new approval key file (mode 0600); prints the public key
 *   custos approvers add --id ID --public-key HEX [--label TEXT]   register (audited)
 *   custos approvers list [--all] [--json]       active keys (--all: revoked too); --json is what a
 *                                                signing node pins as `approverKeys`
 *   custos approvers revoke ID                   revoke the active key (audited)
 *   custos approvers verify-trail [--export DIR] re-verify every approval in the audit trail (exit 2 on a problem)
 *   custos approve ID --key FILE [--comment TEXT]  sign and post an approval through the API
 *   custos reject ID --key FILE [--comment TEXT]   sign and post a rejection through the API
 * `approve`/`reject` call the API with the credential in CUSTOS_URL, CUSTOS_CREDENTIAL_ID,
 * CUSTOS_PRIVATE_KEY (as `custos api`): the credential must act for the approver the key file
 * names. The registry commands work on the configured database. Thin: the work is in src/approvals.
 *
 * @example
 *   registerApprovalCommands(program, common);
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ed25519 } from '@noble/curves/ed25519.js';
import { Option, type Command } from 'commander';
import { parseApprovalKeyFile, newApprovalKeyFile } from '../approvals/key-file.js';
import { addApprover, revokeApprover } from '../approvals/registry.js';
import { signAndSubmitDecision } from '../approvals/sign-and-submit.js';
import { verifyApprovalTrail } from '../approvals/trail.js';
import { CustosApiError, CustosClient } from '../client/index.js';
import { systemClock } from '../core/clock.js';
import { CustosError } from '../core/errors.js';
import { listApproverKeys } from '../store/approvers.js';
import type { Db } from '../store/db.js';
import { openConfiguredDb, table, type CommonOptions } from './env.js';

async function withDb<T>(common: () => CommonOptions, f: (db: Db) => Promise<T>): Promise<T> {
  const db = await openConfiguredDb(common());
  try {
    return await f(db);
  } finally {
    await db.close();
  }
}

/** Audit entry bodies in chain order, then the ones not chained yet (in insertion order). */
async function trailBodies(db: Db): Promise<string[]> {
  const rows = await db.query<{ body: string }>(
    'SELECT e.body FROM audit_entries e LEFT JOIN audit_chain c ON c.entry_id = e.id ORDER BY c.seq NULLS LAST, e.id',
  );
  return rows.map((r) => r.body);
}

interface ApiOptions {
  url: string;
  credential?: string;
  privateKey?: string;
}

const apiOptions = (c: Command): Command =>
  c
    .addOption(new Option('--url <url>', 'gateway URL').env('CUSTOS_URL').default('http://127.0.0.1:8080'))
    .addOption(new Option('--credential <id>', 'API credential id (scope approve) acting for the approver').env('CUSTOS_CREDENTIAL_ID'))
    .addOption(new Option('--private-key <key>', 'the credential private key').env('CUSTOS_PRIVATE_KEY'));

export function registerApprovalCommands(program: Command, common: () => CommonOptions): void {
  const approvers = program.command('approvers').description("the approver registry: approvers' Ed25519 approval public keys (the server keeps only public keys)");

  approvers
    .command('keygen')
    .description('create an approval key file for an approver (secret key, mode 0600, never overwritten); prints the public key to register')
    .requiredOption('--id <id>', 'approver id, as the policy lists it')
    .requiredOption('--out <file>', 'key file to create')
    .action((o: { id: string; out: string }) => {
      const { text, publicKey } = newApprovalKeyFile(o.id, ed25519.utils.randomSecretKey());
      writeFileSync(o.out, text, { mode: 0o600, flag: 'wx' });
      console.log(publicKey);
    });

  approvers
    .command('add')
    .description('register an approver\'s approval public key (audited); an approver has one active key, a key is registered once only')
    .requiredOption('--id <id>', 'approver id, as the policy lists it')
    .requiredOption('--public-key <hex>', 'Ed25519 public key (64 hex characters, from `custos approvers keygen`)')
    .option('--label <text>', 'a note for operators', '')
    .action(async (o: { id: string; publicKey: string; label: string }) =>
      withDb(common, async (db) => {
        const k = await addApprover(db, systemClock, { approverId: o.id, publicKey: o.publicKey.toLowerCase(), label: o.label }, 'operator');
        console.log(`approver ${k.approverId} registered with approval key ${k.publicKey}`);
      }),
    );

  approvers
    .command('list')
    .description('registered approval keys (active; --all: revoked too)')
    .option('--all', 'include revoked keys')
    .option('--json', 'print JSON: [{approver, publicKey, label, createdAt, revokedAt}] (the active list is what signing nodes pin as approverKeys)')
    .action(async (o: { all?: boolean; json?: boolean }) =>
      withDb(common, async (db) => {
        const keys = await listApproverKeys(db, { includeRevoked: o.all === true });
        const out = keys.map((k) => ({
          approver: k.approverId, publicKey: k.publicKey, label: k.label, createdAt: new Date(k.createdAt).toISOString(),
          revokedAt: k.revokedAt === null ? null : new Date(k.revokedAt).toISOString(),
        }));
        if (o.json) console.log(JSON.stringify(out));
        else console.log(table(['approver', 'public key', 'label', 'created', 'revoked'], out.map((k) => [k.approver, k.publicKey, k.label, k.createdAt, k.revokedAt ?? ''])));
      }),
    );

  approvers
    .command('revoke <id>')
    .description("revoke the approver's active approval key (audited); their later signatures are refused")
    .action(async (id: string) =>
      withDb(common, async (db) => {
        const k = await revokeApprover(db, systemClock, id, 'operator');
        console.log(`approval key ${k.publicKey} of ${id} revoked`);
      }),
    );

  approvers
    .command('verify-trail')
    .description('re-verify every approval and rejection in the audit trail against the registry entries before it (exit 2 on a problem)')
    .option('--export <dir>', 'an audit export (custos audit export) instead of the database')
    .option('--json', 'print the report as JSON')
    .action(async (o: { export?: string; json?: boolean }) => {
      const report = o.export
        ? verifyApprovalTrail(readFileSync(join(o.export, 'entries.jsonl'), 'utf8').split('\n').filter((l) => l.length > 0))
        : await withDb(common, async (db) => verifyApprovalTrail(await trailBodies(db)));
      if (o.json) console.log(JSON.stringify(report));
      else {
        console.log(`${report.entries} audit entries: ${report.approvals} approvals and ${report.rejections} rejections checked against ${report.keysAdded} key registrations (${report.keysRevoked} revoked)`);
        for (const p of report.problems) console.log(`  entry ${p.index + 1} ${p.subject}: ${p.code}: ${p.message}`);
        console.log(report.problems.length === 0 ? 'every approval signature verifies under the key registered at that point' : `${report.problems.length} problem(s)`);
      }
      if (report.problems.length > 0) process.exitCode = 2;
    });

  for (const decision of ['approve', 'reject'] as const) {
    apiOptions(
      program
        .command(`${decision} <withdrawalId>`)
        .description(`${decision} a withdrawal in the review queue: fetch it, recompute its digest, sign with the approval key, post (API credential from env)`)
        .requiredOption('--key <file>', 'approval key file (custos approvers keygen)')
        .option('--comment <text>', 'a note kept with the decision (not signed)')
        .option('--validity <minutes>', 'how long the signature may be submitted', (v) => Number(v), 10)
        .option('--hsm-token <file>', 'HSM approval token (wire JSON) for a withdrawal that requires one')
        .option('--json', 'print the API answer as JSON'),
    ).action(async (withdrawalId: string, o: ApiOptions & { key: string; comment?: string; validity: number; hsmToken?: string; json?: boolean }) => {
      if (!o.credential || !o.privateKey) throw new CustosError('credential_missing', 'set CUSTOS_CREDENTIAL_ID and CUSTOS_PRIVATE_KEY (or --credential/--private-key) to the approver\'s credential', 400);
      if (!Number.isFinite(o.validity) || o.validity <= 0 || o.validity > 24 * 60) throw new CustosError('validity_invalid', '--validity is 1 to 1440 minutes', 400);
      const key = parseApprovalKeyFile(readFileSync(o.key, 'utf8'));
      const client = new CustosClient({ baseUrl: o.url, credentialId: o.credential, privateKey: o.privateKey, retries: 2 });
      try {
        const r = await signAndSubmitDecision(client, withdrawalId, key, {
          decision, now: Date.now(), validityMs: o.validity * 60_000,
          ...(o.comment !== undefined ? { comment: o.comment } : {}),
          ...(o.hsmToken ? { hsmToken: readFileSync(o.hsmToken, 'utf8').trim() } : {}),
        });
        if (o.json) return console.log(JSON.stringify(r.outcome));
        const w = r.request.withdrawal;
        console.log(`${key.approver} signed "${decision}" for ${withdrawalId}: ${w.amount} ${w.asset} to ${w.to} on ${w.chain} (policy version ${r.statement.policyVersion}, digest ${r.statement.withdrawalDigest.slice(0, 16)}…)`);
        const o2 = r.outcome;
        const hsm = o2.hsmRequired && o2.result === 'recorded' && o2.approved >= o2.quorum ? '; waiting for an HSM approval token' : '';
        console.log(`→ ${o2.result}: ${o2.approved} of ${o2.quorum} approvals, status ${o2.withdrawal.status}${hsm}`);
      } catch (err) {
        if (err instanceof CustosApiError) {
          console.log(o.json ? JSON.stringify(err.problem) : `refused ${err.status} ${err.code}: ${err.problem.detail}`);
          process.exitCode = 1;
          return;
        }
        throw err;
      }
    });
  }
}
