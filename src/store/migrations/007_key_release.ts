/**
 * Key release (issue 7): each signing node's sealing key, wrapped under the HSM's root
 * key-encryption key (RFC 3394/5649 by the HSM), one row per node. The service reads a row, has
 * the HSM unwrap it, and sends the key only to the node's attested enclave; a plaintext key is
 * never stored. A node's first release inserts its row (`ON CONFLICT DO NOTHING`, so two
 * concurrent enrolments keep one blob). Rows are never updated: a new key for a node is a new
 * node id, and `UPDATE` is refused by a trigger (ENABLE ALWAYS, as for the audit tables).
 */
export const version = 7;
export const name = 'key_release';
export const sql = `
CREATE TABLE enclave_sealing_keys (
  node_id text PRIMARY KEY CHECK (node_id ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'),
  wrapped bytea NOT NULL CHECK (octet_length(wrapped) BETWEEN 24 AND 4096),
  enrolled_at timestamptz NOT NULL
);
CREATE FUNCTION custos_refuse_sealing_key_update() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  RAISE EXCEPTION 'a wrapped sealing key is never replaced: UPDATE on % refused', TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege';
END
$fn$;
CREATE TRIGGER enclave_sealing_keys_no_update BEFORE UPDATE ON enclave_sealing_keys
  FOR EACH ROW EXECUTE FUNCTION custos_refuse_sealing_key_update();
ALTER TABLE enclave_sealing_keys ENABLE ALWAYS TRIGGER enclave_sealing_keys_no_update;
`;
