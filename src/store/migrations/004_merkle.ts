/**
 * The audit trail as an RFC 6962 Merkle log (issue 8): the tree's perfect-subtree nodes, its
 * current size and root, and the signed checkpoints. Leaf i is SHA-256(0x00 || body) of the entry
 * chained at seq i + 1; the sequencer (src/audit/chain.ts sealPending) appends leaves in the same
 * transaction that chains the entries.
 *
 * Nodes and checkpoints are append-only like the entries: triggers refuse UPDATE, DELETE and
 * TRUNCATE and are ENABLE ALWAYS (session_replication_role = replica does not bypass them).
 * audit_tree_state is one row the sequencer updates; it is a cache of the tree head, every value
 * in it is re-derivable from the nodes and checked against signed checkpoints by the verifier.
 * Role separation on PostgreSQL (owner that cannot log in, INSERT/SELECT-only application role)
 * is applied by src/audit/harden.ts (`custos audit harden`), not here: PGlite is one superuser.
 */
export const version = 4;
export const name = 'merkle';
export const sql = `
CREATE TABLE audit_tree_nodes (
  level smallint NOT NULL CHECK (level BETWEEN 0 AND 63),
  idx bigint NOT NULL CHECK (idx >= 0),
  hash bytea NOT NULL CHECK (octet_length(hash) = 32),
  PRIMARY KEY (level, idx)
);
CREATE TABLE audit_tree_state (
  id boolean PRIMARY KEY DEFAULT true CHECK (id),
  size bigint NOT NULL CHECK (size >= 0),
  root bytea NOT NULL CHECK (octet_length(root) = 32),
  updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO audit_tree_state (id, size, root) VALUES (true, 0, sha256(''::bytea));
CREATE TABLE audit_checkpoints (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  size bigint NOT NULL CHECK (size >= 0),
  root bytea NOT NULL CHECK (octet_length(root) = 32),
  note text NOT NULL,
  created_at timestamptz NOT NULL
);
CREATE INDEX audit_checkpoints_by_size ON audit_checkpoints (size, id);

CREATE TRIGGER audit_tree_nodes_append_only BEFORE UPDATE OR DELETE ON audit_tree_nodes
  FOR EACH ROW EXECUTE FUNCTION custos_refuse_change();
CREATE TRIGGER audit_tree_nodes_no_truncate BEFORE TRUNCATE ON audit_tree_nodes
  FOR EACH STATEMENT EXECUTE FUNCTION custos_refuse_change();
CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit_checkpoints
  FOR EACH ROW EXECUTE FUNCTION custos_refuse_change();
CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
  FOR EACH STATEMENT EXECUTE FUNCTION custos_refuse_change();
ALTER TABLE audit_tree_nodes ENABLE ALWAYS TRIGGER audit_tree_nodes_append_only;
ALTER TABLE audit_tree_nodes ENABLE ALWAYS TRIGGER audit_tree_nodes_no_truncate;
ALTER TABLE audit_checkpoints ENABLE ALWAYS TRIGGER audit_checkpoints_append_only;
ALTER TABLE audit_checkpoints ENABLE ALWAYS TRIGGER audit_checkpoints_no_truncate;
REVOKE UPDATE, DELETE, TRUNCATE ON audit_tree_nodes, audit_checkpoints FROM PUBLIC;
`;
