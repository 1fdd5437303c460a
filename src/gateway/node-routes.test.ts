/**
 * `GET /v1/admin/nodes` through the real gateway (signed requests, scope admin) over a real
 * coordinator and three in-process signing nodes on loopback HTTP (one of them corrupts its
 * signature shares on purpose) plus one configured node that is down: reachable, last seen, keys
 * held and the excluded-as-culprit flag come from what the coordinator saw.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock, systemClock } from '../core/clock.js';
import { Coordinator, type NodeEndpoint } from '../mpc/coordinator/coordinator.js';
import { rawMessageDigest, signAuthorization } from '../mpc/node/authorization.js';
import { startNodeServer, type NodeServer } from '../mpc/node/server.js';
import { NodeService } from '../mpc/node/service.js';
import { NodeStore } from '../mpc/node/store.js';
import { generateIdentity, publicIdentity } from '../mpc/transport/identity.js';
import type { Db } from '../store/db.js';
import { seedStarter } from '../store/seed.js';
import { TEST_DBS } from '../store/test-helpers/db.js';
import { buildGateway } from './app.js';
import { createCredential } from './credentials.js';
import { parsePrivateKey, signRequest } from './signature.js';

const rng = (n: number) => new Uint8Array(randomBytes(n));

describe('GET /v1/admin/nodes', () => {
  let base: string;
  let servers: NodeServer[] = [];
  let coordinator: Coordinator;
  let db: Db;
  let app: FastifyInstance;
  let admin: { credentialId: string; privateKey: string };
  let reader: { credentialId: string; privateKey: string };
  const clock = manualClock(Date.now());
  const policySecret = rng(32);
  let keyId: string;

  beforeAll(async () => {
    base = mkdtempSync(join(tmpdir(), 'custos-node-routes-'));
    const ids = ['n1', 'n2', 'n3'];
    const stores = ids.map((id) => NodeStore.open({ dir: join(base, id), nodeId: id, passphrase: 'test only', rng, kdfCost: { N: 1 << 10, r: 8, p: 1 } }));
    const down = publicIdentity(generateIdentity('n4', rng));
    const peers = [...stores.map((s) => publicIdentity(s.identity)), down];
    const endpoints: NodeEndpoint[] = [];
    for (const [i, store] of stores.entries()) {
      const service = new NodeService({
        store, clock: systemClock, rng, deriveDigest: rawMessageDigest, ...(ids[i] === 'n3' ? { testHook: 'corrupt-signature-share' as const } : {}),
        config: { peers, policyPublicKey: bytesToHex(ed25519.getPublicKey(policySecret)), minApprovals: 0, approverKeys: [] },
      });
      const server = await startNodeServer(service, { host: '127.0.0.1', port: 0 });
      servers.push(server);
      endpoints.push({ id: ids[i] as string, url: server.url, identity: publicIdentity(store.identity) });
    }
    endpoints.push({ id: 'n4', url: 'http://127.0.0.1:9', identity: down });
    coordinator = new Coordinator({ nodes: endpoints, healthTtlMs: 0 });
    keyId = (await coordinator.keygen({ scheme: 'ed25519', threshold: 2, parties: ['n1', 'n2', 'n3'] })).keyId;
    // n3 corrupts its share: the coordinator names it from the relayed shares, excludes it and signs with n1, n2.
    const message = rng(48);
    const withdrawal = { id: 'wd-1', customerId: 'c1', chain: 'solana', asset: 'SOL', to: 'Dest', amount: '5', fee: '5000', memo: null, createdAt: clock.now() };
    const authorization = signAuthorization({
      withdrawalId: 'wd-1', keyId, chain: 'solana', unsignedTx: bytesToHex(message), digest: bytesToHex(message), to: 'Dest', amount: '5',
      policyVersion: 1, withdrawal, approvals: [], expiresAt: Date.now() + 60_000,
    }, policySecret);
    const signed = await coordinator.sign({ keyId, authorization, prefer: ['n3', 'n1'] });
    expect(signed.signers).toEqual(['n1', 'n2']);

    db = await (TEST_DBS[0] as (typeof TEST_DBS)[number]).open(); // PGlite: the route does not touch the store
    await seedStarter(db, { customerId: 'ops' });
    admin = await createCredential(db, { customerId: 'ops', scopes: ['admin'] });
    reader = await createCredential(db, { customerId: 'ops', scopes: ['read'] });
    ({ app } = await buildGateway({ db, clock, nodes: () => coordinator.nodeStatus() }));
    await app.ready();
  }, 60_000);

  afterAll(async () => {
    await app?.close();
    await db?.close();
    await Promise.all(servers.map((s) => s.close()));
    servers = [];
    if (base) rmSync(base, { recursive: true, force: true });
  });

  const get = (cred: { credentialId: string; privateKey: string }) => {
    clock.advance(1);
    const headers = signRequest(parsePrivateKey(cred.privateKey), cred.credentialId, { method: 'GET', path: '/v1/admin/nodes', body: new Uint8Array(0), timestamp: clock.now() });
    return app.inject({ method: 'GET', url: '/v1/admin/nodes', headers });
  };

  it('lists every configured node: reachable, last seen, keys held, excluded culprit', async () => {
    const res = await get(admin);
    expect(res.statusCode).toBe(200);
    const { nodes } = res.json() as { nodes: { id: string; reachable: boolean; lastSeen: string | null; keys: { keyId: string; generation: number }[]; excluded: boolean; error?: string }[] };
    expect(nodes.map((n) => n.id)).toEqual(['n1', 'n2', 'n3', 'n4']);
    for (const n of nodes.slice(0, 3)) {
      expect(n.reachable).toBe(true);
      expect(Date.parse(n.lastSeen as string)).toBeGreaterThan(0);
      expect(n.keys).toEqual([{ keyId, generation: expect.any(Number) }]);
    }
    expect(nodes.map((n) => n.excluded)).toEqual([false, false, true, false]);
    expect(nodes[3]).toMatchObject({ reachable: false, lastSeen: null, keys: [], error: 'node_unreachable' });
  });

  it('needs scope admin and a signed request; documented in the OpenAPI document', async () => {
    expect((await get(reader)).statusCode).toBe(403);
    expect((await app.inject({ method: 'GET', url: '/v1/admin/nodes' })).statusCode).toBe(401);
    const spec = (await app.inject({ url: '/openapi.json' })).json() as { paths: Record<string, { get?: { responses?: Record<string, unknown> } }> };
    expect(spec.paths['/v1/admin/nodes']?.get?.responses?.['200']).toBeDefined();
  });

  it('answers 404 signing_not_configured on a gateway without nodes', async () => {
    const { app: bare } = await buildGateway({ db, clock });
    clock.advance(1);
    const headers = signRequest(parsePrivateKey(admin.privateKey), admin.credentialId, { method: 'GET', path: '/v1/admin/nodes', body: new Uint8Array(0), timestamp: clock.now() });
    const res = await bare.inject({ method: 'GET', url: '/v1/admin/nodes', headers });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ code: 'signing_not_configured' });
    await bare.close();
  });
});
