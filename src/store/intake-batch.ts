/**
 * The intake's reads and writes for a batch of withdrawals, in as few statements as the
 * semantics allow (each round trip to the database costs more than the pipeline's own work):
 *   1. lockCounterScopes (counters.ts): every counter scope of the batch, one statement;
 *   2. loadIntakeContexts: everything stages 1–3 read, for every withdrawal, one statement;
 *   3. writeIntakeBatch: the hot-wallet nonces of the approved account-based withdrawals,
 *      withdrawals, counters, histories, destinations, audit entries and alerts, one statement
 *      of data-modifying CTEs, committed with it.
 * On a real server they run in one `Db.session` (src/pipeline/intake.ts): the counter locks are
 * session locks, held from step 1 to the end; step 3 is the only write and commits by itself.
 * The nonces are taken inside step 3 because every batch with an account-based withdrawal
 * queues on its account row's lock, which is then held only while the server executes and
 * commits that one statement, never across a round trip to the gateway: everything the writes
 * need is encoded before it (the audit entries with the nonce left open, src/audit/chain.ts
 * encodeEntryAround). On PGlite the three run in one transaction.
 *
 * @example
 *   await lockCounterScopes(q, scopes);
 *   const ctx = await loadIntakeContexts(q, keys, reads);
 *   ctx.items[0]?.asset; // Asset | null
 */
import type { OpenEntry } from '../audit/chain.js';
import { NATIVE_ASSET, type Chain } from '../core/chain.js';
import { CustosError } from '../core/errors.js';
import type { DestinationRecord } from '../risk/context.js';
import { historyFromJSON, historyToJSON, type AmountHistory } from '../risk/history.js';
import type { CounterWrite, Totals } from '../policy/windows.js';
import type { Account, Asset } from './accounts.js';
import type { Queryable } from './db.js';
import type { PriceRow } from './policies.js';
import type { WithdrawalRecord } from './withdrawals.js';

/** What identifies one withdrawal's context. `address` is normalised (src/risk/address.ts). */
export interface IntakeKey {
  customerId: string;
  chain: Chain;
  asset: string;
  address: string;
  lookAlikeKey: string;
  idempotencyKey: string;
}

/** One window sum to read for item `item` (index into the keys). */
export interface IntakeRead {
  item: number;
  id: string;
  scope: string;
  bucketMs: number;
  from: number;
  to: number;
}

export interface IntakeItemContext {
  asset: Asset | null;
  account: Account | null;
  /** For a token: the chain's native account, which pays its fee (src/core/chain.ts NATIVE_ASSET). */
  feeAccount: Account | null;
  /** Id of the withdrawal already stored under this (customer, Idempotency-Key), or null. */
  replayOf: string | null;
  totals: Record<string, Totals>;
  destination: DestinationRecord | null;
  /** The customer's whitelisted address-book entries on this chain (addresses as stored). */
  addressBook: { address: string; createdAt: number }[];
  similar: DestinationRecord[];
  importedSanctions: string[];
  history: AmountHistory | null;
  credentialsChangedAt: number | null;
  /** Latest whitelist change: address-book additions and destination records. */
  whitelistChangedAt: number | null;
  price: PriceRow | null;
}

export interface IntakeContexts {
  policyVersion: number | null;
  /** Every hot-wallet account's chain and address (internal-destination check). */
  accounts: { chain: Chain; address: string }[];
  items: IntakeItemContext[];
}

type J = Record<string, string | number | null>;

const MS = (col: string) => `floor(extract(epoch FROM ${col}) * 1000)::bigint::text`;
const DEST_JSON = (d: string) =>
  `json_build_object('address', ${d}.address, 'first', ${d}.first_used_at::text, 'last', ${d}.last_used_at::text, 'uses', ${d}.use_count, 'wl', ${d}.whitelisted_at::text)`;

