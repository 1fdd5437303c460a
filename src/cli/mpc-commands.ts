/**
 * The signing-key commands of the `custos` binary: `mpc-node` (run one signing node),
 * `mpc-cluster` (five local node processes on loopback, for the demo), `keygen`, `keys list`,
 * `keys refresh`. The node list comes from `<data-dir>/mpc/cluster.json` (written by
 * `mpc-cluster`) or `--cluster FILE`.
 *
 * @example
 *   registerMpcCommands(program, () => program.opts<{ dataDir?: string }>());
 *   // custos --data-dir .custos mpc-cluster --nodes 5 &   then   custos keygen --scheme ed25519 --threshold 3 --parties 5
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import type { Command } from 'commander';
import { CustosError } from '../core/errors.js';
import { Coordinator, type KeyInfo, type NodeEndpoint } from '../mpc/coordinator/coordinator.js';
import { CLUSTER_FILE, startLocalCluster } from '../mpc/coordinator/local-cluster.js';
import { parsePinnedApproverKeys, type DeriveDigest } from '../mpc/node/authorization.js';
import { mpcNodeMain } from '../mpc/node/process.js';
import { parsePublicIdentity } from '../mpc/transport/identity.js';
import { stopSignal } from './stop-signal.js';

function dataDirOf(common: () => { dataDir?: string }): string {
  return common().dataDir ?? process.env.CUSTOS_DATA_DIR ?? './.custos';
}

/**
 * Reads a cluster file: `{ nodes: [{ id, url, identity, tls? }] }`. A node on loopback may be
 * `http://`; any other address must be `https://` with the node's certificate pinned as
 * `tls: { certificate: "<PEM>" }` (or `tls: { certificateFile: "<path>" }`, relative to the file).
 * During a TLS rotation (`custos mpc-node --rotate-tls`) a node pins several, any of which it may
 * present: `tls: { certificates: ["<PEM>", …] }` or `tls: { certificateFiles: ["<path>", …] }`
 * (all four fields may be combined; the pinned set is their union).
 */
export function readClusterFile(path: string): NodeEndpoint[] {
  if (!existsSync(path)) throw new CustosError('mpc_no_cluster', `no cluster file at ${path}: start nodes with \`custos mpc-cluster\` or pass --cluster`);
  const o = JSON.parse(readFileSync(path, 'utf8')) as { nodes?: unknown };
  if (!Array.isArray(o.nodes)) throw new CustosError('mpc_bad_cluster', `${path} has no node list`);
  return o.nodes.map((n: unknown) => {
    const r = (typeof n === 'object' && n !== null ? n : {}) as Record<string, unknown>;
    const loopbackHttp = typeof r.url === 'string' && /^http:\/\/(127\.0\.0\.1|localhost|\[::1\]):\d+$/.test(r.url);
    const https = typeof r.url === 'string' && /^https:\/\/[A-Za-z0-9.[\]:-]+:\d+$/.test(r.url);
    if (typeof r.id !== 'string' || typeof r.url !== 'string' || (!loopbackHttp && !https)) {
      throw new CustosError('mpc_bad_cluster', `${path}: every node needs an id and a URL: https://host:port, or http:// on loopback only`);
    }
    const pinned = pinnedCertificatesOf(path, r.id, r.tls);
    if (https && pinned.length === 0) throw new CustosError('mpc_bad_cluster', `${path}: node ${r.id} is https but its TLS certificate is not pinned (tls.certificate or tls.certificateFile)`);
    const tls = pinned.length === 1 ? { certificate: pinned[0] as string } : { certificates: pinned };
    return { id: r.id, url: r.url, identity: parsePublicIdentity(r.identity), ...(https ? { tls } : {}) };
  });
}

