/**
 * PostgreSQL enforcement of the audit log (issue 8): the log tables belong to a role that cannot
 * log in, and the application role may only INSERT and SELECT them. Run once by a superuser (or
 * the database owner) after `custos migrate`, e.g. `custos audit harden --app-role custos_app`.
 *
 * - creates the owner role (NOLOGIN) if absent and makes it the owner of audit_entries,
 *   audit_chain, audit_tree_nodes and audit_checkpoints (their GENERATED ALWAYS identity
 *   sequences follow their table), so the application role cannot ALTER, disable triggers or
 *   drop them;
 * - revokes everything on them from PUBLIC and the application role, then grants it SELECT and
 *   INSERT only; the sequencer's work tables get what it needs (audit_pending: SELECT, INSERT,
 *   DELETE; audit_tree_state: SELECT, UPDATE);
 * - the append-only triggers (ENABLE ALWAYS) come from the migrations and still refuse UPDATE,
 *   DELETE and TRUNCATE to everybody, the owner included.
 *
 * PGlite runs as a single superuser, so this function refuses it (`audit_harden_unsupported`).
 *
 * @example
 *   await hardenAuditTables(db, { appRole: 'custos_app' });
 */
import { CustosError } from '../core/errors.js';
import type { Db } from '../store/db.js';

export const AUDIT_LOG_TABLES = ['audit_entries', 'audit_chain', 'audit_tree_nodes', 'audit_checkpoints'] as const;
export const DEFAULT_AUDIT_OWNER_ROLE = 'custos_audit_owner';

const IDENT = /^[a-z_][a-z0-9_]{0,62}$/;

export interface HardenOptions {
  appRole: string;
  ownerRole?: string;
}

export async function hardenAuditTables(db: Db, opts: HardenOptions): Promise<{ ownerRole: string; created: boolean }> {
  if (db.kind !== 'postgres') {
    throw new CustosError('audit_harden_unsupported', 'role separation needs a PostgreSQL server (PGlite is one superuser)', 400);
  }
  const owner = opts.ownerRole ?? DEFAULT_AUDIT_OWNER_ROLE;
  for (const r of [opts.appRole, owner]) {
    if (!IDENT.test(r)) throw new CustosError('audit_harden_bad_role', 'role names must be lower-case SQL identifiers', 400);
  }
  if (owner === opts.appRole) throw new CustosError('audit_harden_bad_role', 'the owner role must differ from the application role', 400);
  return db.tx(async (q) => {
    const [app] = await q.query<{ n: string }>('SELECT count(*)::text AS n FROM pg_roles WHERE rolname = $1', [opts.appRole]);
    if (app?.n !== '1') throw new CustosError('audit_harden_bad_role', `role ${opts.appRole} does not exist`, 400);
    const [have] = await q.query<{ n: string; login: boolean | null }>(
      'SELECT count(*)::text AS n, bool_or(rolcanlogin) AS login FROM pg_roles WHERE rolname = $1',
      [owner],
    );
    const created = have?.n !== '1';
    if (created) await q.query(`CREATE ROLE ${owner} NOLOGIN`);
    else if (have?.login) await q.query(`ALTER ROLE ${owner} NOLOGIN`);
    const [schema] = await q.query<{ s: string }>('SELECT current_schema() AS s');
    // The owner needs the schema too: foreign-key checks (audit_chain → audit_entries) run as the table owner.
    await q.query(`GRANT USAGE ON SCHEMA ${quote(schema!.s)} TO ${opts.appRole}, ${owner}`);
    for (const t of AUDIT_LOG_TABLES) {
      await q.query(`ALTER TABLE ${t} OWNER TO ${owner}`);
      await q.query(`REVOKE ALL ON ${t} FROM PUBLIC, ${opts.appRole}`);
      await q.query(`GRANT SELECT, INSERT ON ${t} TO ${opts.appRole}`);
    }
    await q.query(`REVOKE ALL ON audit_pending, audit_tree_state FROM PUBLIC, ${opts.appRole}`);
    await q.query(`GRANT SELECT, INSERT, DELETE ON audit_pending TO ${opts.appRole}`);
    await q.query(`GRANT SELECT, UPDATE ON audit_tree_state TO ${opts.appRole}`);
    return { ownerRole: owner, created };
  });
}

function quote(ident: string): string {
  return `"${ident.replace(/"/g, '""')}"`;
}