const ACCOUNT_JSON = (ac: string) =>
  `json_build_object('id', ${ac}.id, 'chain', ${ac}.chain, 'asset', ${ac}.asset, 'address', ${ac}.address,
    'balance', ${ac}.balance::text, 'reserved', ${ac}.reserved::text, 'nextNonce', ${ac}.next_nonce::text)`;
/** The chain's own coin (src/core/chain.ts NATIVE_ASSET) as an SQL expression over `chain`. */
const NATIVE_OF = (chain: string) => `CASE ${chain} ${Object.entries(NATIVE_ASSET).map(([c, a]) => `WHEN '${c}' THEN '${a}'`).join(' ')} END`;

const LOAD_SQL = `
WITH it AS (
  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
    WITH ORDINALITY AS t(customer_id, chain, asset, addr, lk, idem, i)
), rd AS (
  SELECT * FROM unnest($7::int[], $8::text[], $9::text[], $10::bigint[], $11::bigint[], $12::bigint[]) AS r(i, k, scope, bucket_ms, f, t)
)
-- one row, one JSON array of [item, part, value]: a single text for the gateway to parse instead
-- of hundreds of rows, each with its own row and field decoding in the driver
SELECT json_agg(json_build_array(i, part, v)) AS parts FROM (
SELECT 0::bigint AS i, 'policy' AS part, json_build_object('version', (SELECT version FROM policies ORDER BY version DESC LIMIT 1)) AS v
UNION ALL
SELECT 0, 'internal', json_build_object('chain', chain, 'address', address) FROM accounts
UNION ALL
SELECT it.i, 'asset', json_build_object('chain', a.chain, 'symbol', a.symbol, 'network', a.network, 'decimals', a.decimals,
    'feeDecimals', a.fee_decimals, 'minFee', a.min_fee::text, 'maxFee', a.max_fee::text, 'defaultFee', a.default_fee::text)
  FROM it JOIN assets a ON a.chain = it.chain AND a.symbol = it.asset
UNION ALL
SELECT it.i, 'account', ${ACCOUNT_JSON('ac')}
  FROM it JOIN accounts ac ON ac.chain = it.chain AND ac.asset = it.asset
UNION ALL
SELECT it.i, 'feeAccount', ${ACCOUNT_JSON('ac')}
  FROM it JOIN accounts ac ON ac.chain = it.chain AND it.asset <> ac.asset AND ac.asset = ${NATIVE_OF('it.chain')}
UNION ALL
SELECT it.i, 'replay', json_build_object('id', w.id)
  FROM it JOIN withdrawals w ON w.customer_id = it.customer_id AND w.idempotency_key = it.idem
UNION ALL
SELECT rd.i, 'total', json_build_object('k', rd.k, 'count', COALESCE(SUM(c.count), 0)::text, 'amount', COALESCE(SUM(c.amount), 0)::text)
  FROM rd LEFT JOIN policy_counters c ON c.scope = rd.scope AND c.bucket_ms = rd.bucket_ms AND c.bucket_start BETWEEN rd.f AND rd.t
  GROUP BY rd.i, rd.k
UNION ALL
SELECT it.i, 'destination', ${DEST_JSON('d')}
  FROM it JOIN destinations d ON d.customer_id = it.customer_id AND d.chain = it.chain AND d.address = it.addr
UNION ALL
SELECT it.i, 'book', json_build_object('address', b.address, 'at', ${MS('b.created_at')})
  FROM it JOIN address_book b ON b.customer_id = it.customer_id AND b.chain = it.chain AND b.whitelisted
UNION ALL
SELECT it.i, 'similar', s.v FROM it CROSS JOIN LATERAL (
    SELECT ${DEST_JSON('d')} AS v FROM destinations d
     WHERE d.customer_id = it.customer_id AND d.chain = it.chain AND d.lookalike_key = it.lk AND d.address <> it.addr
     ORDER BY d.address LIMIT 50) AS s
UNION ALL
SELECT it.i, 'sanctions', json_build_object('list', s.list)
  FROM it JOIN sanctions_entries s ON s.chain = it.chain AND s.address = it.addr
UNION ALL
SELECT it.i, 'history', h.history::json
  FROM it JOIN amount_histories h ON h.customer_id = it.customer_id AND h.asset = it.asset
UNION ALL
SELECT it.i, 'security', json_build_object(
    'credentials', (SELECT ${MS('GREATEST(MAX(c.created_at), MAX(c.revoked_at))')} FROM credentials c WHERE c.customer_id = it.customer_id),
    'book', (SELECT ${MS('MAX(b.created_at)')} FROM address_book b WHERE b.customer_id = it.customer_id AND b.whitelisted),
    'destinations', (SELECT MAX(d.whitelisted_at)::text FROM destinations d WHERE d.customer_id = it.customer_id))
  FROM it
UNION ALL
SELECT it.i, 'price', json_build_object('asset', p.asset, 'refCurrency', p.ref_currency, 'refPerUnit', p.ref_per_unit::text,
    'observedAt', ${MS('p.observed_at')}, 'source', p.source)
  FROM it JOIN asset_prices p ON p.asset = it.asset
) AS x`;