/** The PEM certificates a cluster-file node entry's `tls` pins: `certificate`, `certificateFile`, `certificates`, `certificateFiles` (paths relative to the file). */
function pinnedCertificatesOf(path: string, id: string, tls: unknown): string[] {
  const t = (typeof tls === 'object' && tls !== null ? tls : {}) as Record<string, unknown>;
  const list = (field: string): string[] => {
    const v = t[field];
    if (v === undefined) return [];
    const many = field.endsWith('s');
    if (many ? !Array.isArray(v) || !v.every((x) => typeof x === 'string') : typeof v !== 'string') {
      throw new CustosError('mpc_bad_cluster', `${path}: node ${id}: tls.${field} must be ${many ? 'a list of strings' : 'a string'}`);
    }
    return many ? (v as string[]) : [v as string];
  };
  const fromFile = (f: string) => readFileSync(resolve(dirname(path), f), 'utf8');
  return [...new Set([...list('certificate'), ...list('certificates'), ...list('certificateFile').map(fromFile), ...list('certificateFiles').map(fromFile)])];
}

/** The coordinator's key: env CUSTOS_COORDINATOR_KEY (hex), else coordinator-key.dev.json beside the cluster file. */
function coordinatorSecret(clusterFile: string): Uint8Array | undefined {
  const env = process.env.CUSTOS_COORDINATOR_KEY;
  if (env) return hexToBytes(env);
  const file = join(dirname(clusterFile), COORDINATOR_KEY_FILE);
  if (!existsSync(file)) return undefined;
  return hexToBytes((JSON.parse(readFileSync(file, 'utf8')) as { secretKey: string }).secretKey);
}

const COORDINATOR_KEY_FILE = 'coordinator-key.dev.json';

function devKey(file: string, warning: string): { secretKey: string; publicKey: string } {
  if (!existsSync(file)) {
    const secret = new Uint8Array(randomBytes(32));
    writeFileSync(file, JSON.stringify({ warning, secretKey: bytesToHex(secret), publicKey: bytesToHex(ed25519.getPublicKey(secret)) }, null, 2), { mode: 0o600 });
  }
  return JSON.parse(readFileSync(file, 'utf8')) as { secretKey: string; publicKey: string };
}

function coordinatorFrom(path: string, quiet = false): Coordinator {
  const secretKey = coordinatorSecret(path);
  return new Coordinator({
    nodes: readClusterFile(path),
    ...(secretKey ? { secretKey } : {}),
    onProgress: quiet ? undefined : (line) => console.log(line),
    onCulprit: (a) => console.error(`ALERT: node ${a.node} identified as cheating (${a.code}) in session ${a.session.slice(0, 16)}…; excluded`),
  });
}

function printKeys(keys: readonly KeyInfo[]): void {
  if (keys.length === 0) {
    console.log('no keys');
    return;
  }
  for (const k of keys) {
    console.log(`${k.keyId}  ${k.suite} ${k.threshold}-of-${k.parties.length}  generation ${k.generation}  holders ${k.holders.join(',')}  public key ${k.publicKey}`);
  }
}

export interface MpcCommandOptions {
  /** The chain modules' digest derivation for `custos mpc-node` (default: raw-message signing). */
  readonly deriveDigest?: DeriveDigest;
}

