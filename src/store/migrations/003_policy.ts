/**
 * Stages 2 and 3 and approvals: versioned policies and policy-change proposals, the static price
 * table of the reference currency, window counters for caps and velocity, per-customer amount
 * histories and destination records (indexed by look-alike key), imported sanctions entries, and
 * the approvals of withdrawals waiting in the review queue.
 *
 * Times the pure cores compute with (counters, histories, destinations) are bigint milliseconds
 * since the epoch; the others are timestamptz like the rest of the schema.
 */
export const version = 3;
export const name = 'policy';
export const sql = `
-- One row per policy version ever active; the active policy is the highest version.
-- source: 'starter' for the built-in bootstrap policy, 'init' for the first operator-installed one,
-- 'governance' for a change applied with an admin quorum.
CREATE TABLE policies (
  version int PRIMARY KEY CHECK (version >= 1),
  document jsonb NOT NULL,
  hash text NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$'),
  source text NOT NULL CHECK (source IN ('starter', 'init', 'governance')),
  activated_at timestamptz NOT NULL,
  activated_by text NOT NULL
);

-- A proposed change waiting for its admin quorum.
CREATE TABLE policy_proposals (
  id text PRIMARY KEY,
  proposal jsonb NOT NULL,
  document jsonb NOT NULL,
  approvals jsonb NOT NULL DEFAULT '[]',
  status text NOT NULL CHECK (status IN ('open', 'applied', 'superseded')),
  created_at timestamptz NOT NULL
);

-- Configured static prices: reference-currency base units per whole asset unit.
-- observed_at NULL: a fixed price the operator configured, valid until changed;
-- otherwise the time a feed observed it (the policy's prices.maxAgeSeconds applies).
CREATE TABLE asset_prices (
  asset text PRIMARY KEY CHECK (asset ~ '^[A-Z0-9]{1,16}$'),
  ref_currency text NOT NULL,
  ref_per_unit numeric(78,0) NOT NULL CHECK (ref_per_unit > 0),
  observed_at timestamptz,
  source text NOT NULL DEFAULT 'static'
);

-- Window counters (src/policy/windows.ts): rows (scope, bucket size, bucket start) → sums.
CREATE TABLE policy_counters (
  scope text NOT NULL,
  bucket_ms bigint NOT NULL,
  bucket_start bigint NOT NULL,
  count bigint NOT NULL CHECK (count >= 0),
  amount numeric(78,0) NOT NULL CHECK (amount >= 0),
  PRIMARY KEY (scope, bucket_ms, bucket_start)
);

-- Incremental amount history per (customer, asset) (src/risk/history.ts historyToJSON).
CREATE TABLE amount_histories (
  customer_id text NOT NULL,
  asset text NOT NULL,
  history jsonb NOT NULL,
  PRIMARY KEY (customer_id, asset)
);

-- A customer's destination records (src/risk/context.ts DestinationRecord).
CREATE TABLE destinations (
  customer_id text NOT NULL,
  chain text NOT NULL,
  address text NOT NULL,
  lookalike_key text NOT NULL,
  first_used_at bigint,
  last_used_at bigint,
  use_count int NOT NULL DEFAULT 0 CHECK (use_count >= 0),
  whitelisted_at bigint,
  PRIMARY KEY (customer_id, chain, address)
);
CREATE INDEX destinations_lookalike ON destinations (customer_id, chain, lookalike_key);

-- Sanctions entries imported at run time (custos sanctions import), besides the bundled lists.
CREATE TABLE sanctions_entries (
  chain text NOT NULL,
  address text NOT NULL,
  list text NOT NULL,
  imported_at timestamptz NOT NULL,
  PRIMARY KEY (chain, address, list)
);

-- Approvals and rejections of withdrawals in the review queue: one per approver and per credential.
CREATE TABLE withdrawal_approvals (
  withdrawal_id text NOT NULL REFERENCES withdrawals (id),
  approver_id text NOT NULL,
  credential_id text NOT NULL,
  decision text NOT NULL CHECK (decision IN ('approve', 'reject')),
  comment text NOT NULL DEFAULT '',
  policy_version int NOT NULL,
  at timestamptz NOT NULL,
  PRIMARY KEY (withdrawal_id, approver_id),
  UNIQUE (withdrawal_id, credential_id)
);
CREATE INDEX withdrawals_review_queue ON withdrawals (status, created_at) WHERE status IN ('in_review', 'awaiting_approval');
`;
