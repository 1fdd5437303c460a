/**
 * Audit log proofs over HTTP (issue 8): the latest signed checkpoint, inclusion proofs of an
 * entry and consistency proofs between two tree sizes, all served from the stored tree nodes.
 *
 * Scope `read`: every route returns hashes and signed tree heads only, never entry contents, so
 * any authenticated credential may ask; a client checks a proof against a checkpoint it verified
 * with the published key (verifyInclusion / verifyConsistency in src/audit). Hashes are base64.
 * Bad parameters answer 400 problem+json (`audit_bad_parameter`), sizes beyond the log 422
 * (`audit_proof_invalid`), no checkpoint yet 404 (`audit_no_checkpoint`).
 *
 * @example
 *   await registerAuditRoutes(app, { db });
 *   // GET /v1/audit/entries/42/proof?treeSize=100 → { seq: 42, leafIndex: 41, treeSize: 100, proof: [...] }
 */
import type { FastifyInstance } from 'fastify';
import { openAuditTree } from '../audit/chain.js';
import { latestCheckpoint } from '../audit/checkpointer.js';
import { MerkleProofError, hashLeaf } from '../audit/merkle.js';
import { CustosError } from '../core/errors.js';
import type { Db } from '../store/db.js';

export interface AuditRouteDeps {
  db: Db;
}

const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');
const DECIMAL = /^[1-9][0-9]{0,15}$/;

function positive(text: unknown, what: string): number {
  if (typeof text !== 'string' || !DECIMAL.test(text)) {
    throw new CustosError('audit_bad_parameter', `${what} must be a positive decimal integer`, 400);
  }
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new CustosError('audit_bad_parameter', `${what} is beyond 2^53 - 1`, 400);
  return n;
}

const HASH = { type: 'string', description: 'base64 SHA-256' } as const;
const security = [{ custosSignature: [] }];

export async function registerAuditRoutes(app: FastifyInstance, deps: AuditRouteDeps): Promise<void> {
  const { db } = deps;

  app.get(
    '/v1/audit/checkpoint',
    {
      config: { scope: 'read' },
      schema: {
        summary: 'The latest signed checkpoint of the audit log (C2SP signed note); Accept: text/plain returns the note alone',
        security,
        response: {
          200: {
            type: 'object',
            properties: { size: { type: 'integer' }, rootHash: HASH, note: { type: 'string' }, createdAt: { type: 'string' } },
          },
        },
      },
    },
    async (req, reply) => {
      const cp = await latestCheckpoint(db);
      if (!cp) throw new CustosError('audit_no_checkpoint', 'no checkpoint has been issued yet', 404);
      if ((req.headers.accept ?? '').includes('text/plain')) {
        return reply.type('text/plain; charset=utf-8').send(cp.note);
      }
      return { size: cp.size, rootHash: b64(cp.root), note: cp.note, createdAt: new Date(cp.createdAt).toISOString() };
    },
  );

  app.get<{ Params: { seq: string }; Querystring: { treeSize?: string } }>(
    '/v1/audit/entries/:seq/proof',
    {
      config: { scope: 'read' },
      schema: {
        summary: 'Inclusion proof (RFC 9162 §2.1.3) of the entry with this seq (leaf seq - 1) in the tree of treeSize leaves (default: current)',
        security,
        params: { type: 'object', properties: { seq: { type: 'string', maxLength: 20 } }, required: ['seq'] },
        querystring: { type: 'object', additionalProperties: false, properties: { treeSize: { type: 'string', maxLength: 20 } } },
        response: {
          200: {
            type: 'object',
            properties: {
              seq: { type: 'integer' },
              leafIndex: { type: 'integer' },
              treeSize: { type: 'integer' },
              leafHash: HASH,
              rootHash: HASH,
              proof: { type: 'array', items: HASH },
            },
          },
        },
      },
    },
    async (req) => {
      const seq = positive(req.params.seq, 'seq');
      const tree = await openAuditTree(db);
      const treeSize = req.query.treeSize === undefined ? tree.size : positive(req.query.treeSize, 'treeSize');
      if (treeSize > tree.size) throw new MerkleProofError(`tree size ${treeSize} is beyond the log (${tree.size})`);
      if (seq > treeSize) throw new CustosError('audit_bad_parameter', `entry ${seq} is not in a tree of ${treeSize} leaves`, 400);
      const [row] = await db.query<{ body: string }>(
        'SELECT e.body FROM audit_chain c JOIN audit_entries e ON e.id = c.entry_id WHERE c.seq = $1',
        [String(seq)],
      );
      if (!row) throw new CustosError('audit_entry_not_found', `no chained entry ${seq}`, 404);
      const proof = await tree.inclusionProof(seq - 1, treeSize);
      return {
        seq,
        leafIndex: seq - 1,
        treeSize,
        leafHash: b64(hashLeaf(new TextEncoder().encode(row.body))),
        rootHash: b64(await tree.rootAt(treeSize)),
        proof: proof.map(b64),
      };
    },
  );

  app.get<{ Querystring: { from?: string; to?: string } }>(
    '/v1/audit/consistency',
    {
      config: { scope: 'read' },
      schema: {
        summary: 'Consistency proof (RFC 9162 §2.1.4) between tree sizes from and to (default: current), 0 < from <= to',
        security,
        querystring: {
          type: 'object',
          additionalProperties: false,
          required: ['from'],
          properties: { from: { type: 'string', maxLength: 20 }, to: { type: 'string', maxLength: 20 } },
        },
        response: {
          200: {
            type: 'object',
            properties: { from: { type: 'integer' }, to: { type: 'integer' }, fromRoot: HASH, toRoot: HASH, proof: { type: 'array', items: HASH } },
          },
        },
      },
    },
    async (req) => {
      const from = positive(req.query.from, 'from');
      const tree = await openAuditTree(db);
      const to = req.query.to === undefined ? tree.size : positive(req.query.to, 'to');
      if (from > to) throw new CustosError('audit_bad_parameter', 'from must not exceed to', 400);
      if (to > tree.size) throw new MerkleProofError(`tree size ${to} is beyond the log (${tree.size})`);
      const proof = await tree.consistencyProof(from, to);
      return { from, to, fromRoot: b64(await tree.rootAt(from)), toRoot: b64(await tree.rootAt(to)), proof: proof.map(b64) };
    },
  );
}
