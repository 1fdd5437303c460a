/**
 * `custos server` runs the signer when signing nodes are configured: five node processes (a
 * cluster file under the data directory, as `custos mpc-cluster` leaves it), `custos accounts
 * bind-key` puts the Solana hot wallet under the nodes' key, a withdrawal submitted through the
 * signed API ends `signed` without anything else running, and `GET /v1/admin/nodes` lists the
 * nodes. The server signs offline (CUSTOS_SOLANA_BLOCKHASH) and, without an endpoint, leaves the
 * withdrawal `signed`, saying so on start. Needs `npm run build` (skipped otherwise).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { base58 } from '@scure/base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CustosClient } from '../client/index.js';
import { Coordinator, type KeyInfo } from '../mpc/coordinator/coordinator.js';
import { defaultNodeEntry, startLocalCluster, type LocalCluster } from '../mpc/coordinator/local-cluster.js';
import { openDb } from '../store/db.js';
import { migrate } from '../store/migrate.js';
import { seedStarter } from '../store/seed.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = join(root, 'bin', 'custos.js');
const built = existsSync(defaultNodeEntry()) && existsSync(join(root, 'dist', 'cli', 'signer-commands.js'));
if (!built) console.warn('src/cli/server-signer.test.ts: dist/ is missing or stale; run `npm run build` first (skipped)');

const BLOCKHASH = base58.encode(sha256(utf8ToBytes('custos server-signer test blockhash')));

describe.skipIf(!built)('custos server with signing nodes configured', () => {
  const policySecret = new Uint8Array(randomBytes(32));
  const coordinatorSecret = new Uint8Array(randomBytes(32));
  let dataDir: string;
  let cluster: LocalCluster;
  let key: KeyInfo;
  let server: ChildProcess | undefined;
  const env = (): NodeJS.ProcessEnv => ({
    ...process.env, DATABASE_URL: '', CUSTOS_DB_SCHEMA: '', CUSTOS_MPC_CLUSTER: '', CUSTOS_POLICY_SECRET_KEY: '', CUSTOS_COORDINATOR_KEY: '',
    CUSTOS_SOLANA_BLOCKHASH: BLOCKHASH, CUSTOS_RATELIMIT: 'off',
  });
  const cli = (...args: string[]) => {
    const r = spawnSync(process.execPath, [bin, '--data-dir', dataDir, ...args], { env: env(), encoding: 'utf8', timeout: 60_000 });
    if (r.status !== 0) throw new Error(`custos ${args.join(' ')} failed: ${r.stderr}${r.stdout}`);
    return r.stdout;
  };

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'custos-server-signer-'));
    const mpc = join(dataDir, 'mpc');
    mkdirSync(mpc);
    cluster = await startLocalCluster({
      baseDir: mpc, n: 5, minApprovals: 0, policyPublicKey: bytesToHex(ed25519.getPublicKey(policySecret)),
      coordinatorKeys: [bytesToHex(ed25519.getPublicKey(coordinatorSecret))], entry: bin, entryArgs: ['mpc-node'],
    });
    writeFileSync(join(mpc, 'policy-key.dev.json'), JSON.stringify({ secretKey: bytesToHex(policySecret) }));
    writeFileSync(join(mpc, 'coordinator-key.dev.json'), JSON.stringify({ secretKey: bytesToHex(coordinatorSecret) }));
    key = await new Coordinator({ nodes: cluster.nodes, secretKey: coordinatorSecret }).keygen({ scheme: 'ed25519', threshold: 3 });
    // Assets and hot-wallet accounts as the demo seeds them (there is no CLI for them yet).
    const db = await openDb({ dataDir: join(dataDir, 'db') });
    await migrate(db);
    await seedStarter(db, { customerId: 'acme' });
    await db.close();
  }, 90_000);

  afterAll(async () => {
    if (server && server.exitCode === null && server.signalCode === null) server.kill('SIGKILL');
    await cluster?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('binds the hot wallet to the key, signs a withdrawal submitted through the API, and lists the nodes', async () => {
    const bound = cli('accounts', 'bind-key', '--account', 'hot-sol', '--key-id', key.keyId);
    const wallet = base58.encode(hexToBytes(key.publicKey));
    expect(bound).toContain(`controlled by key ${key.keyId}: address ${wallet}`);
    const cred = JSON.parse(cli('credentials', 'create', '--customer', 'acme', '--scopes', 'withdraw,read,admin', '--json')) as { credentialId: string; privateKey: string };

    server = spawn(process.execPath, [bin, '--data-dir', dataDir, 'server', '--port', '0', '--quiet'], { env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    server.stdout?.setEncoding('utf8');
    server.stdout?.on('data', (c: string) => {
      out += c;
    });
    server.stderr?.on('data', (c: Buffer) => {
      out += c.toString();
    });
    for (let i = 0; i < 300 && !/listening on http/.test(out); i++) await new Promise((r) => setTimeout(r, 100));
    const url = /listening on (http:\/\/[^\s]+)/.exec(out)?.[1];
    expect(url, out).toBeDefined();
    expect(out).toContain('signer: signing nodes: 5');
    expect(out).toMatch(/signer: solana: signing OFFLINE .* signed withdrawals stay signed/);

    const client = new CustosClient({ baseUrl: url as string, credentialId: cred.credentialId, privateKey: cred.privateKey, retries: 1 });
    const to = base58.encode(ed25519.getPublicKey(new Uint8Array(randomBytes(32))));
    const w = await client.submitWithdrawal({ chain: 'solana', asset: 'SOL', to, amount: '0.5' });
    expect(w.status).toBe('approved');
    let status = w.status;
    // Within a minute: on a loaded machine a node's health answer can miss its 2 s deadline, which
    // the signer treats as transient (deferred, retried after a back-off).
    for (let i = 0; i < 400 && status !== 'signed'; i++) {
      await new Promise((r) => setTimeout(r, 150));
      status = (await client.getWithdrawal(w.id)).status;
    }
    expect(status, out).toBe('signed');
    expect(out).toMatch(new RegExp(`signer: signed ${w.id}: tx [1-9A-HJ-NP-Za-km-z]{80,90} by node-\\d, node-\\d, node-\\d`));

    const nodes = await client.request<{ nodes: { id: string; reachable: boolean; keys: { keyId: string }[]; excluded: boolean }[] }>('GET', '/v1/admin/nodes');
    expect(nodes.nodes.map((n) => [n.id, n.reachable, n.keys.map((k) => k.keyId), n.excluded])).toEqual(
      cluster.nodes.map((n) => [n.id, true, [key.keyId], false]),
    );
    server.kill('SIGTERM');
    await new Promise((r) => server?.once('exit', r));
  }, 150_000);
});
