/**
 * PostgreSQL enforcement of the audit log, on a real server (skipped without DATABASE_URL: PGlite
 * is a single superuser, role separation cannot be shown there). The application connects as
 * its own LOGIN role after `hardenAuditTables`: it may INSERT and SELECT the log, everything else
 * is permission denied; the identity is GENERATED ALWAYS; the triggers are ENABLE ALWAYS so a
 * superuser's session_replication_role = replica does not bypass them; and when the audit insert
 * fails, the withdrawal it records is not stored either (fail closed).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../core/clock.js';
import { createCredential } from '../gateway/credentials.js';
import type { WithdrawalRequestBody } from '../gateway/schemas.js';
import { submitWithdrawal } from '../pipeline/intake.js';
import { openDb, type Db } from '../store/db.js';
import { seedStarter } from '../store/seed.js';
import { DATABASE_URL, openPostgresSchema } from '../store/test-helpers/db.js';
import { appendAudit, readTreeState, sealPending } from './chain.js';
import { AuditCheckpointer } from './checkpointer.js';
import { AUDIT_LOG_TABLES, hardenAuditTables } from './harden.js';
import { ed25519SignerFromSeed } from './signer.js';

if (!DATABASE_URL) console.warn('harden.test.ts: DATABASE_URL unset, the PostgreSQL role and trigger tests are skipped (PGlite has no role separation)');

const entry = (i: number) => ({ at: 1_732_417_200_000 + i, actor: 'app', action: 'test.event', subject: `t:${i}`, data: { i } });

describe.skipIf(!DATABASE_URL)('audit log enforcement on PostgreSQL (skipped without DATABASE_URL)', () => {
  let admin: Db & { schema: string };
  let app: Db;
  let appClient: pg.Client;
  const suffix = randomBytes(4).toString('hex');
  const appRole = `custos_app_${suffix}`;
  const ownerRole = `custos_audit_owner_${suffix}`;

  beforeAll(async () => {
    admin = await openPostgresSchema(4);
    const s = admin.schema;
    await seedStarter(admin, { customerId: 'acme' });
    await admin.exec(`CREATE ROLE ${appRole} LOGIN;
      GRANT USAGE ON SCHEMA ${s} TO ${appRole};
      GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ${s} TO ${appRole};
      GRANT USAGE ON ALL SEQUENCES IN SCHEMA ${s} TO ${appRole};`);
    expect(await hardenAuditTables(admin, { appRole, ownerRole })).toEqual({ ownerRole, created: true });
    const url = new URL(DATABASE_URL!);
    url.username = appRole;
    url.password = '';
    app = await openDb({ databaseUrl: url.toString(), schema: s, poolSize: 2 });
    appClient = new pg.Client({ connectionString: url.toString(), options: `-c search_path=${s}` });
    await appClient.connect();
  }, 60_000);
  afterAll(async () => {
    await appClient?.end();
    await app?.close();
    await admin?.close(); // drops the schema
    const c = new pg.Client({ connectionString: DATABASE_URL });
    await c.connect();
    for (const r of [appRole, ownerRole]) {
      await c.query(`DROP OWNED BY ${r}`).catch(() => undefined);
      await c.query(`DROP ROLE IF EXISTS ${r}`);
    }
    await c.end();
  });

  it('the log tables belong to a role that cannot log in', async () => {
    const owners = await admin.query<{ t: string; owner: string }>(
      `SELECT c.relname AS t, r.rolname AS owner FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner
       JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = ANY($2::text[])`,
      [admin.schema, [...AUDIT_LOG_TABLES]],
    );
    expect(owners).toHaveLength(AUDIT_LOG_TABLES.length);
    for (const o of owners) expect(o.owner).toBe(ownerRole);
    const [role] = await admin.query<{ rolcanlogin: boolean }>('SELECT rolcanlogin FROM pg_roles WHERE rolname = $1', [ownerRole]);
    expect(role?.rolcanlogin).toBe(false);
    await expect(hardenAuditTables(admin, { appRole: 'x; DROP TABLE y' })).rejects.toThrow(/identifiers/);
  });

  it('the application role may INSERT and SELECT (and run the sequencer and checkpoints), nothing else', async () => {
    await app.tx((q) => appendAudit(q, entry(1)));
    await app.tx((q) => appendAudit(q, entry(2)));
    while ((await sealPending(app)) > 0);
    expect((await readTreeState(app)).size).toBeGreaterThanOrEqual(2);
    const signer = ed25519SignerFromSeed('custos.test/audit', new Uint8Array(32).fill(1));
    expect((await new AuditCheckpointer(app, { origin: 'custos.test/audit', signer }).issue()).created).toBe(true);
    const cols: Record<string, string> = { audit_entries: 'body', audit_chain: 'hash', audit_tree_nodes: 'hash', audit_checkpoints: 'note' };
    for (const t of AUDIT_LOG_TABLES) {
      const col = cols[t]!;
      // the grant refuses before any trigger runs
      await expect(appClient.query(`UPDATE ${t} SET ${col} = ${col}`)).rejects.toThrow(`permission denied for table ${t}`);
      await expect(appClient.query(`DELETE FROM ${t}`)).rejects.toThrow(`permission denied for table ${t}`);
      await expect(appClient.query(`TRUNCATE ${t}`)).rejects.toThrow(`permission denied for table ${t}`);
      await expect(appClient.query(`ALTER TABLE ${t} DISABLE TRIGGER ALL`)).rejects.toThrow(`must be owner of table ${t}`);
      await expect(appClient.query(`DROP TABLE ${t}`)).rejects.toThrow(`must be owner of table ${t}`);
    }
    // the sequence is GENERATED ALWAYS: the application cannot choose an entry id
    await expect(
      appClient.query("INSERT INTO audit_entries (id, at, actor, action, subject, body) VALUES (1000000, now(), 'a', 'b', 'c', '{}')"),
    ).rejects.toThrow(/cannot insert a non-DEFAULT value into column "id"/);
    // (PostgreSQL lets any role with INSERT write OVERRIDING SYSTEM VALUE; such a row is still an
    // entry like any other: chained, in the tree, covered by the next checkpoint.)
  });

  it('every append-only trigger is ENABLE ALWAYS, so session_replication_role = replica does not bypass it', async () => {
    const rows = await admin.query<{ tgname: string; tgenabled: string }>(
      `SELECT t.tgname, t.tgenabled FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = $1 AND NOT t.tgisinternal AND c.relname = ANY($2::text[]) ORDER BY t.tgname`,
      [admin.schema, [...AUDIT_LOG_TABLES]],
    );
    expect(rows).toHaveLength(2 * AUDIT_LOG_TABLES.length);
    for (const r of rows) expect(r.tgenabled).toBe('A');
    for (const t of AUDIT_LOG_TABLES) {
      // (row triggers fire only on rows: the previous test wrote to every table)
      expect(Number((await admin.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${t}`))[0]!.n)).toBeGreaterThan(0);
      // a superuser session in replica mode (what logical replication and pg_restore tricks use)
      await expect(
        admin.tx(async (q) => {
          await q.query('SET LOCAL session_replication_role = replica');
          await q.query(`DELETE FROM ${t} WHERE true`);
        }),
      ).rejects.toThrow(`append-only: DELETE on ${t} refused`);
      await expect(
        admin.tx(async (q) => {
          await q.query('SET LOCAL session_replication_role = replica');
          await q.query(`TRUNCATE ${t} CASCADE`);
        }),
      ).rejects.toThrow(/append-only: TRUNCATE on .* refused/);
    }
  });

  it('fails closed: without the audit insert the withdrawal is not stored', async () => {
    const clock = manualClock(Date.now());
    const count = async () => Number((await admin.query<{ n: string }>('SELECT count(*)::text AS n FROM withdrawals'))[0]!.n);
    const submission = (key: string, credentialId: string) => ({
      customerId: 'acme',
      credentialId,
      idempotencyKey: key,
      request: { chain: 'ethereum', asset: 'ETH', to: '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed', amount: '0.5' } as WithdrawalRequestBody,
    });
    const cred = await createCredential(admin, { customerId: 'acme', scopes: ['withdraw'] });
    const before = await count();
    await submitWithdrawal(app, clock, submission('fail-closed-ok', cred.credentialId));
    expect(await count()).toBe(before + 1); // the application role can store withdrawals

    await admin.exec(`REVOKE INSERT ON audit_entries FROM ${appRole}`);
    try {
      await expect(submitWithdrawal(app, clock, submission('fail-closed-denied', cred.credentialId))).rejects.toThrow(/permission denied for table audit_entries/);
      expect(await count()).toBe(before + 1);
      const [row] = await admin.query<{ n: string }>("SELECT count(*)::text AS n FROM withdrawals WHERE idempotency_key = 'fail-closed-denied'");
      expect(row?.n).toBe('0');
    } finally {
      await admin.exec(`GRANT INSERT ON audit_entries TO ${appRole}`);
    }
  });
});
