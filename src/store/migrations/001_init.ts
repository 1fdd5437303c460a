/**
 * Initial schema. Money columns are numeric(78,0): base units as exact integers (2^256 fits).
 * The audit tables are append-only: triggers refuse UPDATE, DELETE and TRUNCATE, enabled ALWAYS
 * so that session_replication_role = replica does not bypass them.
 */
export const version = 1;
export const name = 'init';
export const sql = `
CREATE TABLE customers (
  id text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9_.-]{1,64}$'),
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  created_at timestamptz NOT NULL DEFAULT now()
);

-- Assets per chain. Fees are denominated in the chain's native asset (fee_decimals) and are the
-- total network fee a withdrawal may pay; min_fee/max_fee guard against under-priced transactions
-- and fee-drain mistakes, default_fee fills an absent fee.
CREATE TABLE assets (
  chain text NOT NULL CHECK (chain IN ('ethereum', 'bitcoin', 'solana')),
  symbol text NOT NULL CHECK (symbol ~ '^[A-Z0-9]{2,12}$'),
  network text NOT NULL CHECK (network IN ('mainnet', 'testnet', 'regtest', 'devnet')),
  decimals int NOT NULL CHECK (decimals BETWEEN 0 AND 36),
  fee_decimals int NOT NULL CHECK (fee_decimals BETWEEN 0 AND 36),
  min_fee numeric(78,0) NOT NULL CHECK (min_fee >= 0),
  max_fee numeric(78,0) NOT NULL,
  default_fee numeric(78,0) NOT NULL,
  CHECK (min_fee <= default_fee AND default_fee <= max_fee),
  PRIMARY KEY (chain, symbol)
);

-- Hot-wallet accounts, one per chain and asset. next_nonce is the next transaction nonce for
-- account-based chains, allocated without gaps or duplicates under a row lock.
CREATE TABLE accounts (
  id text PRIMARY KEY,
  chain text NOT NULL,
  asset text NOT NULL,
  address text NOT NULL,
  balance numeric(78,0) NOT NULL CHECK (balance >= 0),
  next_nonce numeric(78,0) NOT NULL DEFAULT 0 CHECK (next_nonce >= 0),
  created_at timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (chain, asset) REFERENCES assets (chain, symbol),
  UNIQUE (chain, asset)
);

-- A customer's address book: known counterparties, optionally whitelisted.
CREATE TABLE address_book (
  customer_id text NOT NULL REFERENCES customers (id),
  chain text NOT NULL,
  address text NOT NULL,
  label text NOT NULL DEFAULT '',
  whitelisted boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (customer_id, chain, address)
);

-- API credentials: Ed25519 public keys only; the private key is shown once to its owner.
CREATE TABLE credentials (
  id text PRIMARY KEY,
  customer_id text NOT NULL REFERENCES customers (id),
  public_key bytea NOT NULL CHECK (length(public_key) = 32),
  scopes text[] NOT NULL,
  tier text NOT NULL DEFAULT 'standard',
  label text NOT NULL DEFAULT '',
  created_at timestamptz NOT NULL DEFAULT now(),
  revoked_at timestamptz
);

-- Request nonces seen per credential, kept past the 30 s signature window, then purged.
CREATE TABLE request_nonces (
  credential_id text NOT NULL,
  nonce text NOT NULL,
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (credential_id, nonce)
);
CREATE INDEX request_nonces_expiry ON request_nonces (expires_at);

CREATE TABLE withdrawals (
  id text PRIMARY KEY,
  customer_id text NOT NULL REFERENCES customers (id),
  credential_id text NOT NULL REFERENCES credentials (id),
  account_id text REFERENCES accounts (id),
  chain text NOT NULL,
  asset text NOT NULL,
  to_address text NOT NULL,
  amount numeric(78,0) CHECK (amount >= 0),
  fee numeric(78,0) CHECK (fee >= 0),
  nonce numeric(78,0),
  memo text,
  status text NOT NULL CHECK (status IN ('received', 'rejected', 'in_review', 'awaiting_approval',
    'approved', 'signing', 'signed', 'broadcast', 'confirmed', 'failed')),
  decisions jsonb NOT NULL,
  request jsonb NOT NULL,
  idempotency_key text NOT NULL,
  request_hash bytea NOT NULL,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  UNIQUE (customer_id, idempotency_key),
  UNIQUE (account_id, nonce)
);
CREATE INDEX withdrawals_by_status ON withdrawals (customer_id, status, created_at DESC, id DESC);
CREATE INDEX withdrawals_by_customer ON withdrawals (customer_id, created_at DESC, id DESC);

-- Audit trail. Entries are written in the same transaction as the change they record; the
-- sequencer then chains them in commit order (audit_chain: each row carries the previous hash)
-- off the request path, so the chain head is not a lock every request waits for.
CREATE TABLE audit_entries (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at timestamptz NOT NULL,
  actor text NOT NULL,
  action text NOT NULL,
  subject text NOT NULL,
  body text NOT NULL
);
CREATE TABLE audit_pending (
  entry_id bigint PRIMARY KEY
);
CREATE TABLE audit_chain (
  seq bigint PRIMARY KEY CHECK (seq >= 1),
  entry_id bigint NOT NULL UNIQUE REFERENCES audit_entries (id),
  prev_hash bytea NOT NULL CHECK (length(prev_hash) = 32),
  hash bytea NOT NULL CHECK (length(hash) = 32)
);
CREATE INDEX audit_entries_subject ON audit_entries (subject, id);

CREATE FUNCTION custos_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  RAISE EXCEPTION 'custos audit log is append-only: % on % refused', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege';
END
$fn$;

CREATE TRIGGER audit_entries_append_only BEFORE UPDATE OR DELETE ON audit_entries
  FOR EACH ROW EXECUTE FUNCTION custos_refuse_change();
CREATE TRIGGER audit_entries_no_truncate BEFORE TRUNCATE ON audit_entries
  FOR EACH STATEMENT EXECUTE FUNCTION custos_refuse_change();
CREATE TRIGGER audit_chain_append_only BEFORE UPDATE OR DELETE ON audit_chain
  FOR EACH ROW EXECUTE FUNCTION custos_refuse_change();
CREATE TRIGGER audit_chain_no_truncate BEFORE TRUNCATE ON audit_chain
  FOR EACH STATEMENT EXECUTE FUNCTION custos_refuse_change();
ALTER TABLE audit_entries ENABLE ALWAYS TRIGGER audit_entries_append_only;
ALTER TABLE audit_entries ENABLE ALWAYS TRIGGER audit_entries_no_truncate;
ALTER TABLE audit_chain ENABLE ALWAYS TRIGGER audit_chain_append_only;
ALTER TABLE audit_chain ENABLE ALWAYS TRIGGER audit_chain_no_truncate;
REVOKE UPDATE, DELETE, TRUNCATE ON audit_entries, audit_chain FROM PUBLIC;
`;
