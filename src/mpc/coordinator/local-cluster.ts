/**
 * Starts n signing nodes as separate local processes on loopback (for the demo and the tests):
 * provisions each data directory (identity, sealed store), pins every node's public identity and
 * the policy public key into each node's configuration, spawns `node dist/mpc/node/bin.js` per
 * node (port 0, the node prints its URL), and stops them cleanly (SIGTERM, then SIGKILL after a
 * grace period). `kill(id)` SIGKILLs one node (fault tests); `restart(id)` starts it again.
 * Needs the compiled `dist/` (`npm run build`).
 *
 * With `keyRelease` (the demo) every node gets its sealing key only through attestation and key
 * release: the nodes run from a snapshot of the installed package under `<baseDir>/image` (their
 * image, `snapshotImage`), and the helper puts each node's enrolment measurement (code, node id, no configuration yet)
 * on the development allowlist, runs the node once with `--enrol` (it attests, receives its key,
 * creates its identity inside its sealed store and prints the public half), writes the pinned
 * configuration, replaces the enrolment entry by the node's final measurement (code and
 * configuration), and starts it; the node attests again and unseals its store with the released
 * key. Without `keyRelease` the nodes use the DEVELOPMENT FALLBACK passphrase.
 *
 * @example
 *   const cluster = await startLocalCluster({ baseDir, n: 5, policyPublicKey, keyRelease: { url, trustDir: '.custos' } });
 *   const coordinator = new Coordinator({ nodes: cluster.nodes });
 *   await cluster.stop();
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CustosError } from '../../core/errors.js';
import { updateDevelopmentAllowlist } from '../../enclave/development-trust.js';
import { packageRoot } from '../../enclave/module-graph.js';
import { measureNodeImage } from '../node/measurement.js';
import type { PinnedApproverKey } from '../node/authorization.js';
import { provisionNode, TLS_CERTIFICATE_FILE, writeNodeConfig } from '../node/process.js';
import { parsePublicIdentity, type PublicIdentity } from '../transport/identity.js';
import type { NodeEndpoint } from './coordinator.js';

export const CLUSTER_FILE = 'cluster.json';

export interface LocalClusterOptions {
  readonly baseDir: string;
  readonly n: number;
  readonly policyPublicKey: string;
  readonly minApprovals?: number;
  /** Coordinator public keys the nodes require on every POST (empty: unauthenticated callers). */
  readonly coordinatorKeys?: readonly string[];
  /** Approvers' approval public keys the nodes pin (only their signatures count toward minApprovals). */
  readonly approverKeys?: readonly PinnedApproverKey[];
  /**
   * Key release for every node: the service's URL and the data dir holding the development trust
   * material (`custos init`: attestation root, release signers, allowlist). Replaces the passphrase.
   */
  readonly keyRelease?: { readonly url: string; readonly trustDir: string };
  /** DEVELOPMENT FALLBACK without `keyRelease`: passphrase for every node's sealing key (default: fresh random, kept in memory). */
  readonly passphrase?: string;
  /** Extra environment per node (e.g. a test hook for one node). */
  readonly envFor?: (id: string) => Record<string, string>;
  /** Node ids (default node-1 … node-n). */
  readonly ids?: readonly string[];
  /** Where the node entry lives (default: this package's dist/mpc/node/bin.js). */
  readonly entry?: string;
  /** Arguments before the node's own (e.g. `['mpc-node']` with `entry: 'bin/custos.js'`). */
  readonly entryArgs?: readonly string[];
  readonly onLine?: (id: string, line: string) => void;
  /** Every node serves HTTPS with its own certificate; the endpoints pin it. */
  readonly tls?: boolean;
  /** Address the nodes listen on (default 127.0.0.1; any other needs `tls`). */
  readonly host?: string;
}

export interface LocalCluster {
  readonly nodes: NodeEndpoint[];
  readonly dirs: ReadonlyMap<string, string>;
  /** The development fallback passphrase (undefined with key release). */
  readonly passphrase: string | undefined;
  /** With key release: each node's measurement (PCR0, hex) as put on the allowlist. */
  readonly measurements: ReadonlyMap<string, string>;
  /** SIGKILL one node (no cleanup on its side). */
  kill(id: string): Promise<void>;
  /** Start a stopped or killed node again (same data directory, new port). */
  restart(id: string, env?: Record<string, string>): Promise<NodeEndpoint>;
  stop(): Promise<void>;
}

/** The compiled node entry point next to this module (dist/mpc/node/bin.js). */
export function defaultNodeEntry(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const built = join(here, '..', 'node', 'bin.js');
  if (existsSync(built)) return built;
  // running from src/ under a test runner: use the compiled copy
  return join(here, '..', '..', '..', 'dist', 'mpc', 'node', 'bin.js');
}