export function registerMpcCommands(program: Command, common: () => { dataDir?: string }, options: MpcCommandOptions = {}): void {
  const clusterPath = (o: { cluster?: string }) => o.cluster ?? join(dataDirOf(common), 'mpc', CLUSTER_FILE);

  program
    .command('mpc-node')
    .description('run one signing node (store and sealed shares under --data-dir); sealing key from key release after attestation (CUSTOS_KEY_RELEASE_URL, CUSTOS_ENCLAVE_TRUST_DIR), or the DEVELOPMENT FALLBACK CUSTOS_NODE_PASSPHRASE')
    .requiredOption('--id <id>', 'node id (A–Z a–z 0–9 _ . -)')
    .option('--port <port>', 'port (0 = any free port, printed)', (v) => Number(v), 0)
    .option('--host <host>', 'address to listen on (any but loopback needs --tls)', '127.0.0.1')
    .option('--tls', 'serve HTTPS (TLS 1.3) with the node\'s own certificate, made on first use, key sealed in its store; the certificate is written to <data-dir>/tls-certificate.pem for the cluster file')
    .option('--enrol', 'obtain the sealing key, create the identity, print it (one JSON line) and exit')
    .option('--rotate-tls', 'node stopped: prepare a new TLS certificate (key sealed in the store) beside the served one, print both and exit; pin both in the cluster file, then --activate-tls')
    .option('--activate-tls', 'node stopped: make the prepared TLS certificate the one served from the next start (the replaced one is kept as previous), print it and exit')
    .option('--json', 'with --rotate-tls / --activate-tls: print the report as one JSON object (clusterTls: the node\'s "tls" for the cluster file)')
    .action(async (o: { id: string; port: number; host: string; tls?: boolean; enrol?: boolean; rotateTls?: boolean; activateTls?: boolean; json?: boolean }) => {
      await mpcNodeMain({
        id: o.id, dataDir: dataDirOf(common), port: o.port, host: o.host, tls: o.tls === true, enrol: o.enrol === true,
        rotateTls: o.rotateTls === true, activateTls: o.activateTls === true, json: o.json === true, ...(options.deriveDigest ? { deriveDigest: options.deriveDigest } : {}),
      });
    });

  program
    .command('mpc-cluster')
    .description('start n signing-node processes on loopback under <data-dir>/mpc and keep them running (demo)')
    .option('--nodes <n>', 'number of nodes', (v) => Number(v), 5)
    .option('--policy-public-key <hex>', 'Ed25519 public key of the policy key that signs authorizations (env CUSTOS_POLICY_PUBLIC_KEY)')
    .option('--min-approvals <n>', 'distinct approvals by pinned approvers, with valid signatures, every authorization must carry', (v) => Number(v), 1)
    .option('--approver-keys <file>', 'approval public keys the nodes pin: the JSON of `custos approvers list --json` (without it no approval counts, so a minimum above 0 refuses everything)')
    .option('--key-release-url <url>', 'every node gets its sealing key through attestation from this key-release service (`custos key-release serve` on the same data dir; env CUSTOS_KEY_RELEASE_URL); without it a DEVELOPMENT FALLBACK passphrase')
    .action(async (o: { nodes: number; policyPublicKey?: string; minApprovals: number; approverKeys?: string; keyReleaseUrl?: string }) => {
      const listed = o.approverKeys ? (JSON.parse(readFileSync(o.approverKeys, 'utf8')) as { revokedAt?: unknown }[]) : [];
      const approverKeys = parsePinnedApproverKeys(Array.isArray(listed) ? listed.filter((k) => k?.revokedAt === undefined || k.revokedAt === null) : listed);
      if (approverKeys.length === 0 && o.minApprovals > 0) console.log(`no approver keys pinned (--approver-keys): the nodes will refuse every authorization (--min-approvals ${o.minApprovals})`);
      const base = join(dataDirOf(common), 'mpc');
      mkdirSync(base, { recursive: true, mode: 0o700 });
      let policyPublicKey = o.policyPublicKey ?? process.env.CUSTOS_POLICY_PUBLIC_KEY;
      if (!policyPublicKey) {
        const file = join(base, 'policy-key.dev.json');
        policyPublicKey = devKey(file, 'DEVELOPMENT policy key kept in a file; production keeps it in the HSM').publicKey;
        console.log(`policy key: DEVELOPMENT key from ${file}`);
      }
      const coordinatorKey = process.env.CUSTOS_COORDINATOR_KEY
        ? bytesToHex(ed25519.getPublicKey(hexToBytes(process.env.CUSTOS_COORDINATOR_KEY)))
        : devKey(join(base, COORDINATOR_KEY_FILE), 'DEVELOPMENT coordinator key kept in a file').publicKey;
      const keyReleaseUrl = o.keyReleaseUrl ?? process.env.CUSTOS_KEY_RELEASE_URL;
      const passphrase = keyReleaseUrl ? undefined : process.env.CUSTOS_NODE_PASSPHRASE;
      if (keyReleaseUrl) console.log(`sealing keys: key release from ${keyReleaseUrl} after attestation (development enclave, trust material in ${dataDirOf(common)})`);
      else if (!passphrase) console.log('DEVELOPMENT FALLBACK: no --key-release-url and CUSTOS_NODE_PASSPHRASE unset: the nodes seal with a fresh random passphrase that lives only in this process (shares unreadable after it exits)');
      const cluster = await startLocalCluster({
        baseDir: base, n: o.nodes, policyPublicKey, minApprovals: o.minApprovals, approverKeys, coordinatorKeys: [coordinatorKey], ...(passphrase ? { passphrase } : {}),
        ...(keyReleaseUrl ? { keyRelease: { url: keyReleaseUrl, trustDir: dataDirOf(common) } } : {}),
      });
      const stopped = stopSignal();
      for (const n of cluster.nodes) console.log(`${n.id}  ${n.url}  identity ${n.identity.signingKey}`);
      console.log(`cluster file ${join(base, CLUSTER_FILE)}; Ctrl-C stops the nodes`);
      await stopped;
      await cluster.stop();
    });

  program
    .command('keygen')
    .description('distributed key generation across the nodes (every party takes part; progress on stdout)')
    .requiredOption('--scheme <scheme>', 'ed25519 (Solana) | schnorr (BIP-340, Taproot) | ecdsa (CGGMP21: Ethereum, Bitcoin P2WPKH; each node makes a Paillier modulus: tens of seconds)')
    .requiredOption('--threshold <t>', 'signers needed (t)', (v) => Number(v))
    .requiredOption('--parties <n>', 'number of nodes holding a share (the first n of the cluster)', (v) => Number(v))
    .option('--key-id <id>', 'name of the key (default: scheme + random suffix)')
    .option('--cluster <file>', 'cluster file (default <data-dir>/mpc/cluster.json)')
    .option('--json', 'print the key as JSON only')
    .action(async (o: { scheme: string; threshold: number; parties: number; keyId?: string; cluster?: string; json?: boolean }) => {
      if (!['ed25519', 'schnorr', 'ecdsa'].includes(o.scheme)) throw new CustosError('mpc_unsupported_scheme', '--scheme must be ed25519, schnorr or ecdsa');
      const nodes = readClusterFile(clusterPath(o));
      if (!Number.isSafeInteger(o.parties) || o.parties < 2 || o.parties > nodes.length) {
        throw new CustosError('mpc_bad_parties', `--parties must be between 2 and the ${nodes.length} nodes of the cluster`);
      }
      const coordinator = coordinatorFrom(clusterPath(o), o.json);
      // Audited, fail closed: without the database (DATABASE_URL, else PGlite under the data dir) no key is made.
      const { openConfiguredDb } = await import('./env.js');
      const { auditedKeygen } = await import('../mpc/coordinator/audited-keygen.js');
      const db = await openConfiguredDb(common());
      try {
        const key = await auditedKeygen(db, coordinator, {
          scheme: o.scheme as 'ed25519' | 'schnorr' | 'ecdsa', threshold: o.threshold, parties: nodes.slice(0, o.parties).map((n) => n.id), ...(o.keyId ? { keyId: o.keyId } : {}),
        }, 'operator:cli');
        if (o.json) console.log(JSON.stringify(key));
      } finally {
        await db.close();
      }
    });

  const backup = program.command('backup').description("a signing node's sealed store, journal and configuration, with its public keys (no secret leaves sealed)");
  backup
    .command('create')
    .description('copy a stopped or running node\'s data directory into one file')
    .requiredOption('--data-dir <dir>', "the node's data directory")
    .requiredOption('--out <file>', 'where to write the backup (JSON)')
    .action(async (o: { dataDir: string; out: string }) => {
      const { createNodeBackup } = await import('../mpc/node/backup.js');
      const b = createNodeBackup(o.dataDir);
      writeFileSync(o.out, JSON.stringify(b), { mode: 0o600 });
      console.log(`backup of ${b.nodeId} → ${o.out}: ${b.keys.map((k) => `${k.keyId} (${k.suite} ${k.threshold}-of-n, ${k.publicKey.slice(0, 16)}…)`).join(', ') || 'no keys'}`);
    });
  backup
    .command('restore')
    .description('bring a wiped node back from a backup: same identity and keys; its stored presignatures are dropped at the next start')
    .requiredOption('--in <file>', 'the backup file')
    .requiredOption('--data-dir <dir>', "the node's (wiped) data directory")
    .option('--force', 'overwrite an existing node store')
    .action(async (o: { in: string; dataDir: string; force?: boolean }) => {
      const { restoreNodeBackup } = await import('../mpc/node/backup.js');
      const b = restoreNodeBackup(JSON.parse(readFileSync(o.in, 'utf8')), o.dataDir, { force: o.force === true });
      console.log(`restored ${b.nodeId} into ${o.dataDir} (backup of ${new Date(b.createdAt).toISOString()}); start the node: it gets its sealing key as before and drops its stored presignatures`);
    });

  const keys = program.command('keys').description('threshold signing keys held by the nodes');
  keys
    .command('list')
    .option('--cluster <file>', 'cluster file (default <data-dir>/mpc/cluster.json)')
    .option('--json', 'JSON output')
    .action(async (o: { cluster?: string; json?: boolean }) => {
      const list = await coordinatorFrom(clusterPath(o), true).listKeys();
      if (o.json) console.log(JSON.stringify(list));
      else printKeys(list);
    });
  keys
    .command('refresh')
    .description('proactive share refresh (all holders; the public key stays, old shares stop working)')
    .requiredOption('--key-id <id>', 'key to refresh')
    .option('--cluster <file>', 'cluster file (default <data-dir>/mpc/cluster.json)')
    .action(async (o: { keyId: string; cluster?: string }) => {
      await coordinatorFrom(clusterPath(o)).refresh({ keyId: o.keyId });
    });
}

