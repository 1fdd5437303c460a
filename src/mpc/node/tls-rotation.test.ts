/**
 * Rotating a node's TLS certificate: prepared beside the served one (still served), pinned next to
 * it, activated (served from the next start, the old one kept as previous), each time checked by
 * real TLS handshakes against the node server with coordinator clients pinning the old, the new or
 * both; the new key only ever sealed on disk; refusals without a store, without TLS material, with
 * a wrong passphrase, without a prepared certificate, and while the node holds its directory. The
 * process test runs `custos mpc-node` (bin/custos.js over dist/: `npm run build` first; skipped without).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createPrivateKey, createPublicKey, randomBytes, X509Certificate } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:tls';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { readClusterFile } from '../../cli/mpc-commands.js';
import { NodeClient, type NodeTlsPins } from '../coordinator/client.js';
import { rotateNodeTls, runNode, type RunningNode } from './process.js';
import { LOCK_FILE } from './dir-lock.js';
import { NodeStore, STORE_FILE } from './store.js';
import { TLS_CERTIFICATE_FILE, TLS_NEXT_CERTIFICATE_FILE, TLS_PREVIOUS_CERTIFICATE_FILE, type TlsRotationReport } from './tls-rotation.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const cli = join(root, 'bin', 'custos.js');
const built = existsSync(join(root, 'dist', 'cli', 'main.js')) && existsSync(join(root, 'dist', 'mpc', 'node', 'tls-rotation.js'));
if (!built) console.warn('src/mpc/node/tls-rotation.test.ts: dist/ is missing or stale; run `npm run build` first (process test skipped)');

const rng = (n: number) => new Uint8Array(randomBytes(n));
const passphrase = 'tls rotation test passphrase';
const dirs: string[] = [];
const running: RunningNode[] = [];
const children: ChildProcess[] = [];
afterEach(async () => {
  for (const n of running.splice(0)) await n.close();
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const fresh = () => {
  const d = mkdtempSync(join(tmpdir(), 'custos-tls-rotation-'));
  dirs.push(d);
  return d;
};

/** A provisioned node store (cheap scrypt cost, recorded in the store) without TLS material yet. */
function provisioned(id = 'n1'): string {
  const dir = fresh();
  NodeStore.open({ dir, nodeId: id, passphrase, rng, kdfCost: { N: 1 << 10, r: 8, p: 1 } }).close();
  return dir;
}

async function start(dir: string, id = 'n1'): Promise<RunningNode> {
  const node = await runNode({ id, dataDir: dir, port: 0, passphrase, tls: true });
  running.push(node);
  return node;
}

async function stop(node: RunningNode): Promise<void> {
  running.splice(running.indexOf(node), 1);
  await node.close();
}

const fingerprint = (pem: string) => new X509Certificate(pem).fingerprint256;

/** What a coordinator client pinning `tls` gets from the node on `port`: `ok` or the refusal's code. */
async function coordinatorSees(port: number, tls: NodeTlsPins): Promise<string> {
  const client = new NodeClient({ id: 'n1', url: `https://127.0.0.1:${port}`, tls }, 5_000);
  try {
    await client.health();
    return 'ok';
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  } finally {
    client.close();
  }
}

/** The certificate the node on `port` presents in a TLS 1.3 handshake (no verification: only looking). */
function servedFingerprint(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, rejectUnauthorized: false, minVersion: 'TLSv1.3' }, () => {
      resolve(s.getPeerCertificate().fingerprint256);
      s.destroy();
    });
    s.once('error', reject);
  });
}

/** Every file under `dir` (name → bytes). */
function snapshot(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isFile()) out.set(name, readFileSync(p));
  }
  return out;
}

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  }
  return 'accepted';
}

