/**
 * Approver approval keys (issue 3): the registry of who may sign approvals, as Ed25519 public keys
 * (the server never holds an approver's secret key), and the approver's signature kept with every
 * approval or rejection.
 *
 * At most one active key per approver (a rotation revokes the old key and adds the new one); a
 * public key is registered once only, for one approver, never again after its revocation, so one
 * key can never count as two approvers.
 */
export const version = 6;
export const name = 'approvers';
export const sql = `
CREATE TABLE approver_keys (
  public_key text PRIMARY KEY CHECK (public_key ~ '^[0-9a-f]{64}$'),
  approver_id text NOT NULL CHECK (approver_id ~ '^[A-Za-z0-9_.:-]{1,128}$'),
  label text NOT NULL DEFAULT '',
  created_at timestamptz NOT NULL,
  revoked_at timestamptz
);
CREATE UNIQUE INDEX approver_keys_active ON approver_keys (approver_id) WHERE revoked_at IS NULL;

-- The approver's Ed25519 signature over the approval statement (src/approvals/statement.ts), the
-- expiry it signed, and the key it verified under. NULL only on rows written before this migration.
ALTER TABLE withdrawal_approvals ADD COLUMN signature text CHECK (signature ~ '^[0-9a-f]{128}$');
ALTER TABLE withdrawal_approvals ADD COLUMN signature_expires_at bigint;
ALTER TABLE withdrawal_approvals ADD COLUMN public_key text;
CREATE UNIQUE INDEX withdrawal_approvals_signature ON withdrawal_approvals (signature) WHERE signature IS NOT NULL;
`;
