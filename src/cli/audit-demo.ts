/**
 * What `custos demo` shows of the audit log after its sample withdrawals: a checkpoint signed now
 * (on demand) and an inclusion proof of one withdrawal's entry, verified against the signed root
 * with the public key, as an auditor would.
 *
 * @example
 *   for (const line of await demoAuditProof(db, dataDir)) console.log(line);
 */
import { openAuditTree, sealPending } from '../audit/chain.js';
import { auditConfigFromEnv, openCheckpointKey } from '../audit/checkpoint-key.js';
import { openCheckpoint } from '../audit/checkpoint.js';
import { AuditCheckpointer } from '../audit/checkpointer.js';
import { hashLeaf, verifyInclusion } from '../audit/merkle.js';
import { parseVerifierKey } from '../audit/note.js';
import type { Db } from '../store/db.js';

export async function demoAuditProof(db: Db, dataDir: string): Promise<string[]> {
  const cfg = auditConfigFromEnv(process.env, dataDir);
  const key = await openCheckpointKey({ dataDir, origin: cfg.origin });
  try {
    while ((await sealPending(db)) > 0);
    const { checkpoint } = await new AuditCheckpointer(db, { origin: cfg.origin, signer: key.signer, file: cfg.file, witnessUrl: cfg.witnessUrl }).issue();
    const opened = openCheckpoint(checkpoint.note, [parseVerifierKey(key.verifierKey)], cfg.origin).checkpoint;
    const lines = [`Audit checkpoint (${key.description}; copy in ${cfg.file}):`, ...checkpoint.note.trimEnd().split('\n').map((l) => (l ? `  ${l}` : ''))];
    const [row] = await db.query<{ seq: string; subject: string; action: string; body: string }>(
      `SELECT c.seq::text AS seq, e.subject, e.action, e.body FROM audit_chain c JOIN audit_entries e ON e.id = c.entry_id
       WHERE e.subject LIKE 'withdrawal:%' AND c.seq <= $1 ORDER BY c.seq DESC LIMIT 1`,
      [String(opened.size)],
    );
    if (!row) return [...lines, 'No withdrawal entry in the log yet.'];
    const seq = Number(row.seq);
    const tree = await openAuditTree(db);
    const proof = await tree.inclusionProof(seq - 1, opened.size);
    verifyInclusion(hashLeaf(new TextEncoder().encode(row.body)), seq - 1, opened.size, proof, opened.rootHash);
    return [
      ...lines,
      `Inclusion proof of entry ${seq} (${row.action} ${row.subject}) in the signed tree of ${opened.size}: ${proof.length} hashes, verified against the checkpoint root`,
      ...proof.map((h, i) => `  ${i + 1}. ${Buffer.from(h).toString('base64')}`),
      `(offline: custos audit verify; HTTP: GET /v1/audit/entries/${seq}/proof?treeSize=${opened.size})`,
    ];
  } finally {
    await key.close();
  }
}