const num = (v: string | number | null | undefined): number | null => (v === null || v === undefined ? null : Number(v));
const toDestination = (v: J): DestinationRecord => ({
  address: String(v.address),
  firstUsedAt: num(v.first),
  lastUsedAt: num(v.last),
  useCount: Number(v.uses),
  whitelistedAt: num(v.wl),
});

const toAccount = (v: J): Account => ({
  id: String(v.id),
  chain: v.chain as Chain,
  asset: String(v.asset),
  address: String(v.address),
  balance: BigInt(v.balance as string),
  reserved: BigInt(v.reserved as string),
  nextNonce: BigInt(v.nextNonce as string),
});

/** Loads the context of every key (and each read's window sum) in one statement. */
export async function loadIntakeContexts(q: Queryable, keys: readonly IntakeKey[], reads: readonly IntakeRead[]): Promise<IntakeContexts> {
  const [agg] = await q.query<{ parts: unknown }>(LOAD_SQL, [
    keys.map((k) => k.customerId),
    keys.map((k) => k.chain),
    keys.map((k) => k.asset),
    keys.map((k) => k.address),
    keys.map((k) => k.lookAlikeKey),
    keys.map((k) => k.idempotencyKey),
    reads.map((r) => r.item + 1),
    reads.map((r) => r.id),
    reads.map((r) => r.scope),
    reads.map((r) => String(r.bucketMs)),
    reads.map((r) => String(r.from)),
    reads.map((r) => String(r.to)),
  ]);
  const items: IntakeItemContext[] = keys.map(() => ({
    asset: null,
    account: null,
    feeAccount: null,
    replayOf: null,
    totals: {},
    destination: null,
    addressBook: [],
    similar: [],
    importedSanctions: [],
    history: null,
    credentialsChangedAt: null,
    whitelistChangedAt: null,
    price: null,
  }));
  for (const r of reads) (items[r.item] as IntakeItemContext).totals[r.id] = { count: 0, amount: 0n };
  const out: IntakeContexts = { policyVersion: null, accounts: [], items };
  // pg decodes json itself; PGlite may hand back the text
  const parts = (typeof agg?.parts === 'string' ? JSON.parse(agg.parts) : (agg?.parts ?? [])) as [number, string, J][];
  for (const [i, part, v] of parts) {
    const it = items[i - 1] as IntakeItemContext;
    switch (part) {
      case 'policy':
        out.policyVersion = num(v.version);
        break;
      case 'internal':
        out.accounts.push({ chain: v.chain as Chain, address: String(v.address) });
        break;
      case 'asset':
        it.asset = {
          chain: v.chain as Chain,
          symbol: String(v.symbol),
          network: v.network as Asset['network'],
          decimals: Number(v.decimals),
          feeDecimals: Number(v.feeDecimals),
          minFee: BigInt(v.minFee as string),
          maxFee: BigInt(v.maxFee as string),
          defaultFee: BigInt(v.defaultFee as string),
        };
        break;
      case 'account':
        it.account = toAccount(v);
        break;
      case 'feeAccount':
        it.feeAccount = toAccount(v);
        break;
      case 'replay':
        it.replayOf = String(v.id);
        break;
      case 'total':
        it.totals[String(v.k)] = { count: Number(v.count), amount: BigInt(v.amount as string) };
        break;
      case 'destination':
        it.destination = toDestination(v);
        break;
      case 'book':
        it.addressBook.push({ address: String(v.address), createdAt: Number(v.at) });
        break;
      case 'similar':
        it.similar.push(toDestination(v));
        break;
      case 'sanctions':
        it.importedSanctions.push(String(v.list));
        break;
      case 'history':
        it.history = historyFromJSON(v);
        break;
      case 'security': {
        it.credentialsChangedAt = num(v.credentials);
        const ts = [num(v.book), num(v.destinations)].filter((x): x is number => x !== null);
        it.whitelistChangedAt = ts.length ? Math.max(...ts) : null;
        break;
      }
      case 'price':
        it.price = {
          asset: String(v.asset),
          refCurrency: String(v.refCurrency),
          refPerUnit: BigInt(v.refPerUnit as string),
          observedAt: num(v.observedAt),
          source: String(v.source),
        };
        break;
    }
  }
  for (const it of items) {
    it.similar.sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
    it.importedSanctions.sort();
  }
  return out;
}

