/**
 * Running a signing node as its own OS process (`custos mpc-node`), and provisioning one: the
 * node's data directory holds its store (`node-store.json`, secrets sealed) and its provisioned
 * configuration (`node-config.json`: pinned peer identities, the policy public key, the minimum
 * number of approvals), written by whoever sets up the cluster.
 *
 * Where the node's sealing key comes from:
 * - **key release** (`CUSTOS_KEY_RELEASE_URL`, enclave runtime `CUSTOS_ENCLAVE=development` with
 *   the development attestation root of `CUSTOS_ENCLAVE_TRUST_DIR`): at start the node measures
 *   its code and configuration (`measureNodeImage`), makes an ephemeral key, attests, and asks the
 *   key-release service, which releases the key only for a measurement on the signed allowlist.
 *   A refusal stops the node: it cannot unseal its shares, so it cannot sign.
 * - **passphrase** (`CUSTOS_NODE_PASSPHRASE`): a DEVELOPMENT FALLBACK used only when no
 *   key-release service is configured, and labelled so in every start-up line and health answer.
 *
 * A node is enrolled before its peers are pinned (`enrolNode`, `custos mpc-node --enrol`): it
 * obtains its key, creates its identity inside its store, prints the public half and exits.
 * Its TLS certificate is rotated in two steps while it is stopped (`rotateNodeTls`,
 * `custos mpc-node --rotate-tls` then `--activate-tls`; `tls-rotation.ts`).
 *
 * @example
 *   const enclave = developmentEnclaveWithMeasurement({ dataDir: trustDir, moduleId: 'node-1', measurement });
 *   const identity = await enrolNode({ id: 'node-1', dataDir: dir, keyRelease: { url, enclave } });
 *   writeNodeConfig(dir, { peers, policyPublicKey, minApprovals: 1 });
 *   const running = await runNode({ id: 'node-1', dataDir: dir, port: 0, keyRelease: { url, enclave: remeasured } });
 */
import { completeRestore } from './backup.js';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { systemClock } from '../../core/clock.js';
import { CustosError } from '../../core/errors.js';
import { developmentEnclaveWithMeasurement } from '../../enclave/development-node.js';
import type { Enclave } from '../../enclave/enclave.js';
import { obtainSealingKey } from '../../enclave/key-release-client.js';
import { NitroEnclave } from '../../enclave/nitro-enclave.js';
import { nsmHelperTransport } from '../../enclave/nsm-transport.js';
import { parsePublicIdentity, publicIdentity, type PublicIdentity } from '../transport/identity.js';
import { parseNodeValueRules, parsePinnedApproverKeys, rawMessageDigest, type DeriveDigest, type NodeValueRulesJSON } from './authorization.js';
import { CONFIG_FILE, measureNodeImage } from './measurement.js';
import { startNodeServer, type NodeServer } from './server.js';
import { NodeService, TEST_HOOKS, type NodeConfig, type TestHook } from './service.js';
import { loadTestOnlySafePrimes } from './test-primes.js';
import { NodeStore, STORE_FILE } from './store.js';
import { activateTlsRotation, describeTlsRotation, prepareTlsRotation, TLS_CERTIFICATE_FILE, writeTlsCertificateFiles, type TlsRotationReport } from './tls-rotation.js';

export { CONFIG_FILE, TLS_CERTIFICATE_FILE };

const rng = (n: number): Uint8Array => new Uint8Array(randomBytes(n));

/** How a node reaches key release: the service's URL and the enclave runtime it attests from. */
export interface NodeKeyRelease {
  readonly url: string;
  readonly enclave: Enclave;
  readonly timeoutMs?: number;
}

/** Where a node's sealing key comes from: key release, or (development fallback) a passphrase. */
export interface NodeSealingOptions {
  readonly keyRelease?: NodeKeyRelease | undefined;
  /** DEVELOPMENT FALLBACK, used only when `keyRelease` is not given. */
  readonly passphrase?: string | undefined;
}

/**
 * Opens (or creates) the node's store with a key from key release, or from the development
 * passphrase when no key release is configured. A refused release throws the service's code
 * (e.g. `attestation_measurement`): without the key nothing in the store opens.
 */
