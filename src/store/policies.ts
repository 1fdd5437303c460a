/**
 * Policy rows: every version ever activated, the highest one active. The document is stored as
 * given (JSON) with its canonical hash; parsing and validation happen in src/policy. Proposals of
 * changes wait in policy_proposals until an admin quorum applies them. Also the static price table.
 *
 * @example
 *   const row = await getActivePolicyRow(q); // { version, document, hash, source, activatedAt } | null
 */
import type { Queryable } from './db.js';

export type PolicySource = 'starter' | 'init' | 'governance';

export interface PolicyRow {
  version: number;
  document: unknown;
  hash: string;
  source: PolicySource;
  activatedAt: number;
  activatedBy: string;
}

interface Row {
  version: number;
  document: unknown;
  hash: string;
  source: PolicySource;
  activated_at: Date | string;
  activated_by: string;
}

const toRow = (r: Row): PolicyRow => ({
  version: Number(r.version),
  document: typeof r.document === 'string' ? (JSON.parse(r.document) as unknown) : r.document,
  hash: r.hash,
  source: r.source,
  activatedAt: new Date(r.activated_at).getTime(),
  activatedBy: r.activated_by,
});

/** The active policy's version, or null when none was installed (one index lookup). */
export async function getActivePolicyVersion(q: Queryable): Promise<number | null> {
  const [r] = await q.query<{ version: number }>('SELECT version FROM policies ORDER BY version DESC LIMIT 1');
  return r ? Number(r.version) : null;
}

export async function getActivePolicyRow(q: Queryable): Promise<PolicyRow | null> {
  const [r] = await q.query<Row>('SELECT * FROM policies ORDER BY version DESC LIMIT 1');
  return r ? toRow(r) : null;
}

export async function getPolicyRow(q: Queryable, version: number): Promise<PolicyRow | null> {
  const [r] = await q.query<Row>('SELECT * FROM policies WHERE version = $1', [version]);
  return r ? toRow(r) : null;
}

export async function insertPolicyRow(q: Queryable, p: PolicyRow): Promise<void> {
  await q.query('INSERT INTO policies (version, document, hash, source, activated_at, activated_by) VALUES ($1, $2, $3, $4, $5, $6)', [
    p.version,
    JSON.stringify(p.document),
    p.hash,
    p.source,
    new Date(p.activatedAt).toISOString(),
    p.activatedBy,
  ]);
}

/** Serialises policy installs and changes (transaction-scoped). */
export async function lockPolicies(q: Queryable): Promise<void> {
  await q.query("SELECT pg_advisory_xact_lock(hashtextextended('custos:policies', 0))");
}

// ---- proposals ----

export interface ProposalRow {
  id: string;
  proposal: Record<string, unknown>;
  document: unknown;
  approvals: { approver: string; signature: string }[];
  status: 'open' | 'applied' | 'superseded';
  createdAt: number;
}

interface PRow {
  id: string;
  proposal: unknown;
  document: unknown;
  approvals: unknown;
  status: ProposalRow['status'];
  created_at: Date | string;
}
const j = (v: unknown): unknown => (typeof v === 'string' ? JSON.parse(v) : v);

export async function insertProposal(q: Queryable, p: Omit<ProposalRow, 'approvals' | 'status'>): Promise<void> {
  await q.query("INSERT INTO policy_proposals (id, proposal, document, approvals, status, created_at) VALUES ($1, $2, $3, '[]', 'open', $4)", [
    p.id,
    JSON.stringify(p.proposal),
    JSON.stringify(p.document),
    new Date(p.createdAt).toISOString(),
  ]);
}

export async function getProposal(q: Queryable, id: string, forUpdate = false): Promise<ProposalRow | null> {
  const [r] = await q.query<PRow>(`SELECT * FROM policy_proposals WHERE id = $1${forUpdate ? ' FOR UPDATE' : ''}`, [id]);
  if (!r) return null;
  return {
    id: r.id,
    proposal: j(r.proposal) as Record<string, unknown>,
    document: j(r.document),
    approvals: j(r.approvals) as ProposalRow['approvals'],
    status: r.status,
    createdAt: new Date(r.created_at).getTime(),
  };
}

export async function setProposalApprovals(q: Queryable, id: string, approvals: ProposalRow['approvals']): Promise<void> {
  await q.query('UPDATE policy_proposals SET approvals = $2 WHERE id = $1', [id, JSON.stringify(approvals)]);
}

export async function setProposalStatus(q: Queryable, id: string, status: ProposalRow['status']): Promise<void> {
  await q.query('UPDATE policy_proposals SET status = $2 WHERE id = $1', [id, status]);
}

/** Marks every other open proposal superseded (after a change was applied). */
export async function supersedeOpenProposals(q: Queryable): Promise<void> {
  await q.query("UPDATE policy_proposals SET status = 'superseded' WHERE status = 'open'");
}

// ---- static price table ----

export interface PriceRow {
  asset: string;
  refCurrency: string;
  refPerUnit: bigint;
  /** null: a configured fixed price; otherwise when a feed observed it. */
  observedAt: number | null;
  source: string;
}

export async function getPrice(q: Queryable, asset: string): Promise<PriceRow | null> {
  const [r] = await q.query<{ asset: string; ref_currency: string; ref_per_unit: string; observed_at: Date | string | null; source: string }>(
    'SELECT asset, ref_currency, ref_per_unit::text AS ref_per_unit, observed_at, source FROM asset_prices WHERE asset = $1',
    [asset],
  );
  if (!r) return null;
  return {
    asset: r.asset,
    refCurrency: r.ref_currency,
    refPerUnit: BigInt(r.ref_per_unit),
    observedAt: r.observed_at === null ? null : new Date(r.observed_at).getTime(),
    source: r.source,
  };
}

export async function listPrices(q: Queryable): Promise<PriceRow[]> {
  const rows = await q.query<{ asset: string }>('SELECT asset FROM asset_prices ORDER BY asset');
  const out: PriceRow[] = [];
  for (const r of rows) {
    const p = await getPrice(q, r.asset);
    if (p) out.push(p);
  }
  return out;
}

export async function setPrice(q: Queryable, p: PriceRow): Promise<void> {
  await q.query(
    `INSERT INTO asset_prices (asset, ref_currency, ref_per_unit, observed_at, source) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (asset) DO UPDATE SET ref_currency = EXCLUDED.ref_currency, ref_per_unit = EXCLUDED.ref_per_unit,
       observed_at = EXCLUDED.observed_at, source = EXCLUDED.source`,
    [p.asset, p.refCurrency, p.refPerUnit.toString(), p.observedAt === null ? null : new Date(p.observedAt).toISOString(), p.source],
  );
}