export interface IntakeAuditRow {
  at: number;
  actor: string;
  action: string;
  subject: string;
  /** Canonical entry text (src/audit/chain.ts encodeEntry), or its open form with the nonce of `nonceOf` to fill in. */
  body: string | OpenEntry;
  /** The withdrawal whose nonce goes into an open body. */
  nonceOf?: string;
}

/** A withdrawal that takes the next nonce of its hot-wallet account. */
export interface NonceTake {
  withdrawalId: string;
  accountId: string;
  /** The nonce the client asked for, if any: the batch is refused unless it is the one taken. */
  requested: bigint | null;
}

export interface WithdrawalHolds {
  own: bigint;
  fee: bigint;
  feeAccountId: string | null;
}

export interface IntakeWrites {
  withdrawals: readonly WithdrawalRecord[];
  /** Counter deltas, at most one per (scope, bucketMs, bucketStart). */
  counters: readonly CounterWrite[];
  histories: readonly { customerId: string; asset: string; history: AmountHistory }[];
  destinations: readonly { customerId: string; chain: Chain; record: DestinationRecord; lookAlikeKey: string }[];
  /** In order: their ids follow the array. */
  audit: readonly IntakeAuditRow[];
  /** In batch order: the withdrawals of one account get consecutive nonces in this order. */
  nonces: readonly NonceTake[];
  /** Security alerts for the outbox (src/alerts/outbox.ts), `details` as its JSON text. */
  alerts: readonly { at: number; kind: string; severity: string; summary: string; details: string }[];
  /**
   * What each withdrawal (by id) holds while in flight (src/core/chain.ts holdsOf): `own` on its
   * account, `fee` on `feeAccountId` (a token's fee, on the chain's native account); absent for
   * those that hold nothing. The statement adds them to the accounts' `reserved` under the rows'
   * locks and refuses the batch (`balance_changed`) if an account would then hold more than its
   * balance.
   */
  held?: ReadonlyMap<string, WithdrawalHolds>;
}

