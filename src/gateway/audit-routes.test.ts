/**
 * The audit proof routes through the real gateway (signed requests, scope read): the checkpoint
 * verifies with the public key, inclusion and consistency proofs verify against the roots it and
 * the tree give, and malformed or out-of-range parameters are 400/422 problem+json.
 */
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendAudit, sealPending } from '../audit/chain.js';
import { openCheckpoint } from '../audit/checkpoint.js';
import { AuditCheckpointer } from '../audit/checkpointer.js';
import { hashLeaf, verifyConsistency, verifyInclusion } from '../audit/merkle.js';
import { formatVerifierKey, parseVerifierKey } from '../audit/note.js';
import { ed25519SignerFromSeed } from '../audit/signer.js';
import { manualClock } from '../core/clock.js';
import type { Db } from '../store/db.js';
import { seedStarter } from '../store/seed.js';
import { TEST_DBS } from '../store/test-helpers/db.js';
import { buildGateway } from './app.js';
import { createCredential } from './credentials.js';
import { parsePrivateKey, signRequest } from './signature.js';

const ORIGIN = 'custos.test/audit';
const signer = ed25519SignerFromSeed(ORIGIN, new Uint8Array(32).fill(3));
const verifier = parseVerifierKey(formatVerifierKey(ORIGIN, signer.publicKey));
const b = (s: string) => new Uint8Array(Buffer.from(s, 'base64'));

describe.each(TEST_DBS)('audit routes on $name', (backend) => {
  let db: Db;
  let app: FastifyInstance;
  const clock = manualClock(Date.now());
  let cred: { credentialId: string; privateKey: string };

  beforeAll(async () => {
    db = await backend.open();
    await seedStarter(db, { customerId: 'acme' });
    cred = await createCredential(db, { customerId: 'acme', scopes: ['read'] });
    ({ app } = await buildGateway({ db, clock }));
    await app.ready();
  }, 120_000);
  afterAll(async () => {
    await app?.close();
    await db?.close();
  });

  const get = async (url: string, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> => {
    clock.advance(1);
    const signed = signRequest(parsePrivateKey(cred.privateKey), cred.credentialId, { method: 'GET', path: url, body: new Uint8Array(0), timestamp: clock.now() });
    return app.inject({ method: 'GET', url, headers: { ...signed, ...headers } });
  };

  it('no checkpoint yet is 404; unsigned requests are refused', async () => {
    const res = await get('/v1/audit/checkpoint');
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ code: 'audit_no_checkpoint' });
    expect((await app.inject({ method: 'GET', url: '/v1/audit/checkpoint' })).statusCode).toBe(401);
  });

  it('serves a verifiable checkpoint, inclusion proofs and consistency proofs', async () => {
    for (let i = 0; i < 12; i++) {
      await db.tx((q) => appendAudit(q, { at: clock.now(), actor: 'test', action: 'test.event', subject: `t:${i}`, data: { i } }));
    }
    while ((await sealPending(db)) > 0);
    const cp = new AuditCheckpointer(db, { origin: ORIGIN, signer, clock });
    await cp.issue();

    const text = await get('/v1/audit/checkpoint', { accept: 'text/plain' });
    expect(text.statusCode).toBe(200);
    expect(text.headers['content-type']).toMatch(/^text\/plain/);
    const { checkpoint } = openCheckpoint(text.body, [verifier], ORIGIN);
    const json = (await get('/v1/audit/checkpoint')).json() as { size: number; rootHash: string; note: string };
    expect(json.note).toBe(text.body);
    expect(json.size).toBe(checkpoint.size);
    expect(checkpoint.size).toBeGreaterThanOrEqual(13); // credential.created + 12

    const rows = await db.query<{ seq: string; body: string }>('SELECT c.seq::text AS seq, e.body FROM audit_chain c JOIN audit_entries e ON e.id = c.entry_id ORDER BY c.seq');
    for (const seq of [1, 2, 7, checkpoint.size]) {
      const res = await get(`/v1/audit/entries/${seq}/proof?treeSize=${checkpoint.size}`);
      expect(res.statusCode).toBe(200);
      const p = res.json() as { seq: number; leafIndex: number; treeSize: number; leafHash: string; rootHash: string; proof: string[] };
      expect(p).toMatchObject({ seq, leafIndex: seq - 1, treeSize: checkpoint.size });
      const leaf = hashLeaf(new TextEncoder().encode(rows[seq - 1]!.body));
      expect(Buffer.from(b(p.leafHash)).equals(Buffer.from(leaf))).toBe(true);
      // verified against the root from the signed checkpoint, not the one the server sent
      verifyInclusion(leaf, seq - 1, checkpoint.size, p.proof.map(b), checkpoint.rootHash);
      expect(() => verifyInclusion(leaf, seq % checkpoint.size, checkpoint.size, p.proof.map(b), checkpoint.rootHash)).toThrow();
    }
    const small = ((await get('/v1/audit/entries/3/proof?treeSize=5')).json() as { rootHash: string; proof: string[] });
    const c = (await get(`/v1/audit/consistency?from=5&to=${checkpoint.size}`)).json() as { fromRoot: string; toRoot: string; proof: string[] };
    expect(c.fromRoot).toBe(small.rootHash);
    verifyConsistency(5, checkpoint.size, c.proof.map(b), b(c.fromRoot), checkpoint.rootHash);
    const cDefault = (await get('/v1/audit/consistency?from=5')).json() as { to: number };
    expect(cDefault.to).toBe(checkpoint.size);
  });

  it.each([
    ['/v1/audit/entries/0/proof', 400, 'audit_bad_parameter'],
    ['/v1/audit/entries/abc/proof', 400, 'audit_bad_parameter'],
    ['/v1/audit/entries/01/proof', 400, 'audit_bad_parameter'],
    ['/v1/audit/entries/99999999999999999/proof', 400, 'audit_bad_parameter'],
    ['/v1/audit/entries/5/proof?treeSize=4', 400, 'audit_bad_parameter'],
    ['/v1/audit/entries/5/proof?treeSize=-1', 400, 'audit_bad_parameter'],
    ['/v1/audit/entries/1/proof?treeSize=100000', 422, 'audit_proof_invalid'],
    ['/v1/audit/entries/1/proof?other=1', 400, 'validation_failed'],
    ['/v1/audit/consistency', 400, 'validation_failed'],
    ['/v1/audit/consistency?from=0', 400, 'audit_bad_parameter'],
    ['/v1/audit/consistency?from=6&to=5', 400, 'audit_bad_parameter'],
    ['/v1/audit/consistency?from=1&to=100000', 422, 'audit_proof_invalid'],
    ['/v1/audit/consistency?from=1e3', 400, 'audit_bad_parameter'],
  ])('%s → %i %s (problem+json)', async (url, status, code) => {
    const res = await get(url);
    expect(res.statusCode).toBe(status);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json()).toMatchObject({ code, status });
  });
});
