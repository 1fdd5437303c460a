/**
 * The `custos` binary as a user runs it (real processes over dist/: run `npm run build` first).
 * Credentials and audit commands run against PostgreSQL in a fresh schema (skipped without
 * DATABASE_URL); the demo runs on the embedded default in a temporary data directory.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPublicKey } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sealPending } from '../src/audit/chain.js';
import { parsePrivateKey, rawPublicKey } from '../src/gateway/signature.js';
import { createCredential } from '../src/gateway/credentials.js';
import { getCredential } from '../src/store/credentials.js';
import type { Db } from '../src/store/db.js';
import { seedStarter } from '../src/store/seed.js';
import { DATABASE_URL, openPostgresSchema } from '../src/store/test-helpers/db.js';

const ROOT = join(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin', 'custos.js');
const built = existsSync(join(ROOT, 'dist', 'cli', 'main.js'));
if (!built) console.warn('test/cli.test.ts: dist/ is missing; run `npm run build` first (skipped)');
if (!DATABASE_URL) console.warn('test/cli.test.ts: DATABASE_URL unset, the credentials and audit commands are skipped');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function custos(args: string[], env: Record<string, string | undefined>, timeoutMs = 60_000): Promise<Run> {
  const base = { ...process.env };
  delete base.DATABASE_URL;
  delete base.CUSTOS_DB_SCHEMA;
  delete base.CUSTOS_DATA_DIR;
  // Rate limits in memory: the demo's output must not depend on a shared Redis (other suites restart it).
  delete base.REDIS_URL;
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...base, ...env }, timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

describe.skipIf(!built || !DATABASE_URL)('custos credentials and audit verify (PostgreSQL schema; needs DATABASE_URL and dist/)', () => {
  let db: Db & { schema: string };
  let env: Record<string, string | undefined>;

  beforeAll(async () => {
    db = await openPostgresSchema(4);
    await seedStarter(db, { customerId: 'acme' });
    env = { DATABASE_URL, CUSTOS_DB_SCHEMA: db.schema };
  }, 60_000);
  afterAll(async () => {
    await db?.close();
  });

  it('credentials create --json prints the credential once; the server keeps only the public key', async () => {
    const r = await custos(['credentials', 'create', '--customer', 'acme', '--scopes', 'withdraw,read', '--json'], env);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { credentialId: string; privateKey: string; publicKey: string; customerId: string; scopes: string[] };
    expect(out.credentialId).toMatch(/^cred_[A-Za-z0-9_-]{8,64}$/);
    expect(out.privateKey).toMatch(/^csk1_[A-Za-z0-9_-]{43}$/);
    expect(out).toMatchObject({ customerId: 'acme', scopes: ['withdraw', 'read'] });
    const stored = await getCredential(db, out.credentialId);
    expect(stored?.scopes).toEqual(['withdraw', 'read']);
    const derived = rawPublicKey(createPublicKey(parsePrivateKey(out.privateKey)));
    expect(Buffer.from(stored!.publicKey).equals(Buffer.from(derived))).toBe(true);
    // The private key (or its seed) is nowhere in the database.
    const seed = out.privateKey.slice(5);
    const [hits] = await db.query<{ n: string }>(
      `SELECT ((SELECT count(*) FROM credentials WHERE row_to_json(credentials)::text LIKE '%' || $1 || '%')
        + (SELECT count(*) FROM audit_entries WHERE body LIKE '%' || $1 || '%'))::text AS n`,
      [seed],
    );
    expect(hits?.n).toBe('0');
    const [audit] = await db.query<{ n: string }>("SELECT count(*)::text AS n FROM audit_entries WHERE action = 'credential.created' AND subject = $1", [
      `credential:${out.credentialId}`,
    ]);
    expect(audit?.n).toBe('1');
  });

  it('credentials create refuses unknown scopes and customers with exit 1', async () => {
    const bad = await custos(['credentials', 'create', '--customer', 'acme', '--scopes', 'withdraw,root'], env);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('scopes_invalid');
    const nobody = await custos(['credentials', 'create', '--customer', 'nobody', '--scopes', 'read'], env);
    expect(nobody.code).toBe(1);
    expect(nobody.stderr).toContain('customer_unknown');
  });

  it('credentials list --json and revoke', async () => {
    const created = JSON.parse((await custos(['credentials', 'create', '--customer', 'acme', '--scopes', 'read', '--json'], env)).stdout) as {
      credentialId: string;
      privateKey: string;
    };
    const list1 = await custos(['credentials', 'list', '--json'], env);
    expect(list1.code).toBe(0);
    expect(list1.stdout).not.toContain(created.privateKey.slice(5));
    const entries = JSON.parse(list1.stdout) as { credentialId: string; customerId: string; scopes: string[]; revokedAt: string | null }[];
    expect(entries.find((c) => c.credentialId === created.credentialId)).toMatchObject({ customerId: 'acme', scopes: ['read'], revokedAt: null });

    const revoke = await custos(['credentials', 'revoke', created.credentialId], env);
    expect(revoke.code).toBe(0);
    expect(revoke.stdout).toContain('revoked');
    const list2 = JSON.parse((await custos(['credentials', 'list', '--customer', 'acme', '--json'], env)).stdout) as typeof entries;
    expect(list2.find((c) => c.credentialId === created.credentialId)?.revokedAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect((await getCredential(db, created.credentialId))?.revokedAt).not.toBeNull();
    const [revokedAudit] = await db.query<{ n: string }>("SELECT count(*)::text AS n FROM audit_entries WHERE action = 'credential.revoked' AND subject = $1", [
      `credential:${created.credentialId}`,
    ]);
    expect(revokedAudit?.n).toBe('1');

    const again = await custos(['credentials', 'revoke', created.credentialId], env);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('credential_not_found');
  });

  it('accounts set-balance records the balance (audited); accounts list --json shows balance, held and available', async () => {
    const set = await custos(['accounts', 'set-balance', '--account', 'hot-btc', '--balance', '1.5'], env);
    expect(set.code).toBe(0);
    expect(set.stdout).toContain('→ 1.5');
    // a withdrawal in flight holds part of it
    await db.query("UPDATE accounts SET reserved = 12000 WHERE id = 'hot-btc'");
    const list = await custos(['accounts', 'list', '--json'], env);
    expect(list.code).toBe(0);
    const btc = (JSON.parse(list.stdout) as { accountId: string; balance: string; held: string; available: string }[]).find((a) => a.accountId === 'hot-btc');
    expect(btc).toMatchObject({ balance: '1.5', held: '0.00012', available: '1.49988' });
    const [audit] = await db.query<{ body: string }>("SELECT body FROM audit_entries WHERE action = 'account.balance_set' AND subject = 'account:hot-btc'");
    expect((JSON.parse(audit!.body) as { data: unknown }).data).toEqual({ from: '2500000000', to: '150000000', held: '0' });

    for (const [args, code] of [
      [['--account', 'hot-btc', '--balance=-1'], 'balance_invalid'],
      [['--account', 'hot-btc', '--balance', '0.000000001'], 'balance_too_precise'],
      [['--account', 'nope', '--balance', '1'], 'account_unknown'],
    ] as const) {
      const bad = await custos(['accounts', 'set-balance', ...args], env);
      expect(bad.code, bad.stderr).toBe(1);
      expect(bad.stderr).toContain(code);
    }
    await db.query("UPDATE accounts SET reserved = 0 WHERE id = 'hot-btc'");
  });

  it('assets set and accounts create configure a new token and its hot wallet (audited); bad input exits 1 with the code', async () => {
    const set = await custos(['assets', 'set', '--chain', 'ethereum', '--symbol', 'DAI', '--network', 'mainnet', '--decimals', '18', '--min-fee', '0.000065', '--max-fee', '0.02', '--default-fee', '0.00195'], env);
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toContain('asset DAI on ethereum (mainnet) created');
    const assets = JSON.parse((await custos(['assets', 'list', '--json'], env)).stdout) as { symbol: string; minFee: string; maxFee: string }[];
    expect(assets.find((a) => a.symbol === 'DAI')).toMatchObject({ minFee: '0.000065', maxFee: '0.02' });
    const created = await custos(['accounts', 'create', '--id', 'hot-dai', '--chain', 'ethereum', '--asset', 'DAI', '--address', '0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed', '--balance', '1000'], env);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toContain('0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed');
    const [audit] = await db.query<{ n: string }>("SELECT count(*)::text AS n FROM audit_entries WHERE subject IN ('asset:ethereum:DAI', 'account:hot-dai')");
    expect(audit?.n).toBe('2');
    const badFee = await custos(['assets', 'set', '--chain', 'ethereum', '--symbol', 'DAI', '--network', 'mainnet', '--decimals', '18', '--min-fee', '0.03', '--max-fee', '0.02', '--default-fee', '0.02'], env);
    expect([badFee.code, badFee.stderr.includes('fee_policy_invalid')]).toEqual([1, true]);
    const badAddress = await custos(['accounts', 'create', '--id', 'hot-dai-2', '--chain', 'ethereum', '--asset', 'DAI', '--address', '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD'], env);
    expect([badAddress.code, badAddress.stderr.includes('address_checksum')]).toEqual([1, true]);
  });

  it('audit verify exits 0 on an intact chain and 2 after tampering, naming the entry', async () => {
    while ((await sealPending(db)) > 0);
    const ok = await custos(['audit', 'verify'], env);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/audit chain intact: \d+ entries/);
    const okJson = JSON.parse((await custos(['audit', 'verify', '--json'], env)).stdout) as { ok: boolean; entries: number };
    expect(okJson.ok).toBe(true);
    expect(okJson.entries).toBeGreaterThanOrEqual(3);

    const [victim] = await db.query<{ seq: string; id: string; body: string }>(
      'SELECT c.seq::text AS seq, e.id::text AS id, e.body FROM audit_chain c JOIN audit_entries e ON e.id = c.entry_id WHERE c.seq = 2',
    );
    const rewrite = (body: string) =>
      db.tx(async (q) => {
        await q.query('ALTER TABLE audit_entries DISABLE TRIGGER ALL');
        await q.query('UPDATE audit_entries SET body = $1 WHERE id = $2', [body, victim!.id]);
        await q.query('ALTER TABLE audit_entries ENABLE TRIGGER ALL');
        await q.query('ALTER TABLE audit_entries ENABLE ALWAYS TRIGGER audit_entries_append_only');
        await q.query('ALTER TABLE audit_entries ENABLE ALWAYS TRIGGER audit_entries_no_truncate');
      });
    await rewrite(victim!.body.replace('"actor":"operator"', '"actor":"nobody"'));
    const broken = await custos(['audit', 'verify'], env);
    expect(broken.code).toBe(2);
    expect(broken.stdout).toContain(`audit chain BROKEN at seq 2 (entry ${victim!.id})`);
    const brokenJson = await custos(['audit', 'verify', '--json'], env);
    expect(brokenJson.code).toBe(2);
    expect(JSON.parse(brokenJson.stdout)).toMatchObject({ ok: false, brokenSeq: '2', entryId: victim!.id });

    await rewrite(victim!.body);
    expect((await custos(['audit', 'verify'], env)).code).toBe(0);
  });
});

describe.skipIf(!built)('custos demo --no-serve (embedded PGlite in a temporary data directory; needs dist/)', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'custos-demo-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('exits 0, prints the decision table and a verified audit chain; audit verify agrees afterwards', async () => {
    const env = { CUSTOS_DATA_DIR: dir, CUSTOS_PORT: '0' };
    const r = await custos(['demo', '--no-serve'], env, 110_000);
    const transcript = `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
    expect(r.code, transcript).toBe(0);
    expect(r.stderr, transcript).not.toMatch(/Error|at .*\.js:\d+/);
    const out = r.stdout;
    expect(out).toContain('Sample withdrawals through the signed HTTP API');
    const row = (label: string) => out.split('\n').find((l) => l.startsWith(label)) ?? transcript;
    expect(row('ETH to a checksummed address')).toMatch(/2xx.*approved.*syntax:pass/);
    expect(row('BTC to a bech32 address')).toMatch(/approved/);
    expect(row('bad address (EIP-55 checksum)')).toMatch(/\b422\b.*rejected.*address_checksum/);
    expect(row('look-alike address')).toMatch(/\b422\b.*rejected.*address_non_ascii/);
    expect(row('bad fee (fee-drain guard)')).toMatch(/\b422\b.*rejected.*fee_too_high/);
    expect(row('over-precise amount')).toMatch(/\b422\b.*rejected.*amount_too_precise/);
    expect(row('same key, same body (replay)')).toMatch(/2xx.*approved/);
    expect(row('same key, different body')).toMatch(/\b409\b.*idempotency_key_reused/);
    // The replay answered the first use's withdrawal.
    const idOf = (label: string) => /wd_[0-9a-f]{8}/.exec(row(label))?.[0];
    expect(idOf('same key, same body (replay)')).toBe(idOf('idempotency key, first use'));
    expect(out).toMatch(/Audit chain: \d+ entries verified, head [0-9a-f]{16}/);
    // the large SOL transfer to a new address: in review, approved 2 of 3 with approval keys, signed 3-of-5 with those approvals
    expect(out).toMatch(/A large transfer to a new address: 100 SOL to \S+ → in_review/);
    expect(out).toMatch(/the submitter itself approves → refused 403 approver_is_submitter/);
    expect(out).toMatch(/approver-2 signs and approves → approved \(2 of 2\), status approved/);
    expect(out).toMatch(/carries the approvals of approver-1, approver-2 with their Ed25519 signatures/);
    expect(out).toMatch(/reusing these approvals is refused by the nodes: authorization_approval_invalid/);
    expect(out).toMatch(/Signed by node-\d, node-\d, node-\d \(3 of 5/);
    expect(out).not.toMatch(/csk1_/); // --no-serve prints no credential

    const verify = await custos(['audit', 'verify', '--json'], env, 110_000);
    expect(verify.code).toBe(0);
    expect(JSON.parse(verify.stdout)).toMatchObject({ ok: true, pending: 0 });
  }, 240_000);
});

describe.skipIf(!built || !DATABASE_URL)('custos server and custos api (PostgreSQL schema; needs DATABASE_URL and dist/)', () => {
  let db: Db & { schema: string };
  let server: ChildProcess | null = null;
  let env: Record<string, string | undefined>;

  beforeAll(async () => {
    db = await openPostgresSchema(4);
    await seedStarter(db, { customerId: 'acme' });
    const cred = await createCredential(db, { customerId: 'acme', scopes: ['withdraw', 'read'] });
    const base = { ...process.env };
    delete base.REDIS_URL;
    const proc = spawn(process.execPath, [BIN, 'server', '--quiet', '--port', '0'], {
      cwd: ROOT,
      env: { ...base, DATABASE_URL, CUSTOS_DB_SCHEMA: db.schema },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    server = proc;
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`server did not start: ${out}`)), 30_000);
      proc.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /listening on (http:\/\/[^\s]+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
      proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
      proc.once('exit', (code) => reject(new Error(`server exited (${code}): ${out}`)));
    });
    env = { CUSTOS_URL: url, CUSTOS_CREDENTIAL_ID: cred.credentialId, CUSTOS_PRIVATE_KEY: cred.privateKey };
  }, 60_000);
  afterAll(async () => {
    if (server && server.exitCode === null) {
      const exited = new Promise((r) => server!.once('exit', r));
      server.kill('SIGTERM');
      await exited;
    }
    await db?.close();
  });

  it('api POST submits a signed withdrawal; the same key returns it again; GET reads it; a rejection exits 1 with the problem', async () => {
    const body = JSON.stringify({ chain: 'bitcoin', asset: 'BTC', to: 'bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq', amount: '0.015' });
    const first = await custos(['api', 'POST', '/v1/withdrawals', '--data', body, '--idempotency-key', 'cli-1'], env);
    expect(first.code, first.stderr).toBe(0);
    const w = JSON.parse(first.stdout) as { id: string; status: string; amount: string; decisions: { stage: string }[] };
    expect(w.amount).toBe('0.015');
    expect(w.decisions[0]).toMatchObject({ stage: 'syntax', outcome: 'pass' });
    expect(w.status).not.toBe('rejected');
    const again = await custos(['api', 'POST', '/v1/withdrawals', '--data', body, '--idempotency-key', 'cli-1'], env);
    expect((JSON.parse(again.stdout) as { id: string }).id).toBe(w.id);
    const got = await custos(['api', 'GET', `/v1/withdrawals/${w.id}`], env);
    expect(got.code).toBe(0);
    expect(JSON.parse(got.stdout)).toMatchObject({ id: w.id });
    const [rows] = await db.query<{ n: string }>("SELECT count(*)::text AS n FROM withdrawals WHERE idempotency_key = 'cli-1'");
    expect(rows?.n).toBe('1');

    const bad = await custos(['api', 'POST', '/v1/withdrawals', '--data', body.replace('0.015', '0')], env);
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stdout)).toMatchObject({ status: 422, code: 'amount_zero', withdrawal: { status: 'rejected' } });
    const noKey = await custos(['api', 'GET', '/v1/withdrawals'], { CUSTOS_URL: env.CUSTOS_URL });
    expect(noKey.code).toBe(1);
    expect(noKey.stderr).toContain('CUSTOS_CREDENTIAL_ID');
    const forged = await custos(['api', 'GET', '/v1/withdrawals'], { ...env, CUSTOS_PRIVATE_KEY: `csk1_${'A'.repeat(43)}` });
    expect(forged.code).toBe(1);
    expect(JSON.parse(forged.stdout)).toMatchObject({ status: 401, code: 'signature_invalid' });
  });
});
