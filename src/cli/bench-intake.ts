/**
 * `custos bench intake`: signed HTTP submissions per second through the gateway (signature
 * verification, replay check, syntax stage, insert, audit entries) with N concurrent clients.
 * The gateway runs as its own process (`custos server`), as in production; the load generator
 * signs every request like a real client. Results go to bench/results/intake.json.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { createCredential } from '../gateway/credentials.js';
import { Http1Connection } from '../http1/connection.js';
import { parsePrivateKey, signRequest } from '../gateway/signature.js';
import { openDb } from '../store/db.js';
import { migrate } from '../store/migrate.js';
import { seedStarter } from '../store/seed.js';
import { cpuMsOfCommand, processCpuMs } from './proc-cpu.js';

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'custos.js');

const BODIES = [
  { chain: 'bitcoin', asset: 'BTC', to: 'bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq', amount: '0.0001' },
  { chain: 'solana', asset: 'SOL', to: '83astBRguLMdt2h5U1Tpdq5tjFoJ6noeGwaY3mDLVcri', amount: '0.01' },
  { chain: 'ethereum', asset: 'ETH', to: '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed', amount: '0.001' },
];

export interface IntakeBenchResult {
  bench: 'intake';
  store: 'pglite' | 'postgres';
  submissions_per_s: number;
  p50_ms: number;
  p99_ms: number;
  /** The rest of the latency distribution, to tell a steady queue from rare stalls. */
  p90_ms: number;
  p95_ms: number;
  max_ms: number;
  /**
   * CPU per accepted submission over the measured window, from /proc (null where it does not
   * answer): the gateway process, every local PostgreSQL process (null on PGlite, which runs in
   * the gateway), and the load generator.
   */
  cpu_ms_per_submission: { gateway: number | null; database: number | null; load_generator: number };
  /** 'pre-signed': requests were signed before the run (see below); 'online': while it ran. */
  client_signing: 'pre-signed' | 'online';
  /** Gateway processes (`custos server`) the clients were spread over; cpu_ms_per_submission.gateway sums them. */
  gateways: number;
  clients: number;
  seconds: number;
  submitted: number;
  errors: number;
  date: string;
  machine: { cpus: number; model: string; node: string };
}

