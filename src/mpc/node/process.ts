/**
 * Running a signing node as its own OS process (`custos mpc-node`), and provisioning one: the
 * node's data directory holds its store (`node-store.json`, secrets sealed) and its provisioned
 * configuration (`node-config.json`: pinned peer identities, the policy public key, the minimum
 * number of approvals), written by whoever sets up the cluster.
 *
 * @example
 *   const identity = provisionNode({ dir, id: 'node-1', passphrase });   // creates the identity
 *   writeNodeConfig(dir, { peers, policyPublicKey, minApprovals: 1 });
 *   const running = await runNode({ id: 'node-1', dataDir: dir, port: 0, passphrase });
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { systemClock } from '../../core/clock.js';
import { CustosError } from '../../core/errors.js';
import { parsePublicIdentity, publicIdentity, type PublicIdentity } from '../transport/identity.js';
import { rawMessageDigest, type DeriveDigest } from './authorization.js';
import { startNodeServer, type NodeServer } from './server.js';
import { NodeService, type NodeConfig, type TestHook } from './service.js';
import { SEALING_LABEL } from './seal.js';
import { NodeStore } from './store.js';

export const CONFIG_FILE = 'node-config.json';

const rng = (n: number): Uint8Array => new Uint8Array(randomBytes(n));

/** Creates the node's store and identity if absent; returns its public identity. */
export function provisionNode(o: { dir: string; id: string; passphrase: string }): PublicIdentity {
  return publicIdentity(NodeStore.open({ dir: o.dir, nodeId: o.id, passphrase: o.passphrase, rng }).identity);
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
  };
}

export interface RunNodeOptions {
  readonly id: string;
  readonly dataDir: string;
  readonly port: number;
  readonly host?: string;
  readonly passphrase: string | undefined;
  /** Chain digest derivation (the lead wires the chain modules; default: raw-message signing). */
  readonly deriveDigest?: DeriveDigest;
  readonly testHook?: TestHook | undefined;
}

export interface RunningNode {
  readonly service: NodeService;
  readonly server: NodeServer;
  close(): Promise<void>;
}

export async function runNode(o: RunNodeOptions): Promise<RunningNode> {
  if (!o.passphrase) {
    throw new CustosError('node_bad_passphrase', 'set CUSTOS_NODE_PASSPHRASE: it derives the key that seals this node\'s shares (development default until enclave key release)');
  }
  const host = o.host ?? '127.0.0.1';
  if (host !== '127.0.0.1' && host !== '::1' && host !== 'localhost') {
    throw new CustosError('node_tls_required', 'a node listens on loopback only until TLS between hosts is wired');
  }
  const store = NodeStore.open({ dir: o.dataDir, nodeId: o.id, passphrase: o.passphrase, rng });
  const service = new NodeService({
    store, config: readNodeConfig(o.dataDir), clock: systemClock, rng, deriveDigest: o.deriveDigest ?? rawMessageDigest, testHook: o.testHook,
  });
  const server = await startNodeServer(service, { host, port: o.port });
  return { service, server, close: () => server.close() };
}

/** The body of `custos mpc-node`: runs until SIGINT/SIGTERM, printing one line when listening. */
export async function mpcNodeMain(o: Omit<RunNodeOptions, 'passphrase' | 'testHook'>): Promise<void> {
  const hook = process.env.CUSTOS_NODE_TEST_HOOK;
  if (hook !== undefined && hook !== 'corrupt-signature-share') throw new CustosError('node_bad_config', 'unknown CUSTOS_NODE_TEST_HOOK');
  const node = await runNode({ ...o, passphrase: process.env.CUSTOS_NODE_PASSPHRASE, testHook: hook });
  console.log(`custos mpc-node ${o.id} listening on ${node.server.url} (identity ${node.service.identity.signingKey}; sealing: ${SEALING_LABEL})`);
  if (hook) console.log(`custos mpc-node ${o.id}: TEST HOOK ${hook} is active (this node misbehaves on purpose)`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await node.close();
}