// Every row set is one JSON parameter (json_to_recordset): JSON.stringify is native, the jsonb
// columns take their values as they are, and no text goes through array-literal escaping.
const WRITE_SQL = `
WITH nt AS (
  SELECT * FROM ROWS FROM (json_to_recordset($6::json) AS (id text, account_id text, requested numeric)) WITH ORDINALITY AS x(id, account_id, requested, i)
), hd AS (
  SELECT * FROM json_to_recordset($8::json) AS t(account_id text, held numeric)
), l AS (
  -- the account rows, locked in id order so that two batches never wait on each other crosswise
  SELECT id FROM accounts WHERE id IN (SELECT account_id FROM nt UNION SELECT account_id FROM hd) ORDER BY id FOR UPDATE
), n AS (
  -- one update per account row (a statement may not update a row twice): nonces taken and holds added
  UPDATE accounts a SET next_nonce = a.next_nonce + u.n,
      reserved = CASE WHEN u.held > 0 AND a.reserved + u.held > a.balance
                      THEN custos_fail('balance_changed', a.id || ' ' || (a.balance - a.reserved)::text || ' ' || u.held::text)
                      ELSE a.reserved + u.held END
    FROM (SELECT id, sum(n) AS n, sum(held) AS held FROM (
            SELECT account_id AS id, count(*) AS n, 0::numeric AS held FROM nt GROUP BY account_id
            UNION ALL SELECT account_id, 0, held FROM hd) AS z GROUP BY id) AS u
   WHERE a.id = u.id AND a.id IN (SELECT id FROM l)
  RETURNING a.id, a.next_nonce - u.n AS first
), wn AS (
  -- the withdrawals of one account take first, first + 1, … in batch order
  SELECT nt.id, n.first + row_number() OVER (PARTITION BY nt.account_id ORDER BY nt.i) - 1 AS nonce, nt.requested
    FROM nt LEFT JOIN n ON n.id = nt.account_id
), w AS (
  INSERT INTO withdrawals (id, customer_id, credential_id, account_id, chain, asset, to_address, amount, fee, nonce, memo,
      status, decisions, request, idempotency_key, request_hash, created_at, updated_at, held, fee_account_id, held_fee)
  SELECT t.id, customer_id, credential_id, account_id, chain, asset, to_address, amount, fee,
      CASE WHEN wn.id IS NULL THEN t.nonce
           WHEN wn.nonce IS NULL THEN custos_fail('account_unknown', t.account_id)
           WHEN wn.requested IS NOT NULL AND wn.requested <> wn.nonce THEN custos_fail('nonce_out_of_sequence', wn.requested::text || ' ' || wn.nonce::text)
           ELSE wn.nonce END,
      memo, status, decisions, request, idempotency_key, decode(request_hash, 'hex'), created_at, updated_at,
      COALESCE(held, 0), fee_account_id, COALESCE(held_fee, 0)
    FROM json_to_recordset($1::json) AS t(id text, customer_id text, credential_id text, account_id text, chain text, asset text,
      to_address text, amount numeric, fee numeric, nonce numeric, memo text, status text, decisions jsonb, request jsonb,
      idempotency_key text, request_hash text, created_at timestamptz, updated_at timestamptz, held numeric,
      fee_account_id text, held_fee numeric)
    LEFT JOIN wn ON wn.id = t.id
  RETURNING 1
), c AS (
  INSERT INTO policy_counters (scope, bucket_ms, bucket_start, count, amount)
  SELECT * FROM json_to_recordset($2::json) AS t(scope text, bucket_ms bigint, bucket_start bigint, count bigint, amount numeric)
  ON CONFLICT (scope, bucket_ms, bucket_start) DO UPDATE
    SET count = policy_counters.count + EXCLUDED.count, amount = policy_counters.amount + EXCLUDED.amount
  RETURNING 1
), h AS (
  INSERT INTO amount_histories (customer_id, asset, history)
  SELECT * FROM json_to_recordset($3::json) AS t(customer_id text, asset text, history jsonb)
  ON CONFLICT (customer_id, asset) DO UPDATE SET history = EXCLUDED.history
  RETURNING 1
), d AS (
  INSERT INTO destinations (customer_id, chain, address, lookalike_key, first_used_at, last_used_at, use_count, whitelisted_at)
  SELECT * FROM json_to_recordset($4::json) AS t(customer_id text, chain text, address text, lookalike_key text,
      first_used_at bigint, last_used_at bigint, use_count int, whitelisted_at bigint)
  ON CONFLICT (customer_id, chain, address) DO UPDATE SET lookalike_key = EXCLUDED.lookalike_key, first_used_at = EXCLUDED.first_used_at,
    last_used_at = EXCLUDED.last_used_at, use_count = EXCLUDED.use_count, whitelisted_at = EXCLUDED.whitelisted_at
  RETURNING 1
), e AS (
  INSERT INTO audit_entries (at, actor, action, subject, body)
  SELECT t.at, t.actor, t.action, t.subject,
         CASE WHEN t.nonce_of IS NULL THEN t.body ELSE t.body || '"' || wn.nonce::text || '"' || t.after END
    FROM ROWS FROM (json_to_recordset($5::json) AS (at timestamptz, actor text, action text, subject text, body text, after text, nonce_of text))
      WITH ORDINALITY AS t(at, actor, action, subject, body, after, nonce_of, n)
    LEFT JOIN wn ON wn.id = t.nonce_of
   ORDER BY t.n
  RETURNING id
), p AS (
  INSERT INTO audit_pending (entry_id) SELECT id FROM e RETURNING 1
), al AS (
  INSERT INTO alerts_outbox (created_at, kind, severity, summary, details, next_attempt_at)
  SELECT at, kind, severity, summary, details::jsonb, at
    FROM json_to_recordset($7::json) AS t(at timestamptz, kind text, severity text, summary text, details text)
  RETURNING 1
)
SELECT (SELECT count(*) FROM w) AS w, (SELECT count(*) FROM c) AS c, (SELECT count(*) FROM h) AS h,
       (SELECT count(*) FROM d) AS d, (SELECT count(*) FROM p) AS p, (SELECT count(*) FROM al) AS al,
       (SELECT json_agg(json_build_array(wn.id, wn.nonce::text)) FROM wn) AS nonces`;

