/**
 * Applies the SQL migrations in order, once each, under an advisory lock so that several
 * processes starting together do not race.
 *
 * @example
 *   await migrate(db); // idempotent
 */
import type { Db } from './db.js';
import * as m001 from './migrations/001_init.js';
import * as m002 from './migrations/002_alerts.js';
import * as m003 from './migrations/003_policy.js';
import * as m004 from './migrations/004_merkle.js';
import * as m005 from './migrations/005_outbound.js';
import * as m006 from './migrations/006_approvers.js';
import * as m007 from './migrations/007_key_release.js';
import * as m008 from './migrations/008_intake_indexes.js';
import * as m009 from './migrations/009_solana_lifetime.js';
import * as m010 from './migrations/010_statement_refusal.js';
import * as m011 from './migrations/011_balance_holds.js';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [m001, m002, m003, m004, m005, m006, m007, m008, m009, m010, m011];

const LOCK_KEY = 7_202_611; // arbitrary, constant: custos migrations

export async function migrate(db: Db): Promise<number[]> {
  await db.exec(
    'CREATE TABLE IF NOT EXISTS schema_migrations (version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())',
  );
  const applied: number[] = [];
  for (const m of MIGRATIONS) {
    const did = await db.tx(async (q) => {
      await q.query('SELECT pg_advisory_xact_lock($1)', [LOCK_KEY]);
      const seen = await q.query('SELECT 1 FROM schema_migrations WHERE version = $1', [m.version]);
      if (seen.length > 0) return false;
      for (const stmt of splitStatements(m.sql)) await q.query(stmt);
      await q.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      return true;
    });
    if (did) applied.push(m.version);
  }
  return applied;
}

/**
 * Splits a migration script into statements on semicolons outside dollar-quoted bodies,
 * so each runs as one extended-protocol query inside the migration transaction.
 */
export function splitStatements(script: string): string[] {
  const out: string[] = [];
  let cur = '';
  let dollar: string | null = null;
  for (let i = 0; i < script.length; i++) {
    const ch = script[i];
    if (ch === '$') {
      const m = /^\$[A-Za-z_]*\$/.exec(script.slice(i));
      if (m) {
        const tag = m[0];
        if (dollar === null) dollar = tag;
        else if (dollar === tag) dollar = null;
        cur += tag;
        i += tag.length - 1;
        continue;
      }
    }
    if (ch === '-' && dollar === null && script[i + 1] === '-') {
      const nl = script.indexOf('\n', i);
      i = nl === -1 ? script.length : nl;
      cur += '\n';
      continue;
    }
    if (ch === ';' && dollar === null) {
      if (cur.trim()) out.push(cur.trim());
      cur = '';
      continue;
    }
    cur += ch;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}