export async function benchIntake(o: { json?: boolean; clients: number; seconds: number; store?: 'pglite' | 'postgres'; gateways?: number }): Promise<IntakeBenchResult> {
  const store = o.store ?? (process.env.DATABASE_URL ? 'postgres' : 'pglite');
  const log = (m: string) => (o.json ? process.stderr.write(`${m}\n`) : console.log(m));
  // Intake only: rate limits are measured by `custos bench ratelimit`.
  const env: NodeJS.ProcessEnv = { ...process.env, CUSTOS_RATELIMIT: 'off' };
  let cleanup = async () => {};
  let dataDir: string | undefined;
  let db;
  if (store === 'postgres') {
    const url = process.env.DATABASE_URL;
    if (!url) throw new Error('--store postgres needs DATABASE_URL');
    const schema = `bench_${randomBytes(4).toString('hex')}`;
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    await c.query(`CREATE SCHEMA ${schema}`);
    await c.end();
    env.CUSTOS_DB_SCHEMA = schema;
    db = await openDb({ databaseUrl: url, schema });
    cleanup = async () => {
      const c2 = new pg.Client({ connectionString: url });
      await c2.connect();
      await c2.query(`DROP SCHEMA ${schema} CASCADE`);
      await c2.end();
    };
  } else {
    delete env.DATABASE_URL;
    dataDir = mkdtempSync(join(tmpdir(), 'custos-bench-'));
    env.CUSTOS_DATA_DIR = dataDir;
    db = await openDb({ dataDir: join(dataDir, 'db') });
    cleanup = async () => rmSync(dataDir as string, { recursive: true, force: true });
  }
  await migrate(db);
  // One customer (and credential) per client: a customer's own withdrawals serialise on its cap
  // counters by design, so one shared customer would measure that lock, not the intake.
  const creds: { credentialId: string; privateKey: string }[] = [];
  for (let c = 0; c < o.clients; c++) {
    const customerId = `bench-${c}`;
    await seedStarter(db, { customerId });
    creds.push(await createCredential(db, { customerId, scopes: ['withdraw', 'read'] }));
  }
  await db.close();

  const gateways = o.gateways ?? 1;
  if (!(Number.isInteger(gateways) && gateways >= 1 && gateways <= 16)) throw new Error('--gateways must be an integer from 1 to 16');
  if (gateways > 1 && store === 'pglite') throw new Error('--gateways above 1 needs PostgreSQL: PGlite files belong to one process');
  const ports: number[] = [];
  for (let g = 0; g < gateways; g++) ports.push(await freePort());
  log(`bench intake: store ${store}, ${o.clients} clients, ${o.seconds} s, ${gateways === 1 ? 'gateway process' : `${gateways} gateway processes`} on port ${ports.join(', ')}`);
  const servers = ports.map((port) =>
    spawn(process.execPath, [...(process.env.CUSTOS_BENCH_PROFILE ? ['--cpu-prof', '--cpu-prof-dir', process.env.CUSTOS_BENCH_PROFILE] : []), BIN, 'server', '--quiet', '--port', String(port)], { env, stdio: ['ignore', 'pipe', 'inherit'] }),
  );
  let result: IntakeBenchResult;
  // One kept-alive connection per client through the lean HTTP/1.1 client (about 0.09 ms of CPU
  // per request here, node:http's about 0.2): the load generator shares the two cores with custos.
  const connections: Http1Connection[] = [];
  try {
    await Promise.all(servers.map(waitListening));
    const keys = creds.map((c) => parsePrivateKey(c.privateKey));
    const sign = (w: number, i: number): { headers: Record<string, string>; body: Buffer } => {
      const body = Buffer.from(JSON.stringify(BODIES[(w + i) % BODIES.length]));
      const cred = creds[w % creds.length] as { credentialId: string };
      const headers = signRequest(keys[w % keys.length] as ReturnType<typeof parsePrivateKey>, cred.credentialId, { method: 'POST', path: '/v1/withdrawals', body, idempotencyKey: randomUUID() });
      return { headers: { ...headers, 'content-type': 'application/json' }, body };
    };
    // The clients of a real deployment sign on their own machines; here they share the two cores
    // with custos. So a short run signs its requests before it starts (ample for 4,000/s), while
    // their timestamps stay well inside the server's 30 s window; a worker that runs out signs
    // the rest as it goes. A long run signs as it goes.
    const presign = WARMUP_S + o.seconds <= PRESIGN_MAX_S;
    const perWorker = presign ? Math.ceil((PRESIGN_RATE * (WARMUP_S + o.seconds)) / o.clients) : 0;
    if (presign) log(`signing ${perWorker * o.clients} requests before the run`);
    const signed = Array.from({ length: o.clients }, (_, w) => Array.from({ length: perWorker }, (_, i) => sign(w, i)));
    const latencies: number[] = [];
    let errors = 0;
    let measuring = false;
    let stop = false;
    let onlineSigning = !presign;
    const worker = async (w: number) => {
      let conn: Http1Connection | undefined;
      const mine = signed[w] as ReturnType<typeof sign>[];
      for (let i = 0; !stop; i++) {
        if (i >= mine.length && measuring) onlineSigning = true;
        const { headers, body } = i < mine.length ? (mine[i] as ReturnType<typeof sign>) : sign(w, i);
        const t0 = performance.now();
        try {
          if (!conn?.idle) {
            // clients spread evenly over the gateways, as behind a load balancer
            conn = await Http1Connection.open({ host: '127.0.0.1', port: ports[w % ports.length] as number }, 10_000);
            connections.push(conn);
          }
          const { status } = await conn.request('POST', '/v1/withdrawals', headers, body, 10_000);
          if (status !== 201) errors += measuring ? 1 : 0;
          else if (measuring) latencies.push(performance.now() - t0);
        } catch {
          if (measuring) errors += 1;
        }
      }
    };
    const workers = Array.from({ length: o.clients }, (_, w) => worker(w));
    await sleep(WARMUP_S * 1000); // warm-up: JIT, connection pools
    const gatewayCpu = () => {
      let sum = 0;
      for (const sv of servers) {
        const ms = sv.pid === undefined ? null : processCpuMs(sv.pid);
        if (ms === null) return null;
        sum += ms;
      }
      return sum;
    };
    const cpu = () => ({ gateway: gatewayCpu(), database: store === 'postgres' ? cpuMsOfCommand('postgres') : null, self: process.cpuUsage() });
    const cpu0 = cpu();
    measuring = true;
    const t0 = performance.now();
    await sleep(o.seconds * 1000);
    const elapsed = (performance.now() - t0) / 1000;
    measuring = false;
    const cpu1 = cpu();
    const perSubmission = (a: number | null, b: number | null) => (a === null || b === null || latencies.length === 0 ? null : round3((b - a) / latencies.length));
    const self = process.cpuUsage(cpu0.self);
    stop = true;
    await Promise.all(workers);
    latencies.sort((a, b) => a - b);
    const pct = (p: number) => round(latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? NaN);
    result = {
      bench: 'intake',
      store,
      submissions_per_s: Math.round(latencies.length / elapsed),
      p50_ms: pct(0.5),
      p99_ms: pct(0.99),
      p90_ms: pct(0.9),
      p95_ms: pct(0.95),
      max_ms: round(latencies[latencies.length - 1] ?? NaN),
      cpu_ms_per_submission: {
        gateway: perSubmission(cpu0.gateway, cpu1.gateway),
        database: perSubmission(cpu0.database, cpu1.database),
        load_generator: round3((self.user + self.system) / 1000 / Math.max(1, latencies.length)),
      },
      client_signing: onlineSigning ? 'online' : 'pre-signed',
      gateways,
      clients: o.clients,
      seconds: o.seconds,
      submitted: latencies.length,
      errors,
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, model: cpus()[0]?.model ?? 'unknown', node: process.version },
    };
  } finally {
    for (const c of connections) c.close();
    await Promise.all(
      servers.map(async (sv) => {
        if (sv.exitCode !== null || sv.signalCode !== null) return;
        const exited = new Promise((r) => sv.once('exit', r));
        sv.kill('SIGTERM');
        await exited;
      }),
    );
    await cleanup();
  }
  mkdirSync('bench/results', { recursive: true });
  writeFileSync(`bench/results/intake-${store}.json`, `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync('bench/results/intake.json', `${JSON.stringify(result, null, 2)}\n`);
  if (o.json) console.log(JSON.stringify(result));
  else
    console.log(
      `${result.submissions_per_s} submissions/s, p50 ${result.p50_ms} ms, p90 ${result.p90_ms} ms, p99 ${result.p99_ms} ms, max ${result.max_ms} ms (${result.submitted} accepted, ${result.errors} errors); CPU ms per submission: gateway ${result.cpu_ms_per_submission.gateway ?? '?'}, database ${result.cpu_ms_per_submission.database ?? (store === 'pglite' ? 'in the gateway' : '?')}, load generator ${result.cpu_ms_per_submission.load_generator} → bench/results/intake.json`,
    );
  return result;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (a && typeof a === 'object' ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

function waitListening(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('listening on')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`gateway exited early (${code}): ${out}`)));
  });
}

const WARMUP_S = 2;
/** Runs up to this long (warm-up included) sign before they start; timestamps must stay fresh (30 s). */
const PRESIGN_MAX_S = 17;
/** Requests signed ahead, per second of run: more than any machine here has carried. */
const PRESIGN_RATE = 4_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (x: number) => Math.round(x * 100) / 100;
const round3 = (x: number) => Math.round(x * 1000) / 1000;