const str = (x: bigint | number | null): string | null => (x === null ? null : x.toString());
const iso = (ms: number): string => new Date(ms).toISOString();

/**
 * Writes the whole batch in one statement; every row counted back so nothing is silently dropped.
 * Returns the nonce each withdrawal in `b.nonces` took. With `commit`, it is the last statement
 * of the transaction or session (`Queryable.queryAndCommit` where the backend has it), and no
 * turn of the gateway's event loop passes between it and the commit or the release of the
 * session's locks; the hot-wallet rows whose nonces it took stay locked to the commit. A client-supplied nonce that is
 * not the one taken refuses the whole statement (`nonce_out_of_sequence`, with the nonce the
 * account handed out as `expected`), as does an account that does not exist (`account_unknown`).
 */
export async function writeIntakeBatch(q: Queryable, b: IntakeWrites, o: { commit?: boolean } = {}): Promise<Map<string, bigint>> {
  const run = o.commit && q.queryAndCommit ? q.queryAndCommit.bind(q) : q.query.bind(q);
  const params = [
    JSON.stringify(
      b.withdrawals.map((w) => {
        const held = b.held?.get(w.id);
        return {
          id: w.id,
          customer_id: w.customerId,
          credential_id: w.credentialId,
          account_id: w.accountId,
          chain: w.chain,
          asset: w.asset,
          to_address: w.to,
          amount: str(w.amount),
          fee: str(w.fee),
          nonce: str(w.nonce),
          memo: w.memo,
          status: w.status,
          decisions: w.decisions,
          request: w.request,
          idempotency_key: w.idempotencyKey,
          request_hash: Buffer.from(w.requestHash).toString('hex'),
          created_at: iso(w.createdAt),
          updated_at: iso(w.updatedAt),
          held: str(held?.own ?? null),
          fee_account_id: held?.feeAccountId ?? null,
          held_fee: str(held?.fee ?? null),
        };
      }),
    ),
    JSON.stringify(b.counters.map((c) => ({ scope: c.scope, bucket_ms: String(c.bucketMs), bucket_start: String(c.bucketStart), count: String(c.count), amount: c.amount.toString() }))),
    JSON.stringify(b.histories.map((h) => ({ customer_id: h.customerId, asset: h.asset, history: historyToJSON(h.history) }))),
    JSON.stringify(
      b.destinations.map((d) => ({
        customer_id: d.customerId,
        chain: d.chain,
        address: d.record.address,
        lookalike_key: d.lookAlikeKey,
        first_used_at: str(d.record.firstUsedAt),
        last_used_at: str(d.record.lastUsedAt),
        use_count: d.record.useCount,
        whitelisted_at: str(d.record.whitelistedAt),
      })),
    ),
    JSON.stringify(
      b.audit.map((a) =>
        typeof a.body === 'string'
          ? { at: iso(a.at), actor: a.actor, action: a.action, subject: a.subject, body: a.body }
          : { at: iso(a.at), actor: a.actor, action: a.action, subject: a.subject, body: a.body.before, after: a.body.after, nonce_of: a.nonceOf ?? '' },
      ),
    ),
    JSON.stringify(b.nonces.map((t) => ({ id: t.withdrawalId, account_id: t.accountId, requested: str(t.requested) }))),
    JSON.stringify(b.alerts.map((a) => ({ at: iso(a.at), kind: a.kind, severity: a.severity, summary: a.summary, details: a.details }))),
    JSON.stringify([...holdsByAccount(b)].map(([accountId, held]) => ({ account_id: accountId, held: held.toString() }))),
  ];
  let rows;
  try {
    rows = await run<{ w: string; c: string; h: string; d: string; p: string; al: string; nonces: unknown }>(WRITE_SQL, params);
  } catch (err) {
    throw refusal(err) ?? err;
  }
  const r = rows[0];
  const counts = [Number(r?.w), Number(r?.c), Number(r?.h), Number(r?.d), Number(r?.p), Number(r?.al)];
  const want = [b.withdrawals.length, b.counters.length, b.histories.length, b.destinations.length, b.audit.length, b.alerts.length];
  if (counts.some((n, k) => n !== want[k])) throw new Error(`intake batch write wrote ${counts.join('/')} rows, expected ${want.join('/')}`);
  const raw = typeof r?.nonces === 'string' ? (JSON.parse(r.nonces) as unknown) : r?.nonces;
  const taken = new Map(((raw ?? []) as [string, string][]).map(([id, nonce]) => [id, BigInt(nonce)]));
  if (taken.size !== b.nonces.length) throw new Error(`intake batch write took ${taken.size} nonces, expected ${b.nonces.length}`);
  return taken;
}

