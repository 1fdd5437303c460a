/**
 * `custos signer` as its own OS process, SIGKILLed in the middle of a signing session (after the
 * nodes completed the signature, before the worker stored it), and the next run resolving what
 * it left: the withdrawal is `signing` with its plan stored and nothing signed in the database;
 * the next worker takes over the expired lease, the nodes refuse a second signature and hand out
 * the one they made, and the withdrawal ends `signed` with that transaction.
 *
 * Needs `npm run build` (the process runs bin/custos.js) and PostgreSQL (two processes share the
 * database; PGlite is one process's embedded store): skipped without either.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { base58 } from '@scure/base';
import { getTransactionDecoder } from '@solana/kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../core/clock.js';
import { createCredential } from '../gateway/credentials.js';
import { policyAuthorizer } from '../mpc/coordinator/authorize.js';
import { Coordinator, type KeyInfo } from '../mpc/coordinator/coordinator.js';
import { defaultNodeEntry, startLocalCluster, type LocalCluster } from '../mpc/coordinator/local-cluster.js';
import { SigningWorker } from '../mpc/coordinator/worker.js';
import { submitWithdrawal } from '../pipeline/intake.js';
import type { Db } from '../store/db.js';
import { bindAccountKey, getOutbound } from '../store/outbound.js';
import { seedStarter } from '../store/seed.js';
import { DATABASE_URL, openPostgresSchema } from '../store/test-helpers/db.js';
import { getWithdrawal } from '../store/withdrawals.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = join(root, 'bin', 'custos.js');
const built = existsSync(defaultNodeEntry()) && existsSync(join(root, 'dist', 'cli', 'signer-commands.js'));
if (!built) console.warn('src/cli/signer.test.ts: dist/ is missing or stale; run `npm run build` first (skipped)');
if (!DATABASE_URL) console.warn('src/cli/signer.test.ts: DATABASE_URL is not set; the SIGKILL test needs PostgreSQL shared by two processes (skipped)');

const BLOCKHASH = base58.encode(sha256(utf8ToBytes('custos signer test blockhash')));

function waitForLine(child: ChildProcess, re: RegExp, ms: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`no line matching ${re} within ${ms} ms; stdout: ${buf.slice(-800)} stderr: ${err.slice(-800)}`)), ms);
    child.stdout?.setEncoding('utf8');
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (c: string) => {
      err += c;
    });
    child.stdout?.on('data', (c: string) => {
      buf += c;
      const m = buf.split('\n').find((l) => re.test(l));
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`custos signer exited (${code}) early; stdout: ${buf.slice(-800)} stderr: ${err.slice(-800)}`));
    });
  });
}

describe.skipIf(!built || !DATABASE_URL)('custos signer SIGKILLed mid-session', () => {
  const policySecret = new Uint8Array(randomBytes(32));
  const coordinatorSecret = new Uint8Array(randomBytes(32));
  let base: string;
  let cluster: LocalCluster;
  let key: KeyInfo;
  let db: Db & { schema: string };
  let child: ChildProcess | undefined;

  beforeAll(async () => {
    base = mkdtempSync(join(tmpdir(), 'custos-signer-'));
    cluster = await startLocalCluster({
      baseDir: base, n: 5, minApprovals: 0, policyPublicKey: bytesToHex(ed25519.getPublicKey(policySecret)),
      coordinatorKeys: [bytesToHex(ed25519.getPublicKey(coordinatorSecret))],
    });
    // What `custos mpc-cluster` leaves beside the cluster file (development key files).
    writeFileSync(join(base, 'policy-key.dev.json'), JSON.stringify({ secretKey: bytesToHex(policySecret) }));
    writeFileSync(join(base, 'coordinator-key.dev.json'), JSON.stringify({ secretKey: bytesToHex(coordinatorSecret) }));
    key = await new Coordinator({ nodes: cluster.nodes, secretKey: coordinatorSecret }).keygen({ scheme: 'ed25519', threshold: 3 });
    db = await openPostgresSchema(4);
    await seedStarter(db, { customerId: 'c1' });
    await db.tx((q) => bindAccountKey(q, 'hot-sol', { keyId: key.keyId, address: base58.encode(hexToBytes(key.publicKey)) }));
  }, 60_000);

  afterAll(async () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await cluster?.stop();
    await db?.close();
    if (base) rmSync(base, { recursive: true, force: true });
  });

  it('leaves the withdrawal signing with its plan; the next run recovers the nodes\' signature and ends signed', async () => {
    const clock = manualClock(Date.now());
    const cred = await createCredential(db, { customerId: 'c1', scopes: ['withdraw'] });
    const to = base58.encode(ed25519.getPublicKey(new Uint8Array(randomBytes(32))));
    const { withdrawal } = await submitWithdrawal(db, clock, {
      customerId: 'c1', credentialId: cred.credentialId, idempotencyKey: 'kill-1', request: { chain: 'solana', asset: 'SOL', to, amount: '0.75' },
    });
    expect(withdrawal.status).toBe('approved');

    child = spawn(process.execPath, [bin, 'signer', '--cluster', join(base, 'cluster.json')], {
      env: {
        ...process.env, DATABASE_URL, CUSTOS_DB_SCHEMA: db.schema, CUSTOS_DATA_DIR: join(base, 'data'), CUSTOS_SOLANA_BLOCKHASH: BLOCKHASH,
        CUSTOS_SIGNER_TEST_HOOK: 'pause-after-nodes-signed', CUSTOS_POLICY_SECRET_KEY: '', CUSTOS_COORDINATOR_KEY: '', CUSTOS_MPC_CLUSTER: '',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const line = await waitForLine(child, /TEST HOOK: paused after the nodes signed/, 45_000);
    expect(line).toContain(withdrawal.id);
    child.kill('SIGKILL');
    await new Promise((r) => child?.once('exit', r));

    // What the killed worker left: signing, plan stored under its lease, nothing signed in the database.
    expect((await getWithdrawal(db, withdrawal.id))?.status).toBe('signing');
    const left = await getOutbound(db, withdrawal.id);
    expect(left?.unsignedTx).not.toBeNull();
    expect(left?.rawTx).toBeNull();
    expect(left?.leaseOwner).toMatch(/:\d+:/);

    // The next run, once the lease ran out.
    clock.set(Date.now() + 61_000);
    const next = new SigningWorker({
      db, coordinator: new Coordinator({ nodes: cluster.nodes, secretKey: coordinatorSecret }), clock, owner: 'next-run',
      authorize: policyAuthorizer({ db, policySecretKey: policySecret }), facts: { solana: { recentBlockhash: async () => ({ blockhash: BLOCKHASH }) } },
    });
    let report = await next.runOnce();
    for (let i = 0; i < 4 && !report.signed.includes(withdrawal.id); i++) {
      clock.advance(10 * 60_000); // a health answer slower than 2 s on a loaded machine defers it: retry
      report = await next.runOnce();
    }
    expect(report.signed).toEqual([withdrawal.id]);
    const w = await getWithdrawal(db, withdrawal.id);
    expect(w?.status).toBe('signed');
    expect(w?.decisions.at(-1)?.reasons[0]?.message).toMatch(/recovered from the nodes/);
    const ob = await getOutbound(db, withdrawal.id);
    expect(ob?.unsignedTx).toEqual(left?.unsignedTx);
    const tx = getTransactionDecoder().decode(ob?.rawTx as Uint8Array);
    const sig = Object.values(tx.signatures)[0] as Uint8Array;
    expect(ed25519.verify(sig, new Uint8Array(tx.messageBytes), hexToBytes(key.publicKey))).toBe(true);
    const entries = await db.query<{ action: string; body: string }>('SELECT action, body FROM audit_entries WHERE subject = $1 ORDER BY id', [`withdrawal:${withdrawal.id}`]);
    const resumed = entries.find((e) => e.action === 'withdrawal.signing_resumed');
    expect(JSON.parse(resumed?.body as string)).toMatchObject({ data: { worker: 'next-run', previousWorker: left?.leaseOwner, planned: true } });
    expect(entries.filter((e) => e.action === 'withdrawal.transition' && (JSON.parse(e.body) as { data: { to: string } }).data.to === 'signed')).toHaveLength(1);
  }, 90_000);
});
