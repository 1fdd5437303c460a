/**
 * TLS between the coordinator and the signing nodes: node processes serving HTTPS with their own
 * certificate (key sealed in the node store), the coordinator pinning exactly that certificate.
 * Threshold signing runs end to end over it; a client pinned to another certificate, a plaintext
 * client, an unpinned https endpoint and a node on a non-loopback address without TLS are refused.
 * Several pinned certificates per node (a rotation: src/mpc/node/tls-rotation.test.ts) must differ in subject.
 * Needs `npm run build` first (skipped otherwise).
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readClusterFile } from '../../cli/mpc-commands.js';
import { derToPem } from '../../enclave/certificate.js';
import { issueCertificate } from '../../enclave/issue-certificate.js';
import { signAuthorization } from '../node/authorization.js';
import { provisionNode, runNode, TLS_CERTIFICATE_FILE } from '../node/process.js';
import { certificateFingerprint } from '../node/store.js';
import { NodeClient, pinnedCertificates } from './client.js';
import { Coordinator } from './coordinator.js';
import { CLUSTER_FILE, defaultNodeEntry, startLocalCluster, type LocalCluster } from './local-cluster.js';

const built = existsSync(defaultNodeEntry());
if (!built) console.warn('src/mpc/coordinator/tls.test.ts: dist/ is missing; run `npm run build` first (skipped)');

const policySecret = new Uint8Array(randomBytes(32));
const coordinatorSecret = new Uint8Array(randomBytes(32));

describe.skipIf(!built)('coordinator ↔ nodes over TLS (three node processes, pinned certificates)', () => {
  let base: string;
  let cluster: LocalCluster;

  beforeAll(async () => {
    base = mkdtempSync(join(tmpdir(), 'custos-tls-'));
    cluster = await startLocalCluster({
      baseDir: base, n: 3, tls: true, policyPublicKey: bytesToHex(ed25519.getPublicKey(policySecret)), minApprovals: 0,
      coordinatorKeys: [bytesToHex(ed25519.getPublicKey(coordinatorSecret))],
    });
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
    rmSync(base, { recursive: true, force: true });
  });

  it('every node serves https with its own certificate; the cluster file pins each one', () => {
    const prints = cluster.nodes.map((n) => {
      expect(n.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const pem = readFileSync(join(cluster.dirs.get(n.id) as string, TLS_CERTIFICATE_FILE), 'utf8');
      expect(n.tls?.certificate).toBe(pem);
      return certificateFingerprint(pem);
    });
    expect(new Set(prints).size).toBe(3);
    const fromFile = readClusterFile(join(base, CLUSTER_FILE));
    expect(fromFile.map((n) => n.tls?.certificate)).toEqual(cluster.nodes.map((n) => n.tls?.certificate));
  });

  it('key generation and a policy-authorized 2-of-3 FROST signature run over TLS and verify', async () => {
    const coordinator = new Coordinator({ nodes: cluster.nodes, secretKey: coordinatorSecret });
    try {
      const key = await coordinator.keygen({ scheme: 'ed25519', threshold: 2, keyId: 'tls-ed' });
      const message = new Uint8Array(randomBytes(120));
      const withdrawalId = `wd-${bytesToHex(randomBytes(6))}`;
      const withdrawal = { id: withdrawalId, customerId: 'acme', chain: 'solana', asset: 'SOL', to: 'Dest', amount: '10', fee: null, memo: null, createdAt: Date.now() };
      const authorization = signAuthorization({
        withdrawalId, keyId: 'tls-ed', chain: 'solana', unsignedTx: bytesToHex(message), digest: bytesToHex(message), to: 'Dest', amount: '10',
        policyVersion: 1, withdrawal, approvals: [], expiresAt: Date.now() + 60_000,
      }, policySecret);
      const r = await coordinator.sign({ keyId: 'tls-ed', authorization });
      expect(ed25519.verify(r.signature, message, hexToBytes(key.publicKey))).toBe(true);
    } finally {
      coordinator.close();
    }
  }, 30_000);

  it('a coordinator that pins another certificate for a node does not talk to it (node_tls_identity)', async () => {
    const [n1, n2] = cluster.nodes as [LocalCluster['nodes'][number], LocalCluster['nodes'][number]];
    const wrong = new NodeClient({ id: n1.id, url: n1.url, tls: n2.tls }, 5_000, coordinatorSecret);
    await expect(wrong.health()).rejects.toMatchObject({ code: 'node_tls_identity', unreachable: true });
    wrong.close();
    const right = new NodeClient(n1, 5_000, coordinatorSecret);
    await expect(right.health()).resolves.toMatchObject({ id: n1.id });
    right.close();
  });

  it('a plaintext request to a node port gets no answer from the node service', async () => {
    const port = Number(new URL((cluster.nodes[0] as { url: string }).url).port);
    const outcome = await new Promise<string>((resolve) => {
      const req = request({ host: '127.0.0.1', port, path: '/v1/health', timeout: 3_000 }, (res) => resolve(`answered ${res.statusCode}`));
      req.on('error', (e) => resolve(`error ${(e as { code?: string }).code ?? e.message}`));
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.end();
    });
    expect(outcome).toMatch(/^error /);
  });

  it('an https endpoint without a pinned certificate is refused before any connection', () => {
    expect(() => new NodeClient({ id: 'node-x', url: 'https://10.0.0.7:7001' }, 1_000)).toThrow(expect.objectContaining({ code: 'mpc_bad_cluster' }));
    const file = join(base, 'bad-cluster.json');
    writeFileSync(file, JSON.stringify({ nodes: [{ id: 'node-1', url: 'https://10.0.0.7:7001', identity: cluster.nodes[0]?.identity }] }));
    expect(() => readClusterFile(file)).toThrow(expect.objectContaining({ code: 'mpc_bad_cluster' }));
    writeFileSync(file, JSON.stringify({ nodes: [{ id: 'node-1', url: 'http://10.0.0.7:7001', identity: cluster.nodes[0]?.identity }] }));
    expect(() => readClusterFile(file)).toThrow(/http:\/\/ on loopback only/);
    const certFile = join(cluster.dirs.get('node-1') as string, TLS_CERTIFICATE_FILE);
    writeFileSync(file, JSON.stringify({ nodes: [{ id: 'node-1', url: 'https://10.0.0.7:7001', identity: cluster.nodes[0]?.identity, tls: { certificateFile: certFile } }] }));
    expect(readClusterFile(file)[0]?.tls?.certificate).toBe(readFileSync(certFile, 'utf8'));
  });
});

describe('a node on a non-loopback address', () => {
  it('refuses to start without TLS, serves with it, and keeps its certificate across restarts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'custos-tls-node-'));
    try {
      const passphrase = bytesToHex(randomBytes(12));
      provisionNode({ dir, id: 'node-a', passphrase });
      await expect(runNode({ id: 'node-a', dataDir: dir, port: 0, host: '0.0.0.0', passphrase })).rejects.toMatchObject({ code: 'node_tls_required' });
      const first = await runNode({ id: 'node-a', dataDir: dir, port: 0, host: '0.0.0.0', passphrase, tls: true });
      const pem = readFileSync(join(dir, TLS_CERTIFICATE_FILE), 'utf8');
      await first.close();
      const again = await runNode({ id: 'node-a', dataDir: dir, port: 0, host: '0.0.0.0', passphrase, tls: true });
      try {
        expect(readFileSync(join(dir, TLS_CERTIFICATE_FILE), 'utf8')).toBe(pem);
        const client = new NodeClient({ id: 'node-a', url: `https://127.0.0.1:${again.server.port}`, tls: { certificate: pem } }, 5_000);
        await expect(client.health()).resolves.toMatchObject({ id: 'node-a' });
        client.close();
        // the private key is sealed in the store, never in the clear on disk
        const store = readFileSync(join(dir, 'node-store.json'), 'utf8');
        expect(store).not.toContain('PRIVATE KEY');
      } finally {
        await again.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('pinning several certificates for one node', () => {
  const selfSigned = (subject: string) => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    const now = Date.now();
    return derToPem(issueCertificate({ subject, issuer: subject, organisation: 'custos', subjectPublicKey: publicKey, issuerPrivateKey: privateKey, notBefore: now - 60_000, notAfter: now + 86_400_000, ca: false }));
  };

  it('reads certificate, certificates, certificateFile and certificateFiles as one set; refuses two pins of one subject (OpenSSL would try only one)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'custos-tls-pins-'));
    try {
      const [a, b, c] = [selfSigned('custos mpc-node n1'), selfSigned('custos mpc-node n1 0a1b'), selfSigned('custos mpc-node n1 2c3d')];
      writeFileSync(join(dir, 'b.pem'), b);
      writeFileSync(join(dir, 'c.pem'), c);
      const identity = { id: 'n1', signingKey: '00'.repeat(32), exchangeKey: '00'.repeat(32) };
      const file = join(dir, 'cluster.json');
      const write = (tls: unknown) => writeFileSync(file, JSON.stringify({ nodes: [{ id: 'n1', url: 'https://10.0.0.7:7001', identity, tls }] }));
      write({ certificate: a, certificates: [a, b], certificateFile: 'b.pem', certificateFiles: ['c.pem'] });
      const [node] = readClusterFile(file);
      expect(pinnedCertificates(node?.tls)).toEqual([a, b, c]);
      new NodeClient(node as { id: string; url: string }, 1_000).close();
      write({ certificates: [a, 7] });
      expect(() => readClusterFile(file)).toThrow(expect.objectContaining({ code: 'mpc_bad_cluster', message: expect.stringContaining('tls.certificates') }));
      write({ certificates: [] });
      expect(() => readClusterFile(file)).toThrow(/not pinned/);
      const twin = selfSigned('custos mpc-node n1');
      expect(() => new NodeClient({ id: 'n1', url: 'https://10.0.0.7:7001', tls: { certificates: [a, twin] } }, 1_000)).toThrow(expect.objectContaining({ code: 'mpc_bad_cluster', message: expect.stringContaining('same subject') }));
      expect(() => new NodeClient({ id: 'n1', url: 'https://10.0.0.7:7001', tls: { certificates: [a, 'not a certificate'] } }, 1_000)).toThrow(/not a PEM certificate/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