/**
 * `custos bench mpc [--json]`: five node processes on loopback per scheme family. FROST (Ed25519,
 * BIP-340) through `runFrostClusterBench`, threshold ECDSA (CGGMP21) through `runEcdsaClusterBench`;
 * one JSON object, also written to bench/results/mpc.json.
 */
export function registerMpcBench(bench: Command): void {
  bench
    .command('mpc')
    .description('threshold signing end to end through the coordinator, five node processes: FROST 3-of-5 (Ed25519, BIP-340), CGGMP21 keygen, presigning and online signing from a pooled presignature')
    .option('--json', 'print one JSON object')
    .option('--iterations <n>', 'FROST signatures per scheme', (v) => Number(v), 50)
    .option('--ecdsa-iterations <n>', 'threshold ECDSA signatures (each needs one presignature, made before timing)', (v) => Number(v), 30)
    .action(async (o: { json?: boolean; iterations: number; ecdsaIterations: number }) => {
      const { runFrostClusterBench } = await import('../mpc/coordinator/bench.js');
      const { runEcdsaClusterBench } = await import('../mpc/coordinator/ecdsa-bench.js');
      const { writeResult } = await import('./bench-results.js');
      const say = (l: string) => {
        if (!o.json) console.log(l);
      };
      say('FROST 3-of-5 (Ed25519, BIP-340)…');
      const frost = await runFrostClusterBench({ iterations: o.iterations });
      say('CGGMP21 3-of-5: key generation (each node generates its safe primes), presigning, online signing…');
      const ecdsa = await runEcdsaClusterBench({ iterations: o.ecdsaIterations });
      const r = {
        nodes: 5, threshold: 3,
        ecdsa_sign_p50_ms: ecdsa.ecdsa_sign_p50_ms, ecdsa_sign_p99_ms: ecdsa.ecdsa_sign_p99_ms, ecdsa_keygen_s: ecdsa.ecdsa_keygen_s, ecdsa_presign_s: ecdsa.ecdsa_presign_s,
        frost_ed25519_sign_p50_ms: frost.frost_ed25519_sign_p50_ms, frost_ed25519_sign_p99_ms: frost.frost_ed25519_sign_p99_ms,
        frost_schnorr_sign_p50_ms: frost.frost_schnorr_sign_p50_ms, frost_schnorr_sign_p99_ms: frost.frost_schnorr_sign_p99_ms, frost_keygen_s: frost.frost_keygen_s,
        single_key_sign_ms: ecdsa.single_key_sign_ms, frost_iterations: frost.iterations, ecdsa_iterations: ecdsa.iterations,
      };
      const path = writeResult('mpc', { bench: 'mpc', ...r });
      console.log(o.json ? JSON.stringify(r) : `${JSON.stringify(r, null, 2)}\n→ ${path}`);
    });
}