export async function openNodeStore(o: NodeSealingOptions & { id: string; dataDir: string }): Promise<NodeStore> {
  const store = await openSealedStore(o);
  try {
    // A store just restored from a backup drops every presignature and pooled prime (backup.ts).
    completeRestore(store, o.dataDir);
  } catch (err) {
    store.close();
    throw err;
  }
  return store;
}

async function openSealedStore(o: NodeSealingOptions & { id: string; dataDir: string }): Promise<NodeStore> {
  if (o.keyRelease) {
    let key: Uint8Array;
    try {
      key = await obtainSealingKey({ url: o.keyRelease.url, enclave: o.keyRelease.enclave, nodeId: o.id, ...(o.keyRelease.timeoutMs ? { timeoutMs: o.keyRelease.timeoutMs } : {}) });
    } catch (err) {
      if (err instanceof CustosError) throw new CustosError(err.code, `node ${o.id} got no sealing key, so its shares stay sealed: ${err.message}`, err.status);
      throw err;
    }
    try {
      return NodeStore.open({ dir: o.dataDir, nodeId: o.id, releasedKey: key, rng });
    } finally {
      key.fill(0);
    }
  }
  if (!o.passphrase) {
    throw new CustosError('node_no_sealing_key', 'configure CUSTOS_KEY_RELEASE_URL (sealing key released after attestation) or, for development only, CUSTOS_NODE_PASSPHRASE');
  }
  return NodeStore.open({ dir: o.dataDir, nodeId: o.id, passphrase: o.passphrase, rng });
}

/**
 * Creates the node's store and identity if absent (DEVELOPMENT FALLBACK: passphrase); returns its
 * public identity. The store is closed again (its directory unlocked) for the node process to open.
 */
export function provisionNode(o: { dir: string; id: string; passphrase: string }): PublicIdentity {
  const store = NodeStore.open({ dir: o.dir, nodeId: o.id, passphrase: o.passphrase, rng });
  try {
    return publicIdentity(store.identity);
  } finally {
    store.close();
  }
}

/** Enrols a node through key release (or the development passphrase): store and identity created if absent, store closed again; the public identity. */
export async function enrolNode(o: NodeSealingOptions & { id: string; dataDir: string }): Promise<PublicIdentity> {
  const store = await openNodeStore(o);
  try {
    return publicIdentity(store.identity);
  } finally {
    store.close();
  }
}

/**
 * One step of a TLS certificate rotation on a stopped node (`tls-rotation.ts`): `prepare` makes a
 * new certificate and key beside the served one, `activate` makes the prepared one the served one.
 * Opens the node's store with its sealing key, so it is refused (`node_dir_locked`) while the node
 * runs; refused as well without a store (`node_store_missing`: nothing is created), before the
 * node ever served TLS (`node_tls_missing`), with a wrong passphrase or key (`node_unseal_failed`),
 * and `activate` without a prepared certificate (`node_tls_not_prepared`).
 */
export async function rotateNodeTls(o: NodeSealingOptions & { id: string; dataDir: string; step: 'prepare' | 'activate'; now?: number }): Promise<TlsRotationReport> {
  if (!existsSync(join(o.dataDir, STORE_FILE))) {
    throw new CustosError('node_store_missing', `no node store in ${o.dataDir}: enrol the node and start it once with --tls before rotating its TLS certificate`, 404);
  }
  const store = await openNodeStore(o);
  try {
    const now = o.now ?? systemClock.now();
    return o.step === 'prepare' ? prepareTlsRotation(store, o.dataDir, now) : activateTlsRotation(store, o.dataDir, now);
  } finally {
    store.close();
  }
}

export function writeNodeConfig(dir: string, c: NodeConfig): void {
  writeFileSync(join(dir, CONFIG_FILE), JSON.stringify(c, null, 2), { mode: 0o600 });
}