/** What the batch's withdrawals hold, summed per account. */
function holdsByAccount(b: IntakeWrites): Map<string, bigint> {
  const out = new Map<string, bigint>();
  if (!b.held) return out;
  const add = (accountId: string | null, amount: bigint, id: string) => {
    if (amount === 0n) return;
    if (amount < 0n || accountId === null) throw new Error(`withdrawal ${id} cannot hold ${amount} on account ${accountId}`);
    out.set(accountId, (out.get(accountId) ?? 0n) + amount);
  };
  for (const w of b.withdrawals) {
    const h = b.held.get(w.id);
    if (!h) continue;
    add(w.accountId, h.own, w.id);
    add(h.feeAccountId, h.fee, w.id);
  }
  return out;
}

/** The write statement's own refusals (custos_fail, migration 010) as the errors they stand for. */
function refusal(err: unknown): CustosError | null {
  const e = err as { code?: unknown; message?: unknown; detail?: unknown };
  if (e?.code !== 'P0001') return null;
  if (e.message === 'nonce_out_of_sequence') {
    const [requested, expected] = String(e.detail).split(' ');
    return new CustosError('nonce_out_of_sequence', `nonce ${requested} is not the account's next nonce (${expected})`, 422, { expected });
  }
  if (e.message === 'account_unknown') return new CustosError('account_unknown', `no account ${String(e.detail)}`, 404);
  if (e.message === 'balance_changed') {
    const [account, available, wanted] = String(e.detail).split(' ');
    return new CustosError('balance_changed', `account ${account} has ${available} base units available, the batch would hold ${wanted}: withdrawals in flight took it meanwhile`, 409, { account });
  }
  return null;
}
