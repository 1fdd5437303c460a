/**
 * Sanctions entries imported at run time (`custos sanctions import FILE`), next to the lists
 * bundled with custos (src/risk/bundled-sanctions.ts). An import replaces the entries of the lists
 * it names.
 *
 * @example
 *   await replaceSanctionsList(q, 'ETH', entries, now);
 *   await sanctionsCounts(q); // [{ list: 'ETH', entries: 123, importedAt }]
 */
import type { SanctionsEntry } from '../risk/sanctions.js';
import type { Queryable } from './db.js';

export async function replaceSanctionsList(q: Queryable, list: string, entries: readonly SanctionsEntry[], now: number): Promise<number> {
  await q.query('DELETE FROM sanctions_entries WHERE list = $1', [list]);
  const at = new Date(now).toISOString();
  const seen = new Set<string>();
  for (const e of entries) {
    const k = `${e.chain}\n${e.address}`;
    if (seen.has(k)) continue;
    seen.add(k);
    await q.query('INSERT INTO sanctions_entries (chain, address, list, imported_at) VALUES ($1, $2, $3, $4)', [e.chain, e.address, list, at]);
  }
  return seen.size;
}

export async function sanctionsCounts(q: Queryable): Promise<{ list: string; entries: number; importedAt: number }[]> {
  const rows = await q.query<{ list: string; n: string; t: Date | string }>(
    'SELECT list, COUNT(*)::text AS n, MAX(imported_at) AS t FROM sanctions_entries GROUP BY list ORDER BY list',
  );
  return rows.map((r) => ({ list: r.list, entries: Number(r.n), importedAt: new Date(r.t).getTime() }));
}