/** Reads and validates the provisioned configuration; null when the node is not provisioned yet. */
export function readNodeConfig(dir: string): NodeConfig | null {
  const path = join(dir, CONFIG_FILE);
  if (!existsSync(path)) return null;
  const o = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  if (!Array.isArray(o.peers) || typeof o.policyPublicKey !== 'string' || !/^[0-9a-f]{64}$/.test(o.policyPublicKey)) {
    throw new CustosError('node_bad_config', `${path} must hold peers and a 32-byte hex policyPublicKey`);
  }
  const minApprovals = o.minApprovals ?? 1;
  if (!Number.isSafeInteger(minApprovals) || (minApprovals as number) < 0) throw new CustosError('node_bad_config', 'minApprovals must be an integer ≥ 0');
  const ck = o.coordinatorKeys ?? [];
  if (!Array.isArray(ck) || !ck.every((k) => typeof k === 'string' && /^[0-9a-f]{64}$/.test(k))) {
    throw new CustosError('node_bad_config', 'coordinatorKeys must list 32-byte hex Ed25519 keys');
  }
  return {
    peers: o.peers.map(parsePublicIdentity), policyPublicKey: o.policyPublicKey, minApprovals: minApprovals as number,
    ...(ck.length > 0 ? { coordinatorKeys: ck as string[] } : {}),
    ...(o.tokens === undefined ? {} : { tokens: parseTokens(o.tokens) }),
    ...(o.chainIds === undefined ? {} : { chainIds: parseChainIds(o.chainIds) }),
    ...(o.approverKeys === undefined ? {} : { approverKeys: parsePinnedApproverKeys(o.approverKeys) }),
    ...valueRules(o),
  };
}

/** The value tiers and HSM approval keys of the file, checked now so a bad file stops the node at start. */
function valueRules(o: Record<string, unknown>): Pick<NodeConfig, 'valueTiers' | 'hsmApprovalKeys'> {
  const rules = { valueTiers: o.valueTiers, hsmApprovalKeys: o.hsmApprovalKeys } as NodeValueRulesJSON;
  parseNodeValueRules(rules);
  return { ...(rules.valueTiers ? { valueTiers: rules.valueTiers } : {}), ...(rules.hsmApprovalKeys ? { hsmApprovalKeys: rules.hsmApprovalKeys } : {}) };
}

/** `chainIds` of node-config.json: chain name → the chain id its transactions must carry (e.g. `{ "ethereum": 1 }`). */
function parseChainIds(t: unknown): Record<string, number> {
  if (typeof t !== 'object' || t === null || Array.isArray(t) || !Object.entries(t).every(([k, v]) => /^[a-z0-9-]{1,32}$/.test(k) && Number.isSafeInteger(v) && (v as number) > 0)) {
    throw new CustosError('node_bad_config', 'chainIds must map chain names to positive integer chain ids');
  }
  return { ...(t as Record<string, number>) };
}

/** `tokens` of node-config.json: asset symbol → ERC-20 contract address (checked when a token transfer is signed). */
function parseTokens(t: unknown): Record<string, string> {
  if (typeof t !== 'object' || t === null || Array.isArray(t) || !Object.entries(t).every(([k, v]) => /^[A-Z0-9]{1,16}$/.test(k) && typeof v === 'string' && /^0x[0-9a-fA-F]{40}$/.test(v))) {
    throw new CustosError('node_bad_config', 'tokens must map asset symbols to 0x-prefixed 20-byte contract addresses');
  }
  return { ...(t as Record<string, string>) };
}

export interface RunNodeOptions extends NodeSealingOptions {
  readonly id: string;
  readonly dataDir: string;
  readonly port: number;
  readonly host?: string;
  /** Chain digest derivation (the lead wires the chain modules; default: raw-message signing). */
  readonly deriveDigest?: DeriveDigest;
  readonly testHook?: TestHook | undefined;
  /** Serve HTTPS with the node's own certificate (required on any address but loopback). */
  readonly tls?: boolean | undefined;
}