function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

/**
 * Copies the package that holds `entry` (its package.json, bin/ and dist/ without maps and type
 * declarations; node_modules linked, since dependencies are measured by their package.json) to
 * `dir`, and returns the entry's path inside the copy. Measured names are relative to the package
 * root, so the copy measures exactly as the original did at the time of the copy.
 */
export function snapshotImage(entry: string, dir: string): string {
  const real = realpathSync(entry);
  const root = packageRoot(dirname(real));
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  cpSync(join(root, 'package.json'), join(dir, 'package.json'));
  for (const sub of ['bin', 'dist']) {
    if (existsSync(join(root, sub))) cpSync(join(root, sub), join(dir, sub), { recursive: true, filter: (src) => !/\.(d\.ts|map)$/.test(src) });
  }
  if (existsSync(join(root, 'node_modules')) && !existsSync(join(dir, 'node_modules'))) symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir');
  const inCopy = join(dir, relative(root, real));
  if (!existsSync(inCopy)) throw new CustosError('mpc_not_built', `${entry} is not under bin/ or dist/ of ${root}`);
  return inCopy;
}

/**
 * The line of a failed node's stderr that says why: a `code: message` or `error (code)` line, else
 * an `…Error:` line of an uncaught exception, else the last line that is not Node's version footer.
 */
export function failureLine(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter((l) => l && !/^Node\.js v\d/.test(l));
  return lines.find((l) => /^(error \([a-z0-9_]+\)|[a-z][a-z0-9_]*):\s/.test(l)) ?? lines.find((l) => /^[A-Za-z]*Error\b/.test(l)) ?? lines.at(-1) ?? '';
}

/** Runs `entry … --enrol` for one node and returns the public identity it prints. */
function enrolProcess(entry: string, args: readonly string[], env: NodeJS.ProcessEnv, id: string): Promise<PublicIdentity> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [entry, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (err = (err + c).slice(-2000)));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      const m = / enrolled \([^)]*\): (\{.*\})\s*$/m.exec(out);
      if (code === 0 && m) {
        try {
          const identity = parsePublicIdentity(JSON.parse(m[1] as string));
          if (identity.id === id) return resolve(identity);
        } catch {
          // fall through to the refusal below
        }
      }
      reject(new CustosError('mpc_node_start_failed', `node ${id} did not enrol (${code ?? signal}): ${failureLine(err)}`));
    });
  });
}

