/**
 * Crash safety of the embedded default: `custos server` on PGlite files, SIGKILL while
 * submissions are in flight, restart on the same data directory. Every acknowledged withdrawal
 * must still be there, the files must open again, nonces stay gap-free and the chain verifies.
 * Needs dist/ (`npm run build`); PGlite starts slowly, so this file takes tens of seconds.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sealPending, verifyChain } from '../src/audit/chain.js';
import { createCredential } from '../src/gateway/credentials.js';
import { parsePrivateKey, signRequest } from '../src/gateway/signature.js';
import { openDb } from '../src/store/db.js';
import { migrate } from '../src/store/migrate.js';
import { seedStarter } from '../src/store/seed.js';

const ROOT = join(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin', 'custos.js');
const built = existsSync(join(ROOT, 'dist', 'cli', 'main.js'));
if (!built) console.warn('test/kill-pglite.test.ts: dist/ is missing; run `npm run build` first (skipped)');

const N = 60;
const KILL_AFTER = 15;

interface Server {
  proc: ChildProcess;
  url: string;
  exited: Promise<void>;
}

async function startServer(dataDir: string): Promise<Server> {
  const base = { ...process.env };
  for (const k of ['DATABASE_URL', 'REDIS_URL', 'CUSTOS_DB_SCHEMA']) delete base[k];
  const proc = spawn(process.execPath, [BIN, 'server', '--quiet', '--port', '0'], {
    cwd: ROOT,
    env: { ...base, CUSTOS_DATA_DIR: dataDir, CUSTOS_RATELIMIT: 'off' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`server did not start: ${out}`)), 90_000);
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/[^\s]+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${code}): ${out}`));
    });
  });
  return { proc, url, exited };
}

describe.skipIf(!built)('SIGKILL of custos server on the embedded PGlite store (real processes)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'custos-kill-'));
  let server: Server | null = null;
  afterAll(async () => {
    if (server && server.proc.exitCode === null) {
      server.proc.kill('SIGKILL');
      await server.exited;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps every acknowledged withdrawal and reopens cleanly', async () => {
    const dataDir = join(dir, 'db');
    let db = await openDb({ dataDir });
    await migrate(db);
    await seedStarter(db, { customerId: 'acme' });
    const cred = await createCredential(db, { customerId: 'acme', scopes: ['withdraw', 'read'] });
    await db.close();

    const key = parsePrivateKey(cred.privateKey);
    const stamp = Date.now();
    const reqs = Array.from({ length: N }, (_, i) => ({
      key: `pgl-${stamp}-${i}`,
      body: { chain: 'ethereum', asset: 'ETH', to: '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed', amount: `0.${String(i + 1).padStart(3, '0')}` },
    }));
    const send = async (base: string, r: (typeof reqs)[number]) => {
      const bytes = Buffer.from(JSON.stringify(r.body));
      const headers = signRequest(key, cred.credentialId, { method: 'POST', path: '/v1/withdrawals', body: bytes, idempotencyKey: r.key });
      try {
        const res = await fetch(`${base}/v1/withdrawals`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: bytes });
        const json = (await res.json()) as { id?: string };
        return { status: res.status as number | 'no answer', id: json.id ?? null };
      } catch {
        return { status: 'no answer' as const, id: null };
      }
    };

    server = await startServer(dir);
    let answered = 0;
    let killed = false;
    const s1 = server;
    const outcomes = await Promise.all(
      reqs.map(async (r) => {
        const o = await send(s1.url, r);
        if (o.status !== 'no answer' && ++answered >= KILL_AFTER && !killed) {
          killed = true;
          s1.proc.kill('SIGKILL');
        }
        return o;
      }),
    );
    await s1.exited;
    expect(killed).toBe(true);
    const acknowledged = new Map<string, string>();
    outcomes.forEach((o, i) => {
      if (o.status === 201 && o.id) acknowledged.set(reqs[i]!.key, o.id);
    });
    expect(acknowledged.size).toBeGreaterThanOrEqual(KILL_AFTER);

    // Restart on the same files (the dead process's lock is taken over) and retry the rest.
    server = await startServer(dir);
    const s2 = server;
    const missing = reqs.filter((_, i) => outcomes[i]!.status === 'no answer');
    const retried = await Promise.all(missing.map((r) => send(s2.url, r)));
    for (const o of retried) expect([200, 201]).toContain(o.status);
    s2.proc.kill('SIGTERM');
    await s2.exited;
    server = null;

    db = await openDb({ dataDir });
    try {
      const rows = await db.query<{ id: string; idempotency_key: string; nonce: string | null }>(
        "SELECT id, idempotency_key, nonce::text AS nonce FROM withdrawals WHERE customer_id = 'acme'",
      );
      const byKey = new Map(rows.map((r) => [r.idempotency_key, r.id]));
      for (const [k, id] of acknowledged) expect(byKey.get(k)).toBe(id);
      expect(rows).toHaveLength(N);
      const nonces = rows.filter((r) => r.nonce !== null).map((r) => Number(r.nonce)).sort((a, b) => a - b);
      expect(nonces).toEqual(Array.from({ length: nonces.length }, (_, i) => i));
      while ((await sealPending(db)) > 0);
      expect(await verifyChain(db)).toMatchObject({ ok: true, pending: 0 });
    } finally {
      await db.close();
    }
  }, 240_000);
});