export interface RunningNode {
  readonly service: NodeService;
  readonly server: NodeServer;
  /** How the store's key was obtained (released after attestation, or the development passphrase). */
  readonly sealingLabel: string;
  /** With TLS: the fingerprint of the certificate served, and of a prepared one waiting for activation. */
  readonly tls?: { readonly fingerprint: string; readonly nextFingerprint?: string } | undefined;
  close(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

export async function runNode(o: RunNodeOptions): Promise<RunningNode> {
  const host = o.host ?? '127.0.0.1';
  if (!LOOPBACK.has(host) && !o.tls) {
    throw new CustosError('node_tls_required', `a node on ${host} (not loopback) must serve TLS: start it with --tls and pin its certificate (${TLS_CERTIFICATE_FILE}) in the cluster file`);
  }
  const store = await openNodeStore(o);
  try {
    const service = new NodeService({
      store, config: readNodeConfig(o.dataDir), clock: systemClock, rng, deriveDigest: o.deriveDigest ?? rawMessageDigest, testHook: o.testHook,
    });
    let tls: { key: string; cert: string } | undefined;
    let served: RunningNode['tls'];
    if (o.tls) {
      const c = store.tlsCredentials(systemClock.now());
      const status = store.tlsStatus() as NonNullable<ReturnType<NodeStore['tlsStatus']>>;
      writeTlsCertificateFiles(o.dataDir, status);
      tls = { key: c.privateKey, cert: c.certificate };
      served = { fingerprint: status.current.fingerprint, ...(status.next ? { nextFingerprint: status.next.fingerprint } : {}) };
    }
    const server = await startNodeServer(service, { host, port: o.port, tls });
    return {
      service, server, sealingLabel: store.sealingLabel, tls: served,
      close: async () => {
        await server.close();
        store.close(); // unlocks the data directory
      },
    };
  } catch (err) {
    store.close();
    throw err;
  }
}

/** The sealing configuration `nodeSealingFromEnv` found: what to pass to `runNode`, and how to describe it. */
export type NodeSealingFromEnv = NodeSealingOptions & {
  /** PCR0 the node attests with (key release only). */
  measurement?: Uint8Array;
  runtime?: 'development' | 'nitro';
  /** Stops what the runtime started (the NSM helper); call once the key is obtained. */
  close?: () => void;
};

/**
 * The sealing configuration of `custos mpc-node` from its environment: with CUSTOS_KEY_RELEASE_URL,
 * key release from the enclave runtime CUSTOS_ENCLAVE: `development` (the default; its root in
 * CUSTOS_ENCLAVE_TRUST_DIR, the data dir `custos init` set up, measuring `entry` and the node's
 * configuration) or `nitro` (inside a Nitro enclave: the NSM through the helper binary
 * CUSTOS_NSM_HELPER, PCR0 as the NSM reports it); without it, the development passphrase
 * CUSTOS_NODE_PASSPHRASE.
 */
export async function nodeSealingFromEnv(env: NodeJS.ProcessEnv, o: { id: string; dataDir: string; entry: string; testHook?: string | undefined }): Promise<NodeSealingFromEnv> {
  const url = env.CUSTOS_KEY_RELEASE_URL;
  if (!url) return { passphrase: env.CUSTOS_NODE_PASSPHRASE };
  const runtime = env.CUSTOS_ENCLAVE ?? 'development';
  if (runtime === 'nitro') {
    const helper = env.CUSTOS_NSM_HELPER;
    if (!helper) throw new CustosError('enclave_unavailable', 'the Nitro runtime needs CUSTOS_NSM_HELPER, the NSM helper binary of the enclave image (see src/enclave/README.md)');
    const nsm = nsmHelperTransport({ command: helper });
    try {
      const enclave = await NitroEnclave.open({ nsm });
      return { keyRelease: { url, enclave }, measurement: enclave.measurement, runtime, close: () => nsm.close() };
    } catch (err) {
      nsm.close();
      throw err;
    }
  }
  if (runtime !== 'development') throw new CustosError('node_bad_config', 'CUSTOS_ENCLAVE must be development or nitro');
  const trustDir = env.CUSTOS_ENCLAVE_TRUST_DIR;
  if (!trustDir) throw new CustosError('node_bad_config', 'the development enclave needs CUSTOS_ENCLAVE_TRUST_DIR: the data dir where custos init made the development attestation root');
  const measurement = measureNodeImage({ entry: realpathSync(o.entry), nodeId: o.id, dataDir: o.dataDir, testHook: o.testHook });
  const enclave = developmentEnclaveWithMeasurement({ dataDir: trustDir, moduleId: `custos-development-${o.id}`, measurement });
  return { keyRelease: { url, enclave }, measurement, runtime };
}

/**
 * The body of `custos mpc-node`: runs until SIGINT/SIGTERM, printing one line when listening
 * (with `enrol`: obtains the key, creates the identity, prints it as one JSON line and returns;
 * with `rotateTls` / `activateTls`: one step of a TLS rotation, `rotateNodeTls`, reported as text
 * or with `json` as one JSON object, and returns).
 */
export async function mpcNodeMain(o: Omit<RunNodeOptions, 'passphrase' | 'keyRelease' | 'testHook'> & {
  enrol?: boolean; rotateTls?: boolean; activateTls?: boolean; json?: boolean; entry?: string;
}): Promise<void> {
  if ([o.enrol, o.rotateTls, o.activateTls].filter((x) => x === true).length > 1) {
    throw new CustosError('node_bad_usage', 'give at most one of --enrol, --rotate-tls and --activate-tls');
  }
  const hook = process.env.CUSTOS_NODE_TEST_HOOK as TestHook | undefined;
  if (process.env.CUSTOS_NODE_TEST_SAFE_PRIMES && process.env.CUSTOS_KEY_RELEASE_URL) {
    // The host chooses the environment: primes it knows would give it this node's Paillier key, and
    // with it k_i, χ_i and finally the key share. TEST-ONLY safe primes are refused on attested nodes.
    throw new CustosError('node_bad_config', 'CUSTOS_NODE_TEST_SAFE_PRIMES is for development nodes only, never with key release (CUSTOS_KEY_RELEASE_URL)');
  }
  if (hook !== undefined && !(TEST_HOOKS as readonly string[]).includes(hook)) throw new CustosError('node_bad_config', 'unknown CUSTOS_NODE_TEST_HOOK');
  const entry = o.entry ?? process.argv[1];
  if (!entry) throw new CustosError('node_bad_config', 'cannot tell which script this node runs (process.argv[1] is empty)');
  const sealing = await nodeSealingFromEnv(process.env, { id: o.id, dataDir: o.dataDir, entry, testHook: hook });
  const how = sealing.measurement ? `key release from the ${sealing.runtime} enclave, PCR0 ${Buffer.from(sealing.measurement).toString('hex').slice(0, 16)}…` : 'DEVELOPMENT FALLBACK passphrase';
  if (o.enrol) {
    const identity = await enrolNode({ id: o.id, dataDir: o.dataDir, ...sealing }).finally(() => sealing.close?.());
    console.log(`custos mpc-node ${o.id} enrolled (${how}): ${JSON.stringify(identity)}`);
    return;
  }
  if (o.rotateTls || o.activateTls) {
    const report = await rotateNodeTls({ id: o.id, dataDir: o.dataDir, ...sealing, step: o.rotateTls ? 'prepare' : 'activate' }).finally(() => sealing.close?.());
    console.log(o.json ? JSON.stringify(report) : `${describeTlsRotation(report, o.dataDir)}\n(sealing: ${how})`);
    return;
  }
  const node = await runNode({ ...o, ...sealing, testHook: hook }).finally(() => sealing.close?.());
  // Handlers before the listening line: a supervisor (or test) that stops the node as soon as it
  // reads that line must get a clean stop that releases the data directory, not a default kill.
  const stopped = new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  const prepared = node.tls?.nextFingerprint ? `; a prepared certificate SHA-256 ${node.tls.nextFingerprint} waits for --activate-tls` : '';
  const tlsNote = node.tls ? `; TLS certificate ${join(o.dataDir, TLS_CERTIFICATE_FILE)} SHA-256 ${node.tls.fingerprint}${prepared}` : '';
  console.log(`custos mpc-node ${o.id} listening on ${node.server.url} (identity ${node.service.identity.signingKey}; sealing: ${node.sealingLabel}; ${how}${tlsNote})`);
  const testPrimes = process.env.CUSTOS_NODE_TEST_SAFE_PRIMES;
  if (testPrimes) console.log(`custos mpc-node ${o.id}: ${loadTestOnlySafePrimes(node.service, testPrimes)}`);
  if (hook) console.log(`custos mpc-node ${o.id}: TEST HOOK ${hook} is active (this node misbehaves on purpose)`);
  await stopped;
  await node.close();
}
