/**
 * The path from `approved` to the chain (issue 6): which threshold key controls each hot-wallet
 * account, and one row per withdrawal that the signing worker took on, holding what it signs
 * (the unsigned transaction, its digest, the signing authorization), its lease (so a crashed
 * worker's withdrawal is resumed by the next one, with the very same transaction), the signed
 * transaction and its hash, and the broadcast and confirmation tracking.
 *
 * The withdrawal's status stays on `withdrawals` (the state machine); this table only carries
 * the data of the states from `signing` on. A partial index serves the workers' queue scans.
 */
export const version = 5;
export const name = 'outbound';
export const sql = `
ALTER TABLE accounts ADD COLUMN key_id text CHECK (key_id ~ '^[A-Za-z0-9_.:-]{1,128}$');

CREATE TABLE withdrawal_transactions (
  withdrawal_id text PRIMARY KEY REFERENCES withdrawals (id),
  -- The signing plan: set once, reused by every attempt (nodes bind a withdrawal to its digest).
  key_id text,
  unsigned_tx bytea,
  digest bytea,
  signing_authorization jsonb,
  lease_owner text,
  lease_until timestamptz,
  sign_attempts int NOT NULL DEFAULT 0,
  last_error text,
  signers text[],
  raw_tx bytea,
  tx_hash text,
  signed_at timestamptz,
  broadcast_at timestamptz,
  broadcast_attempts int NOT NULL DEFAULT 0,
  confirmations bigint,
  next_check_at timestamptz,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  CHECK ((raw_tx IS NULL) = (tx_hash IS NULL)),
  CHECK ((unsigned_tx IS NULL) = (digest IS NULL) AND (unsigned_tx IS NULL) = (key_id IS NULL))
);
CREATE UNIQUE INDEX withdrawal_transactions_hash ON withdrawal_transactions (tx_hash) WHERE tx_hash IS NOT NULL;

CREATE INDEX withdrawals_outbound ON withdrawals (status, updated_at, id)
  WHERE status IN ('approved', 'signing', 'signed', 'broadcast');
`;