describe('TLS certificate rotation of a signing node (node server in this process)', () => {
  it('prepare keeps serving the old certificate, activate serves the new one after a restart; coordinators pinning old, new or both', async () => {
    const dir = provisioned();
    const first = await start(dir);
    const old = readFileSync(join(dir, TLS_CERTIFICATE_FILE), 'utf8');
    expect(first.tls?.fingerprint).toBe(fingerprint(old));
    await stop(first);

    // 1. prepare: a new certificate beside the served one
    const prepared = await rotateNodeTls({ id: 'n1', dataDir: dir, passphrase, step: 'prepare' });
    const next = readFileSync(join(dir, TLS_NEXT_CERTIFICATE_FILE), 'utf8');
    expect(prepared).toMatchObject({
      node: 'n1', action: 'prepared', serving: { certificate: old, fingerprint: fingerprint(old) }, next: { certificate: next, fingerprint: fingerprint(next) },
      clusterTls: { certificates: [old, next] },
    });
    expect(fingerprint(next)).not.toBe(fingerprint(old));
    expect(readFileSync(join(dir, TLS_CERTIFICATE_FILE), 'utf8')).toBe(old);
    const afterPrepare = snapshot(dir);
    // preparing again changes nothing (a certificate the operator may have pinned stays)
    const again = await rotateNodeTls({ id: 'n1', dataDir: dir, passphrase, step: 'prepare' });
    expect(again).toMatchObject({ action: 'unchanged', next: { fingerprint: fingerprint(next) } });
    expect(readFileSync(join(dir, STORE_FILE))).toEqual(afterPrepare.get(STORE_FILE));

    // 2. restarted, the node still serves the old certificate; the new one alone is refused
    const second = await start(dir);
    expect(second.tls).toEqual({ fingerprint: fingerprint(old), nextFingerprint: fingerprint(next) });
    expect(await servedFingerprint(second.server.port)).toBe(fingerprint(old));
    expect(await coordinatorSees(second.server.port, { certificate: old })).toBe('ok');
    expect(await coordinatorSees(second.server.port, { certificates: [old, next] })).toBe('ok');
    expect(await coordinatorSees(second.server.port, { certificate: next })).toBe('node_tls_identity');
    await stop(second);

    // 3. activate: the prepared certificate is served from the next start, the old one kept as previous
    const activated = await rotateNodeTls({ id: 'n1', dataDir: dir, passphrase, step: 'activate' });
    expect(activated).toMatchObject({
      node: 'n1', action: 'activated', serving: { certificate: next, fingerprint: fingerprint(next) }, previous: { certificate: old, fingerprint: fingerprint(old) },
      clusterTls: { certificate: next },
    });
    expect(readFileSync(join(dir, TLS_CERTIFICATE_FILE), 'utf8')).toBe(next);
    expect(readFileSync(join(dir, TLS_PREVIOUS_CERTIFICATE_FILE), 'utf8')).toBe(old);
    expect(existsSync(join(dir, TLS_NEXT_CERTIFICATE_FILE))).toBe(false);
    const inspect = NodeStore.open({ dir, nodeId: 'n1', passphrase, rng, readOnly: true });
    const status = inspect.tlsStatus();
    expect(status?.current.fingerprint).toBe(fingerprint(next));
    expect(status?.previous).toMatchObject({ certificate: old, fingerprint: fingerprint(old) });
    expect(status?.next).toBeUndefined();
    expect(status?.events.map((e) => [e.event, e.fingerprint, e.replaced])).toEqual([
      ['created', fingerprint(old), undefined], ['prepared', fingerprint(next), undefined], ['activated', fingerprint(next), fingerprint(old)],
    ]);

    // 4. restarted, the node serves the new certificate
    const third = await start(dir);
    expect(third.tls).toEqual({ fingerprint: fingerprint(next) });
    expect(await servedFingerprint(third.server.port)).toBe(fingerprint(next));
    expect(await coordinatorSees(third.server.port, { certificate: old })).toBe('node_tls_identity');
    expect(await coordinatorSees(third.server.port, { certificates: [old, next] })).toBe('ok');
    expect(await coordinatorSees(third.server.port, { certificate: next })).toBe('ok');
    // the same through a cluster file pinning copies of both files
    const clusterDir = fresh();
    copyFileSync(join(dir, TLS_PREVIOUS_CERTIFICATE_FILE), join(clusterDir, 'n1-old.pem'));
    copyFileSync(join(dir, TLS_CERTIFICATE_FILE), join(clusterDir, 'n1-new.pem'));
    const identity = { id: 'n1', signingKey: inspect.identity.signingKey, exchangeKey: inspect.identity.exchangeKey };
    writeFileSync(join(clusterDir, 'cluster.json'), JSON.stringify({ nodes: [{ id: 'n1', url: `https://127.0.0.1:${third.server.port}`, identity, tls: { certificateFiles: ['n1-old.pem', 'n1-new.pem'] } }] }));
    const [endpoint] = readClusterFile(join(clusterDir, 'cluster.json'));
    expect(endpoint?.tls).toEqual({ certificates: [old, next] });
    expect(await coordinatorSees(third.server.port, endpoint?.tls as NodeTlsPins)).toBe('ok');

    // the new private key is sealed: neither the data directory now nor as it was after preparing holds it in any form
    const served = inspect.tlsCredentials(Date.now());
    inspect.close();
    expect(createPublicKey(served.privateKey).export({ format: 'jwk' })).toEqual(new X509Certificate(next).publicKey.export({ format: 'jwk' }));
    const der = Buffer.from(served.privateKey.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64');
    const d = Buffer.from((createPrivateKey(served.privateKey).export({ format: 'jwk' }) as { d: string }).d, 'base64url');
    const needles = [
      Buffer.from('PRIVATE KEY'), der, Buffer.from(der.toString('hex')), Buffer.from(der.toString('base64')), Buffer.from(der.toString('base64').slice(0, 64)),
      d, Buffer.from(d.toString('hex')), Buffer.from(d.toString('base64url')),
    ];
    for (const [when, files] of [['after activation', snapshot(dir)], ['after preparation', afterPrepare]] as const) {
      for (const [name, bytes] of files) {
        for (const needle of needles) expect(bytes.includes(needle), `${when}: ${name} holds the TLS private key`).toBe(false);
      }
    }
    const box = (JSON.parse(afterPrepare.get(STORE_FILE)?.toString('utf8') as string) as { tls: { next: { sealed: { iv: string; ct: string } } } }).tls.next.sealed;
    expect(box.iv).toMatch(/^[0-9a-f]{24}$/);
    expect(box.ct.length).toBeGreaterThan(200);
  }, 30_000);

  it('refuses without a store, before the node ever served TLS, with a wrong or missing passphrase, and activation without a prepared certificate; nothing changes', async () => {
    const empty = fresh();
    expect(await refusal(rotateNodeTls({ id: 'n1', dataDir: empty, passphrase, step: 'prepare' }))).toBe('node_store_missing');
    expect(readdirSync(empty)).toEqual([]);

    const dir = provisioned();
    const plain = snapshot(dir);
    expect(await refusal(rotateNodeTls({ id: 'n1', dataDir: dir, passphrase, step: 'prepare' }))).toBe('node_tls_missing');
    expect(await refusal(rotateNodeTls({ id: 'n1', dataDir: dir, passphrase, step: 'activate' }))).toBe('node_tls_missing');
    expect(snapshot(dir)).toEqual(plain);

    await stop(await start(dir));
    const served = snapshot(dir);
    expect(await refusal(rotateNodeTls({ id: 'n1', dataDir: dir, passphrase, step: 'activate' }))).toBe('node_tls_not_prepared');
    expect(await refusal(rotateNodeTls({ id: 'n1', dataDir: dir, passphrase: 'not the passphrase', step: 'prepare' }))).toBe('node_unseal_failed');
    expect(await refusal(rotateNodeTls({ id: 'n1', dataDir: dir, step: 'prepare' }))).toBe('node_no_sealing_key');
    expect(await refusal(rotateNodeTls({ id: 'other', dataDir: dir, passphrase, step: 'prepare' }))).toBe('node_store_mismatch');
    expect(snapshot(dir)).toEqual(served);
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);

    await rotateNodeTls({ id: 'n1', dataDir: dir, passphrase, step: 'prepare' });
    const preparedStore = readFileSync(join(dir, STORE_FILE));
    expect(await refusal(rotateNodeTls({ id: 'n1', dataDir: dir, passphrase: 'not the passphrase', step: 'activate' }))).toBe('node_unseal_failed');
    expect(readFileSync(join(dir, STORE_FILE))).toEqual(preparedStore);
  });

  it('is refused with node_dir_locked while the node runs, and the running node is undisturbed', async () => {
    const dir = provisioned();
    const node = await start(dir);
    const before = readFileSync(join(dir, STORE_FILE));
    const err = await rotateNodeTls({ id: 'n1', dataDir: dir, passphrase, step: 'prepare' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'node_dir_locked', holderPid: process.pid });
    expect(await refusal(rotateNodeTls({ id: 'n1', dataDir: dir, passphrase, step: 'activate' }))).toBe('node_dir_locked');
    expect(readFileSync(join(dir, STORE_FILE))).toEqual(before);
    expect(existsSync(join(dir, TLS_NEXT_CERTIFICATE_FILE))).toBe(false);
    expect(await coordinatorSees(node.server.port, { certificate: readFileSync(join(dir, TLS_CERTIFICATE_FILE), 'utf8') })).toBe('ok');
  });
});

