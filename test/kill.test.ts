/**
 * Crash safety with real processes: 200 concurrent signed submissions to `custos server` on
 * PostgreSQL, SIGKILL mid-way, restart, retry every unanswered request with its Idempotency-Key.
 * No acknowledged withdrawal may be lost, none duplicated, nonces stay gap-free and the audit
 * chain verifies. Needs DATABASE_URL and dist/ (`npm run build`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sealPending, verifyChain } from '../src/audit/chain.js';
import { createCredential } from '../src/gateway/credentials.js';
import { parsePrivateKey, signRequest } from '../src/gateway/signature.js';
import type { Db } from '../src/store/db.js';
import { seedStarter } from '../src/store/seed.js';
import { DATABASE_URL, openPostgresSchema } from '../src/store/test-helpers/db.js';

const ROOT = join(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin', 'custos.js');
const built = existsSync(join(ROOT, 'dist', 'cli', 'main.js'));
if (!DATABASE_URL) console.warn('test/kill.test.ts: DATABASE_URL unset, the SIGKILL test is skipped (it needs PostgreSQL)');
if (!built) console.warn('test/kill.test.ts: dist/ is missing; run `npm run build` first (skipped)');

const N = 200;
const KILL_AFTER = 40; // answers received before the SIGKILL

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      s.close(() => resolve(typeof addr === 'object' && addr ? addr.port : 0));
    });
  });
}

interface Server {
  proc: ChildProcess;
  exited: Promise<void>;
}

async function startServer(port: number, env: Record<string, string>): Promise<Server> {
  const base = { ...process.env };
  delete base.REDIS_URL;
  delete base.CUSTOS_DATA_DIR;
  const proc = spawn(process.execPath, [BIN, 'server', '--quiet', '--port', String(port)], {
    cwd: ROOT,
    env: { ...base, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start: ${out}`)), 30_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      if (out.includes('listening on')) {
        clearTimeout(timer);
        resolve();
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${code}): ${out}`));
    });
  });
  return { proc, exited };
}

interface Req {
  key: string;
  body: Record<string, string>;
}

type Outcome = { status: number; id: string | null } | { status: 'no answer' };

describe.skipIf(!DATABASE_URL || !built)('SIGKILL during 200 concurrent submissions (real processes, PostgreSQL)', () => {
  let db: Db & { schema: string };
  let cred: { credentialId: string; privateKey: string };
  let server: Server | null = null;

  beforeAll(async () => {
    db = await openPostgresSchema(4);
    await seedStarter(db, { customerId: 'acme' });
    cred = await createCredential(db, { customerId: 'acme', scopes: ['withdraw', 'read'] });
  }, 60_000);
  afterAll(async () => {
    if (server && server.proc.exitCode === null) {
      server.proc.kill('SIGKILL');
      await server.exited;
    }
    await db?.close();
  });

  it('loses no acknowledged withdrawal, duplicates none, keeps nonces gap-free and the chain intact', async () => {
    const port = await freePort();
    const env = { DATABASE_URL: DATABASE_URL!, CUSTOS_DB_SCHEMA: db.schema, CUSTOS_RATELIMIT: 'off' };
    const base = `http://127.0.0.1:${port}`;
    const key = parsePrivateKey(cred.privateKey);
    const stamp = Date.now();
    const requests: Req[] = Array.from({ length: N }, (_, i) => {
      const kind = i % 3;
      const amount = `0.${String(i + 1).padStart(4, '0')}`;
      const body =
        kind === 0
          ? { chain: 'ethereum', asset: 'ETH', to: '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed', amount }
          : kind === 1
            ? { chain: 'bitcoin', asset: 'BTC', to: 'bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq', amount }
            : { chain: 'solana', asset: 'SOL', to: '83astBRguLMdt2h5U1Tpdq5tjFoJ6noeGwaY3mDLVcri', amount };
      return { key: `kill-${stamp}-${i}`, body };
    });

    async function send(r: Req): Promise<Outcome> {
      const bytes = Buffer.from(JSON.stringify(r.body));
      const headers = signRequest(key, cred.credentialId, { method: 'POST', path: '/v1/withdrawals', body: bytes, idempotencyKey: r.key });
      try {
        const res = await fetch(`${base}/v1/withdrawals`, {
          method: 'POST',
          headers: { ...headers, 'content-type': 'application/json' },
          body: bytes,
          signal: AbortSignal.timeout(20_000),
        });
        const json = (await res.json()) as { id?: string };
        return { status: res.status, id: json.id ?? null };
      } catch {
        return { status: 'no answer' };
      }
    }

    server = await startServer(port, env);
    let answered = 0;
    let killed = false;
    const outcomes = await Promise.all(
      requests.map(async (r) => {
        const o = await send(r);
        if (o.status !== 'no answer' && ++answered >= KILL_AFTER && !killed) {
          killed = true;
          server!.proc.kill('SIGKILL');
        }
        return o;
      }),
    );
    await server.exited;
    expect(killed).toBe(true);
    const acknowledged = new Map<string, string>(); // key -> id answered 201 before the kill
    outcomes.forEach((o, i) => {
      if (o.status === 201 && o.id) acknowledged.set(requests[i]!.key, o.id);
    });
    const unanswered = requests.filter((_, i) => outcomes[i]!.status === 'no answer');
    // Every answer before the kill was a success; the kill really cut requests off.
    for (const o of outcomes) if (o.status !== 'no answer') expect(o.status).toBe(201);
    expect(acknowledged.size).toBeGreaterThanOrEqual(KILL_AFTER);
    expect(unanswered.length).toBeGreaterThan(0);

    // Nothing acknowledged was lost by the crash.
    const afterCrash = await db.query<{ id: string; idempotency_key: string }>("SELECT id, idempotency_key FROM withdrawals WHERE customer_id = 'acme'");
    const byKey = new Map(afterCrash.map((r) => [r.idempotency_key, r.id]));
    for (const [k, id] of acknowledged) expect(byKey.get(k)).toBe(id);
    expect(afterCrash.length).toBeLessThanOrEqual(N);

    // Restart and retry every unanswered request with the same key (fresh signature and nonce).
    server = await startServer(port, env);
    let pending = unanswered;
    const retried = new Map<string, Outcome>();
    for (let round = 0; round < 3 && pending.length > 0; round++) {
      const results = await Promise.all(pending.map(async (r) => [r, await send(r)] as const));
      for (const [r, o] of results) retried.set(r.key, o);
      pending = results.filter(([, o]) => o.status === 'no answer').map(([r]) => r);
    }
    expect(pending).toEqual([]);
    const committedUnanswered = unanswered.filter((r) => byKey.has(r.key)).length;
    console.log(
      `kill test: ${acknowledged.size} acknowledged before SIGKILL, ${unanswered.length} unanswered ` +
        `(${committedUnanswered} of them had committed), ${afterCrash.length} rows after the crash`,
    );
    for (const r of unanswered) {
      const o = retried.get(r.key)!;
      expect(o.status === 200 || o.status === 201).toBe(true);
      // A request that committed before the kill is answered 200 with the stored withdrawal.
      const before = byKey.get(r.key);
      if (before) expect(o).toEqual({ status: 200, id: before });
      else expect(o.status).toBe(201);
    }

    server.proc.kill('SIGTERM'); // a clean stop chains what is pending
    await server.exited;
    expect(server.proc.exitCode).toBe(0);
    server = null;
    const [left] = await db.query<{ n: string }>('SELECT count(*)::text AS n FROM audit_pending');
    expect(left?.n).toBe('0');

    const rows = await db.query<{ idempotency_key: string; n: string }>(
      "SELECT idempotency_key, count(*)::text AS n FROM withdrawals WHERE customer_id = 'acme' GROUP BY idempotency_key",
    );
    expect(rows.filter((r) => r.n !== '1')).toEqual([]);
    expect(rows.length).toBe(N); // every request ended with exactly one withdrawal
    // Later pipeline stages may hold some for review, but none of these valid requests is rejected.
    const [{ rejected } = { rejected: '-1' }] = await db.query<{ rejected: string }>(
      "SELECT count(*)::text AS rejected FROM withdrawals WHERE customer_id = 'acme' AND status = 'rejected'",
    );
    expect(rejected).toBe('0');

    // Ethereum nonces: unique (also a constraint), gap-free from 0, and the account's counter matches.
    const nonces = await db.query<{ n: string }>(
      "SELECT w.nonce::text AS n FROM withdrawals w WHERE w.account_id = 'hot-eth' AND w.nonce IS NOT NULL ORDER BY w.nonce",
    );
    expect(nonces.length).toBeGreaterThan(0);
    expect(nonces.map((r) => Number(r.n))).toEqual(Array.from({ length: nonces.length }, (_, i) => i));
    const [acct] = await db.query<{ next: string }>("SELECT next_nonce::text AS next FROM accounts WHERE id = 'hot-eth'");
    expect(acct?.next).toBe(String(nonces.length));

    // Every withdrawal has its audit entries (at least 'received' and its transition), and no
    // entry of a submission rolled back by the crash survived.
    const perWithdrawal = await db.query<{ n: string }>(
      `SELECT count(a.id)::text AS n FROM withdrawals w LEFT JOIN audit_entries a ON a.subject = 'withdrawal:' || w.id
       WHERE w.customer_id = 'acme' GROUP BY w.id`,
    );
    expect(perWithdrawal).toHaveLength(N);
    for (const r of perWithdrawal) expect(Number(r.n)).toBeGreaterThanOrEqual(2);
    const [orphans] = await db.query<{ n: string }>(
      `SELECT count(*)::text AS n FROM audit_entries a
       WHERE a.subject LIKE 'withdrawal:%' AND NOT EXISTS (SELECT 1 FROM withdrawals w WHERE 'withdrawal:' || w.id = a.subject)`,
    );
    expect(orphans?.n).toBe('0');

    while ((await sealPending(db)) > 0);
    const report = await verifyChain(db);
    expect(report).toMatchObject({ ok: true, pending: 0 });
    const [all] = await db.query<{ n: string }>('SELECT count(*)::text AS n FROM audit_entries');
    expect(report.entries).toBe(Number(all?.n));
  }, 120_000);
});