export async function startLocalCluster(o: LocalClusterOptions): Promise<LocalCluster> {
  const ids = o.ids ?? Array.from({ length: o.n }, (_, i) => `node-${i + 1}`);
  const kr = o.keyRelease;
  const passphrase = kr ? undefined : (o.passphrase ?? randomBytes(24).toString('base64url'));
  const installed = o.entry ?? defaultNodeEntry();
  if (!existsSync(installed)) throw new CustosError('mpc_not_built', `node entry ${installed} is missing: run npm run build`);
  // With key release the nodes run from a snapshot of the installed package (their image): what
  // was measured for the allowlist is what runs, even if the tree is rebuilt meanwhile.
  const entry = kr ? snapshotImage(installed, join(o.baseDir, 'image')) : installed;
  const dirs = new Map(ids.map((id) => [id, join(o.baseDir, id)]));
  const baseEnv = (id: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv => {
    const env: NodeJS.ProcessEnv = { ...process.env, ...(o.envFor?.(id) ?? {}), ...extra };
    if (!o.envFor?.(id).CUSTOS_NODE_TEST_HOOK && !extra.CUSTOS_NODE_TEST_HOOK) delete env.CUSTOS_NODE_TEST_HOOK;
    if (kr) {
      delete env.CUSTOS_NODE_PASSPHRASE;
      Object.assign(env, { CUSTOS_KEY_RELEASE_URL: kr.url, CUSTOS_ENCLAVE: 'development', CUSTOS_ENCLAVE_TRUST_DIR: kr.trustDir });
    } else {
      delete env.CUSTOS_KEY_RELEASE_URL;
      env.CUSTOS_NODE_PASSPHRASE = passphrase;
    }
    return env;
  };
  // What each node's enclave measures; the same function the node runs on itself at start.
  const realEntry = kr ? realpathSync(entry) : entry;
  const measure = (id: string, env: NodeJS.ProcessEnv) => Buffer.from(measureNodeImage({ entry: realEntry, nodeId: id, dataDir: dirs.get(id) as string, testHook: env.CUSTOS_NODE_TEST_HOOK })).toString('hex');
  const measurements = new Map<string, string>();

  const identities: PublicIdentity[] = [];
  for (const id of ids) mkdirSync(dirs.get(id) as string, { recursive: true, mode: 0o700 });
  if (kr) {
    const enrolName = (id: string) => `${id}/enrol`;
    updateDevelopmentAllowlist(kr.trustDir, { set: ids.map((id) => ({ name: enrolName(id), pcr0: Buffer.from(measure(id, baseEnv(id)), 'hex') })), now: Date.now() });
    identities.push(...(await Promise.all(ids.map((id) => enrolProcess(entry, [...(o.entryArgs ?? []), '--id', id, '--data-dir', dirs.get(id) as string, '--enrol'], baseEnv(id), id)))));
  } else {
    for (const id of ids) identities.push(provisionNode({ dir: dirs.get(id) as string, id, passphrase: passphrase as string }));
  }
  for (const id of ids) writeNodeConfig(dirs.get(id) as string, {
    peers: identities, policyPublicKey: o.policyPublicKey, minApprovals: o.minApprovals ?? 1, ...(o.coordinatorKeys?.length ? { coordinatorKeys: o.coordinatorKeys } : {}), approverKeys: o.approverKeys ?? [],
  });
  if (kr) {
    for (const id of ids) measurements.set(id, measure(id, baseEnv(id)));
    updateDevelopmentAllowlist(kr.trustDir, {
      set: ids.map((id) => ({ name: id, pcr0: Buffer.from(measurements.get(id) as string, 'hex') })), remove: ids.map((id) => `${id}/enrol`), now: Date.now(),
    });
  }

  const children = new Map<string, ChildProcess>();
  const endpoints = new Map<string, NodeEndpoint>();

  const launch = (id: string, extraEnv: Record<string, string> = {}): Promise<NodeEndpoint> => new Promise((resolve, reject) => {
    const env = baseEnv(id, extraEnv);
    const args = ['--id', id, '--data-dir', dirs.get(id) as string, '--port', '0', ...(o.host ? ['--host', o.host] : []), ...(o.tls ? ['--tls'] : [])];
    const child = spawn(process.execPath, [entry, ...(o.entryArgs ?? []), ...args], {
      env, stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.set(id, child);
    let buf = '';
    let settled = false;
    const timer = setTimeout(() => {
      if (!settled) {
        settled = true;
        child.kill('SIGKILL');
        reject(new CustosError('mpc_node_start_failed', `node ${id} did not start within 30 s`));
      }
    }, 30_000);
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        o.onLine?.(id, line);
        const m = / listening on (https?:\/\/[^\s]+) /.exec(line);
        if (m && !settled) {
          settled = true;
          clearTimeout(timer);
          const identity = identities.find((x) => x.id === id) as PublicIdentity;
          const url = m[1] as string;
          const tls = url.startsWith('https:') ? { certificate: readFileSync(join(dirs.get(id) as string, TLS_CERTIFICATE_FILE), 'utf8') } : undefined;
          const ep = { id, url, identity, ...(tls ? { tls } : {}) };
          endpoints.set(id, ep);
          resolve(ep);
        }
      }
    });
    let err = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (c: string) => {
      err = (err + c).slice(-2000);
    });
    child.once('exit', (code, signal) => {
      if (!settled) {
        settled = true;
        clearTimeout(timer);
        reject(new CustosError('mpc_node_start_failed', `node ${id} exited (${code ?? signal}) before listening: ${failureLine(err)}`));
      }
    });
  });

  const started = await Promise.allSettled(ids.map((id) => launch(id)));
  const stop = async (): Promise<void> => {
    await Promise.all([...children.values()].map(async (c) => {
      if (c.exitCode !== null || c.signalCode !== null) return;
      c.kill('SIGTERM');
      if (!(await waitExit(c, 3_000))) {
        c.kill('SIGKILL');
        await waitExit(c, 3_000);
      }
    }));
  };
  const failed = started.find((s) => s.status === 'rejected');
  if (failed) {
    await stop();
    throw (failed as PromiseRejectedResult).reason;
  }
  const nodes = ids.map((id) => endpoints.get(id) as NodeEndpoint);
  writeFileSync(join(o.baseDir, CLUSTER_FILE), JSON.stringify({ nodes, policyPublicKey: o.policyPublicKey }, null, 2));
  return {
    nodes, dirs, passphrase, measurements, stop,
    async kill(id) {
      const c = children.get(id);
      if (!c) return;
      c.kill('SIGKILL');
      await waitExit(c, 5_000);
    },
    async restart(id, env) {
      const ep = await launch(id, env);
      const i = nodes.findIndex((n) => n.id === id);
      nodes[i] = ep;
      return ep;
    },
  };
}