describe.skipIf(!built)('custos mpc-node --rotate-tls / --activate-tls (node processes)', () => {
  const env = (): NodeJS.ProcessEnv => {
    const e: NodeJS.ProcessEnv = { ...process.env, CUSTOS_NODE_PASSPHRASE: passphrase };
    for (const k of ['CUSTOS_KEY_RELEASE_URL', 'CUSTOS_NODE_TEST_HOOK', 'CUSTOS_NODE_TEST_SAFE_PRIMES', 'CUSTOS_DATA_DIR']) delete e[k];
    return e;
  };
  const custos = (dir: string, ...args: string[]) => {
    const child = spawn(process.execPath, [cli, '--data-dir', dir, 'mpc-node', '--id', 'n1', ...args], { env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr?.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    return { child, exit, stdout: () => stdout, stderr: () => stderr };
  };
  /** A node process serving TLS; resolves with its port once it listens. */
  const serve = async (dir: string) => {
    const node = custos(dir, '--tls', '--port', '0');
    const port = await new Promise<number>((resolve, reject) => {
      const t = setInterval(() => {
        const m = / listening on https:\/\/127\.0\.0\.1:(\d+) /.exec(node.stdout());
        if (m) resolve(Number(m[1]));
        else if (node.child.exitCode !== null) reject(new Error(node.stdout() + node.stderr()));
        else return;
        clearInterval(t);
      }, 20);
    });
    return { ...node, port };
  };
  const terminate = async (node: ReturnType<typeof custos>) => {
    node.child.kill('SIGTERM');
    expect(await node.exit).toBe(0);
  };

  it('refused while the node process runs (node_dir_locked, its pid); stopped, each step rotates and the restarted node serves accordingly', async () => {
    const dir = provisioned();
    const first = await serve(dir);
    const old = readFileSync(join(dir, TLS_CERTIFICATE_FILE), 'utf8');
    expect(first.stdout()).toContain(`SHA-256 ${fingerprint(old)}`);
    const store = readFileSync(join(dir, STORE_FILE));
    const refused = custos(dir, '--rotate-tls', '--json');
    expect(await refused.exit).toBe(1);
    expect(refused.stderr()).toContain('error (node_dir_locked)');
    expect(refused.stderr()).toContain(`process ${first.child.pid}`);
    expect(refused.stdout()).toBe('');
    expect(readFileSync(join(dir, STORE_FILE))).toEqual(store);
    expect(await coordinatorSees(first.port, { certificate: old })).toBe('ok');
    await terminate(first);

    const prepare = custos(dir, '--rotate-tls', '--json');
    expect(await prepare.exit).toBe(0);
    const prepared = JSON.parse(prepare.stdout()) as TlsRotationReport & { next: { certificate: string; fingerprint: string } };
    const next = prepared.next.certificate;
    expect(prepared).toMatchObject({ node: 'n1', action: 'prepared', serving: { fingerprint: fingerprint(old) }, next: { fingerprint: fingerprint(next) }, clusterTls: { certificates: [old, next] } });
    expect(readFileSync(join(dir, TLS_NEXT_CERTIFICATE_FILE), 'utf8')).toBe(next);
    // the text form reprints the prepared certificate, unchanged
    const reprint = custos(dir, '--rotate-tls');
    expect(await reprint.exit).toBe(0);
    expect(reprint.stdout()).toContain('TLS rotation already prepared (nothing changed)');
    expect(reprint.stdout()).toContain(next.trimEnd());
    expect(reprint.stdout()).toContain(`SHA-256 ${fingerprint(next)}`);
    expect(reprint.stdout()).toContain('--activate-tls');

    const second = await serve(dir);
    expect(second.stdout()).toContain(`a prepared certificate SHA-256 ${fingerprint(next)} waits for --activate-tls`);
    expect(await coordinatorSees(second.port, { certificates: [old, next] })).toBe('ok');
    expect(await coordinatorSees(second.port, { certificate: next })).toBe('node_tls_identity');
    await terminate(second);

    const activate = custos(dir, '--activate-tls');
    expect(await activate.exit).toBe(0);
    expect(activate.stdout()).toContain('TLS rotation activated');
    expect(activate.stdout()).toContain(`served now       SHA-256 ${fingerprint(next)}`);
    expect(activate.stdout()).toContain(`replaced         SHA-256 ${fingerprint(old)}`);

    const third = await serve(dir);
    expect(await servedFingerprint(third.port)).toBe(fingerprint(next));
    expect(await coordinatorSees(third.port, { certificate: old })).toBe('node_tls_identity');
    expect(await coordinatorSees(third.port, { certificates: [old, next] })).toBe('ok');
    expect(await coordinatorSees(third.port, { certificate: next })).toBe('ok');
    await terminate(third);
    const twice = custos(dir, '--activate-tls');
    expect(await twice.exit).toBe(1);
    expect(twice.stderr()).toContain('error (node_tls_not_prepared)');
  }, 60_000);
});
