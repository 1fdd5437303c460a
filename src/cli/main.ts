/**
 * The `custos` binary. Roles are subcommands: demo, server, credentials, customers, api, audit, bench, migrate.
 */
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { CustosApiError, CustosClient } from '../client/index.js';
import { isCustosError } from '../core/errors.js';
import { createCredential, parseScopes, revokeCredential } from '../gateway/credentials.js';
import { rateLimitSettingsFromEnv, startServer, webhooksFromEnv } from '../gateway/server.js';
import { listCredentials } from '../store/credentials.js';
import { createCustomer } from '../store/customers.js';
import { migrate } from '../store/migrate.js';
import { appendAudit } from '../audit/chain.js';
import { registerApprovalCommands } from './approval-commands.js';
import { registerAuditBench, registerAuditCommands } from './audit-commands.js';
import { runDemo } from './demo.js';
import { registerAssetCommands } from './asset-commands.js';
import { registerPolicyCommands } from './policy-commands.js';
import { registerEnclaveCommands } from './enclave-commands.js';
import { registerSignerCommands, serverSigner } from './signer-commands.js';
import { registerMpcBench, registerMpcCommands } from './mpc-commands.js';
import { chainDigest } from '../mpc/node/chain-digest.js';
import { writeResult } from './bench-results.js';
import { dataDir, describeStore, openConfiguredDb, table } from './env.js';
import { stopSignal } from './stop-signal.js';

export async function main(argv: string[]): Promise<void> {
  const program = new Command('custos')
    .description('custos: protects customer withdrawals (signed API, verification pipeline, audit trail)')
    .option('--data-dir <dir>', 'data directory of the embedded database (env CUSTOS_DATA_DIR)', undefined)
    .showHelpAfterError();

  const common = () => program.opts<{ dataDir?: string }>();

  program
    .command('demo')
    .description('start everything on the embedded default, submit sample withdrawals, keep serving')
    .option('--port <port>', 'gateway port (env CUSTOS_PORT, default 8080)', (v) => Number(v))
    .option('--no-serve', 'exit after the samples instead of serving')
    .action(async (o: { port?: number; serve: boolean }) => runDemo({ ...common(), ...o }));

  program
    .command('server')
    .description('run the API gateway')
    .option('--port <port>', 'port (env CUSTOS_PORT, default 8080)', (v) => Number(v))
    .option('--host <host>', 'address (env CUSTOS_HOST, default 127.0.0.1)')
    .option('--quiet', 'no request log')
    .option('--no-signer', 'do not run the signer even when signing nodes are configured')
    .action(async (o: { port?: number; host?: string; quiet?: boolean; signer: boolean }) => {
      const db = await openConfiguredDb(common());
      const signer = await serverSigner(db, common(), o.signer);
      const server = await startServer({
        db,
        port: o.port ?? Number(process.env.CUSTOS_PORT ?? 8080),
        host: o.host ?? process.env.CUSTOS_HOST ?? '127.0.0.1',
        logger: o.quiet ? false : { level: 'info' },
        rateLimits: rateLimitSettingsFromEnv(),
        webhooks: webhooksFromEnv(),
        checkpoints: { dataDir: dataDir(common()) },
        ...(signer.nodes ? { nodes: signer.nodes } : {}),
      });
      const rl = server.limiter ? (process.env.REDIS_URL ? 'Redis (REDIS_URL)' : 'in memory') : 'OFF (CUSTOS_RATELIMIT=off)';
      const stopped = stopSignal();
      // One write: whoever waits for "listening on" reads the signer's lines with it.
      console.log([`custos gateway listening on ${server.url} (store: ${describeStore(db, common())}; rate limits: ${rl})`, ...signer.lines].join('\n'));
      await stopped;
      await signer.stop();
      await server.close();
      await db.close();
    });

  program
    .command('migrate')
    .description('bring the database schema up to date')
    .action(async () => {
      const db = await openConfiguredDb(common());
      const applied = await migrate(db);
      console.log(applied.length ? `schema up to date (applied ${applied.join(', ')})` : 'schema up to date');
      await db.close();
    });

  const customers = program.command('customers').description('customers');
  customers
    .command('create')
    .requiredOption('--id <id>', 'customer id (A–Z a–z 0–9 _ . -)')
    .requiredOption('--name <name>', 'display name')
    .action(async (o: { id: string; name: string }) => {
      const db = await openConfiguredDb(common());
      try {
        await db.tx(async (q) => {
          await createCustomer(q, o);
          await appendAudit(q, { at: Date.now(), actor: 'operator', action: 'customer.created', subject: `customer:${o.id}`, data: { name: o.name } });
        });
        console.log(`customer ${o.id} created`);
      } finally {
        await db.close();
      }
    });

  const creds = program.command('credentials').description('API credentials (Ed25519; the server keeps only public keys)');
  creds
    .command('create')
    .description('create a credential; its private key is printed once')
    .requiredOption('--customer <id>', 'customer the credential acts for')
    .requiredOption('--scopes <list>', 'comma-separated: withdraw, read, approve, admin')
    .option('--tier <tier>', 'rate-limit tier', 'standard')
    .option('--label <label>', 'a note for operators', '')
    .option('--json', 'print JSON: {credentialId, privateKey, publicKey, customerId, scopes}')
    .action(async (o: { customer: string; scopes: string; tier: string; label: string; json?: boolean }) => {
      const scopes = parseScopes(o.scopes);
      const db = await openConfiguredDb(common());
      try {
        const c = await createCredential(db, { customerId: o.customer, scopes, tier: o.tier, label: o.label });
        if (o.json) console.log(JSON.stringify({ ...c, customerId: o.customer, scopes }));
        else
          console.log(
            `credential ${c.credentialId} for ${o.customer} (${scopes.join(', ')})\nprivate key: ${c.privateKey}\nStore the private key now: custos keeps only the public key and cannot show it again.`,
          );
      } finally {
        await db.close();
      }
    });
  creds
    .command('list')
    .option('--customer <id>', 'only this customer')
    .option('--json', 'print JSON')
    .action(async (o: { customer?: string; json?: boolean }) => {
      const db = await openConfiguredDb(common());
      try {
        const list = await listCredentials(db, o.customer);
        const out = list.map((c) => ({
          credentialId: c.id,
          customerId: c.customerId,
          scopes: c.scopes,
          tier: c.tier,
          label: c.label,
          createdAt: new Date(c.createdAt).toISOString(),
          revokedAt: c.revokedAt === null ? null : new Date(c.revokedAt).toISOString(),
        }));
        if (o.json) console.log(JSON.stringify(out));
        else console.log(table(['credential', 'customer', 'scopes', 'tier', 'created', 'revoked'], out.map((c) => [c.credentialId, c.customerId, c.scopes.join(','), c.tier, c.createdAt, c.revokedAt ?? ''])));
      } finally {
        await db.close();
      }
    });
  creds
    .command('revoke <credentialId>')
    .description('revoke a credential (gateways stop accepting it within 5 s)')
    .action(async (id: string) => {
      const db = await openConfiguredDb(common());
      try {
        await revokeCredential(db, id);
        console.log(`credential ${id} revoked`);
      } finally {
        await db.close();
      }
    });

  program
    .command('api <method> <path>')
    .description('a signed API call (env CUSTOS_URL, CUSTOS_CREDENTIAL_ID, CUSTOS_PRIVATE_KEY)')
    .option('--data <json>', 'request body (JSON text, or @file)')
    .option('--idempotency-key <key>', 'Idempotency-Key (POST /v1/withdrawals: generated when absent)')
    .addOption(new Option('--url <url>', 'gateway URL').env('CUSTOS_URL').default('http://127.0.0.1:8080'))
    .addOption(new Option('--credential <id>', 'credential id').env('CUSTOS_CREDENTIAL_ID'))
    .addOption(new Option('--private-key <key>', 'credential private key').env('CUSTOS_PRIVATE_KEY'))
    .action(async (method: string, path: string, o: { data?: string; idempotencyKey?: string; url: string; credential?: string; privateKey?: string }) => {
      if (!o.credential || !o.privateKey) throw new Error('set CUSTOS_CREDENTIAL_ID and CUSTOS_PRIVATE_KEY (or --credential/--private-key)');
      const client = new CustosClient({ baseUrl: o.url, credentialId: o.credential, privateKey: o.privateKey, retries: 3 });
      const text = o.data?.startsWith('@') ? readFileSync(o.data.slice(1), 'utf8') : o.data;
      const body: unknown = text === undefined ? undefined : JSON.parse(text);
      const m = method.toUpperCase();
      const key = o.idempotencyKey ?? (m === 'POST' ? crypto.randomUUID() : undefined);
      try {
        console.log(JSON.stringify(await client.request(m, path, body, key), null, 2));
      } catch (err) {
        if (err instanceof CustosApiError) {
          console.log(JSON.stringify(err.problem, null, 2));
          process.exitCode = 1;
          return;
        }
        throw err;
      }
    });

  const ratelimit = program.command('ratelimit').description('rate limits (through the admin API: CUSTOS_URL, CUSTOS_CREDENTIAL_ID, CUSTOS_PRIVATE_KEY of an admin credential)');
  const adminClient = () => {
    const url = process.env.CUSTOS_URL ?? 'http://127.0.0.1:8080';
    const id = process.env.CUSTOS_CREDENTIAL_ID;
    const key = process.env.CUSTOS_PRIVATE_KEY;
    if (!id || !key) throw new Error('set CUSTOS_CREDENTIAL_ID and CUSTOS_PRIVATE_KEY to an admin-scoped credential');
    return new CustosClient({ baseUrl: url, credentialId: id, privateKey: key, retries: 2 });
  };
  ratelimit
    .command('status')
    .description('active cooling periods')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const r = await adminClient().request<{ blacklisted: { key: string; until: string; remainingS: number; offences: number; blocked: number }[] }>('GET', '/v1/admin/ratelimits');
      if (o.json) console.log(JSON.stringify(r));
      else if (r.blacklisted.length === 0) console.log('no key is blacklisted');
      else console.log(table(['key', 'until', 'remaining s', 'offences', 'refused'], r.blacklisted.map((b) => [b.key, b.until, String(b.remainingS), String(b.offences), String(b.blocked)])));
    });
  ratelimit
    .command('lift <key>')
    .description('end a cooling period early, e.g. cred:cred_abc (audited and alerted)')
    .action(async (key: string) => {
      try {
        await adminClient().request('POST', '/v1/admin/ratelimits/lift', { key });
        console.log(`${key} lifted`);
      } catch (err) {
        if (err instanceof CustosApiError) {
          console.error(`error (${err.code}): ${err.problem.detail}`);
          process.exitCode = 1;
          return;
        }
        throw err;
      }
    });

  registerAssetCommands(program, common);
  registerPolicyCommands(program, common);
  // `custos approvers keygen|add|list|revoke`, `custos approve|reject ID --key FILE`
  registerApprovalCommands(program, common);
  // `custos mpc-node` derives what it signs from the unsigned transaction itself.
  registerMpcCommands(program, common, { deriveDigest: chainDigest });
  registerSignerCommands(program, common);

  registerAuditCommands(program, common);

  const bench = program.command('bench').description('benchmarks; results under bench/results/');
  registerAuditBench(bench);
  registerMpcBench(bench);
  // after `bench` exists: it adds `bench hsm` and `bench enclave` to it
  registerEnclaveCommands(program, common);
  bench
    .command('intake')
    .description('signed HTTP submissions per second through syntax stage, insert and audit entry')
    .option('--json', 'print one JSON object')
    .option('--clients <n>', 'concurrent clients', (v) => Number(v), 50)
    .option('--seconds <n>', 'duration of the measured run', (v) => Number(v), 10)
    .addOption(new Option('--store <store>', 'pglite or postgres (DATABASE_URL)').choices(['pglite', 'postgres']))
    .option('--gateways <n>', 'gateway processes sharing the clients, as several instances behind a load balancer (PostgreSQL only)', (v) => Number(v), 1)
    .action(async (o: { json?: boolean; clients: number; seconds: number; store?: 'pglite' | 'postgres'; gateways: number }) => {
      const { benchIntake } = await import('./bench-intake.js');
      await benchIntake(o);
    });

  bench
    .command('pipeline')
    .description('full decisions per second (syntax, risk, rules, policy) with a realistic history, without HTTP')
    .option('--json', 'print one JSON object')
    .option('--customers <n>', 'customers in the history', (v) => Number(v), 10_000)
    .option('--past <n>', 'past withdrawals per customer', (v) => Number(v), 100)
    .option('--decisions <n>', 'decisions to measure', (v) => Number(v), 20_000)
    .option('--concurrency <n>', 'concurrent submissions', (v) => Number(v), 16)
    .addOption(new Option('--store <store>', 'pglite or postgres (DATABASE_URL)').choices(['pglite', 'postgres']))
    .action(async (o: { json?: boolean; customers: number; past: number; decisions: number; concurrency: number; store?: 'pglite' | 'postgres' }) => {
      const { runBenchPipeline } = await import('./bench-pipeline.js');
      await runBenchPipeline(o);
    });

  bench
    .command('ratelimit')
    .description('rate-limit checks per second: memory store on one core (10,000 credentials), Redis at 64 concurrent checks (REDIS_URL)')
    .option('--json', 'print one JSON object')
    .action(async (o: { json?: boolean }) => {
      const { benchRateLimit } = await import('../ratelimit/bench.js');
      const r = await benchRateLimit({ credentials: 10_000, concurrency: 64, ...(process.env.REDIS_URL ? { redisUrl: process.env.REDIS_URL } : {}) });
      const path = writeResult('ratelimit', { bench: 'ratelimit', ...r });
      if (o.json) console.log(JSON.stringify(r));
      else
        console.log(
          `memory: ${Math.round(r.memory_checks_per_s)} checks/s; Redis: ${r.redis_checks_per_s === null ? 'not measured (REDIS_URL unset)' : `${Math.round(r.redis_checks_per_s)} checks/s, p99 ${r.redis_p99_ms} ms`}; added p99 ${r.added_p99_ms} ms → ${path}`,
        );
    });

  bench
    .command('protocols')
    .description('threshold signing protocol timings: FROST 3-of-5 (Ed25519, BIP-340), CGGMP21 modexp/presign/sign')
    .option('--json', 'print one JSON object')
    .action(async (o: { json?: boolean }) => {
      const { benchFrost } = await import('../mpc/protocols/frost/bench.js');
      const { benchModexp } = await import('../mpc/bigint/bench.js');
      const { benchCmp } = await import('../mpc/protocols/cmp/bench.js');
      const { singleKeySignMs } = await import('../mpc/coordinator/ecdsa-bench.js');
      const frost = benchFrost({ iterations: 9 });
      const modexp = benchModexp();
      const cmp = await benchCmp();
      // the headline figures at the top level (the names the issue asks for), the details below them
      const r = {
        bench: 'protocols',
        ecdsa_keygen_s: cmp.ecdsa_keygen_s, ecdsa_aux_s: cmp.ecdsa_aux_s, ecdsa_presign_s: cmp.ecdsa_presign_s, ecdsa_online_ms: cmp.ecdsa_online_ms,
        frost_ed25519_sign_ms: frost.frost_ed25519_sign_ms, frost_schnorr_sign_ms: frost.frost_schnorr_sign_ms, modexp_4096_ms: modexp.modexp_4096_ms,
        single_key_sign_ms: singleKeySignMs(),
        frost, modexp, cmp,
      };
      const path = writeResult('protocols', r);
      console.log(o.json ? JSON.stringify(r) : `${JSON.stringify(r, null, 2)}\n→ ${path}`);
    });
  bench
    .command('audit-core')
    .description('in-memory RFC 6962 log: appends/s, inclusion-proof latency on 1,000,000 entries, offline verification of 1,000,000 entries')
    .option('--json', 'print one JSON object')
    .option('--entries <n>', 'log size', (v) => Number(v), 1_000_000)
    .action(async (o: { json?: boolean; entries: number }) => {
      const { benchAuditCore } = await import('../audit/bench.js');
      const r = await benchAuditCore({ entries: o.entries });
      const path = writeResult('audit-core', { bench: 'audit-core', ...r });
      console.log(o.json ? JSON.stringify(r) : `${JSON.stringify(r, null, 2)}\n→ ${path}`);
    });
  bench
    .command('all')
    .description('every benchmark in turn; each writes its own file under bench/results/')
    .option('--json', 'print one JSON object per benchmark, one per line')
    .action(async (o: { json?: boolean }) => {
      const self = process.argv[1] ?? 'bin/custos.js';
      const { spawnSync } = await import('node:child_process');
      const runs: string[][] = [['intake', '--store', 'pglite']];
      if (process.env.DATABASE_URL) runs.push(['intake', '--store', 'postgres'], ['pipeline', '--store', 'postgres']);
      runs.push(['ratelimit'], ['audit'], ['audit-core'], ['protocols']);
      for (const args of runs) {
        const r = spawnSync(process.execPath, [self, 'bench', ...args, ...(o.json ? ['--json'] : [])], { stdio: 'inherit' });
        if (r.status !== 0) process.exitCode = 1;
      }
    });

  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (isCustosError(err)) {
      console.error(`error (${err.code}): ${err.message}`);
      process.exitCode = 1;
      return;
    }
    throw err;
  }
}
