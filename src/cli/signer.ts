/**
 * The signer role (`custos signer`, and inside `custos server` when signing nodes are configured):
 * the signing worker (approved → signed), the broadcast worker (signed → broadcast → confirmed |
 * failed) for every chain with a configured endpoint, and the scheduled key refresh. Configuration:
 *
 *   cluster file               --cluster, CUSTOS_MPC_CLUSTER, or <data-dir>/mpc/cluster.json (custos mpc-cluster)
 *   CUSTOS_POLICY_SECRET_KEY   policy service key (hex Ed25519 secret); else the DEVELOPMENT key file
 *                              <cluster dir>/policy-key.dev.json that `custos mpc-cluster` wrote
 *   CUSTOS_COORDINATOR_KEY     coordinator key (hex); else <cluster dir>/coordinator-key.dev.json
 *   CUSTOS_SOLANA_RPC_URL      Solana JSON-RPC: recent blockhashes for signing, broadcast and status
 *   CUSTOS_SOLANA_BLOCKHASH    without an endpoint: a fixed blockhash to sign offline (never broadcast)
 *   CUSTOS_ETHEREUM_RPC_URL    Ethereum JSON-RPC: broadcast, receipts (and the chain id when not set)
 *   CUSTOS_ETHEREUM_CHAIN_ID   chain id to sign for (required without an endpoint)
 *   CUSTOS_BITCOIN_RPC_URL     Bitcoin Core JSON-RPC: UTXOs (scantxoutset), broadcast, confirmations
 *   CUSTOS_CONFIRMATIONS_<CHAIN>  confirmations before `confirmed` (defaults 12 / 6 / 1)
 *   CUSTOS_KEY_REFRESH_EVERY_S refresh every key's shares this often (unset: no scheduled refresh)
 *
 * A chain with neither an endpoint nor offline settings is not signed here; a chain without an
 * endpoint is signed but its withdrawals stay `signed`, and `describe` says so.
 *
 * @example
 *   const signer = await startSigner({ db, dataDir: '.custos', env: process.env, onLine: console.log });
 *   await signer.stop();
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { hexToBytes } from '@noble/hashes/utils.js';
import { base58 } from '@scure/base';
import { bitcoinBroadcaster, bitcoinFacts, ethereumBroadcaster, solanaBroadcaster, solanaFacts, type Broadcaster } from '../chains/broadcast.js';
import { BroadcastWorker } from '../chains/broadcast-worker.js';
import type { ChainFacts } from '../chains/plan.js';
import { endpointLabel, httpJsonRpc } from '../chains/rpc.js';
import type { Chain } from '../core/chain.js';
import { CustosError } from '../core/errors.js';
import { policyAuthorizer } from '../mpc/coordinator/authorize.js';
import { Coordinator } from '../mpc/coordinator/coordinator.js';
import { startRefreshSchedule, type RefreshSchedule } from '../mpc/coordinator/refresh-schedule.js';
import { SigningWorker, type SigningEvent } from '../mpc/coordinator/worker.js';
import type { Db } from '../store/db.js';
import { readClusterFile } from './mpc-commands.js';

export interface SignerOptions {
  readonly db: Db;
  readonly dataDir: string;
  readonly env: NodeJS.ProcessEnv;
  /** Cluster file (default: CUSTOS_MPC_CLUSTER or <data-dir>/mpc/cluster.json). */
  readonly clusterFile?: string;
  /** Only these withdrawals (operators signing one by hand; the demo). */
  readonly only?: readonly string[];
  readonly onLine?: (line: string) => void;
  readonly onSigned?: (e: Extract<SigningEvent, { kind: 'signed' }>) => void;
  /** Signing rounds every (default 1 s). */
  readonly intervalMs?: number;
  /** false: start nothing on a timer (the caller runs `signing.runOnce()` / `broadcast.runOnce()`). */
  readonly loops?: boolean;
  /** Fault tests only: see `SigningWorkerOptions.testHook`. */
  readonly testHook?: ConstructorParameters<typeof SigningWorker>[0]['testHook'];
}

export interface Signer {
  readonly coordinator: Coordinator;
  readonly signing: SigningWorker;
  readonly broadcast: BroadcastWorker;
  /** What runs, per chain (printable). */
  readonly describe: string[];
  stop(): Promise<void>;
}

/** The cluster file the signer uses, or null when none is configured. */
export function signerClusterFile(dataDir: string, env: NodeJS.ProcessEnv, explicit?: string): string | null {
  const path = explicit || env.CUSTOS_MPC_CLUSTER || join(dataDir, 'mpc', 'cluster.json');
  return existsSync(path) ? path : explicit || env.CUSTOS_MPC_CLUSTER ? path : null;
}

function devSecret(file: string): Uint8Array | null {
  if (!existsSync(file)) return null;
  const o = JSON.parse(readFileSync(file, 'utf8')) as { secretKey?: unknown };
  if (typeof o.secretKey !== 'string' || !/^[0-9a-f]{64}$/.test(o.secretKey)) throw new CustosError('signer_bad_key_file', `${file} holds no 32-byte hex secretKey`);
  return hexToBytes(o.secretKey);
}

function hexKey(name: string, v: string): Uint8Array {
  if (!/^[0-9a-fA-F]{64}$/.test(v)) throw new CustosError('signer_bad_key', `${name} must be 64 hex characters`);
  return hexToBytes(v.toLowerCase());
}

export interface ChainSetup {
  readonly facts: ChainFacts;
  readonly broadcasters: Partial<Record<Chain, Broadcaster>>;
  readonly confirmations: Partial<Record<Chain, number>>;
  readonly describe: string[];
}

/** Chain facts and broadcasters from the environment (see the module comment). */
export async function chainSetupFromEnv(env: NodeJS.ProcessEnv): Promise<ChainSetup> {
  const facts: { -readonly [K in keyof ChainFacts]: ChainFacts[K] } = {};
  const broadcasters: Partial<Record<Chain, Broadcaster>> = {};
  const confirmations: Partial<Record<Chain, number>> = {};
  const describe: string[] = [];
  const stays = 'no endpoint: signed withdrawals stay signed (not broadcast)';

  if (env.CUSTOS_SOLANA_RPC_URL) {
    const rpc = httpJsonRpc(env.CUSTOS_SOLANA_RPC_URL);
    facts.solana = solanaFacts(rpc);
    broadcasters.solana = solanaBroadcaster(rpc);
    describe.push(`solana: signing with blockhashes from ${endpointLabel(env.CUSTOS_SOLANA_RPC_URL)}, broadcast there`);
  } else if (env.CUSTOS_SOLANA_BLOCKHASH) {
    const blockhash = env.CUSTOS_SOLANA_BLOCKHASH;
    if (base58.decode(blockhash).length !== 32) throw new CustosError('signer_bad_blockhash', 'CUSTOS_SOLANA_BLOCKHASH must be 32 bytes of base58');
    facts.solana = { recentBlockhash: async () => ({ blockhash }) };
    describe.push(`solana: signing OFFLINE with the fixed blockhash ${blockhash} (CUSTOS_SOLANA_BLOCKHASH); ${stays}`);
  } else {
    describe.push('solana: not signed here (set CUSTOS_SOLANA_RPC_URL, or CUSTOS_SOLANA_BLOCKHASH to sign offline)');
  }

  const ethRpc = env.CUSTOS_ETHEREUM_RPC_URL ? httpJsonRpc(env.CUSTOS_ETHEREUM_RPC_URL) : null;
  let chainId = env.CUSTOS_ETHEREUM_CHAIN_ID ? Number(env.CUSTOS_ETHEREUM_CHAIN_ID) : undefined;
  if (chainId === undefined && ethRpc) chainId = Number(BigInt(String(await ethRpc.request('eth_chainId', []))));
  if (chainId !== undefined) {
    if (!Number.isSafeInteger(chainId) || chainId < 1) throw new CustosError('signer_bad_chain_id', 'CUSTOS_ETHEREUM_CHAIN_ID must be a positive integer');
    facts.ethereum = { chainId };
    if (ethRpc) broadcasters.ethereum = ethereumBroadcaster(ethRpc);
    describe.push(`ethereum: signing for chain id ${chainId}; ${ethRpc ? `broadcast to ${endpointLabel(env.CUSTOS_ETHEREUM_RPC_URL as string)}` : stays}`);
  } else {
    describe.push('ethereum: not signed here (set CUSTOS_ETHEREUM_RPC_URL or CUSTOS_ETHEREUM_CHAIN_ID)');
  }

  if (env.CUSTOS_BITCOIN_RPC_URL) {
    const rpc = httpJsonRpc(env.CUSTOS_BITCOIN_RPC_URL);
    const network = (env.CUSTOS_BITCOIN_NETWORK ?? 'mainnet') as 'mainnet' | 'testnet' | 'regtest';
    facts.bitcoin = bitcoinFacts(rpc, network);
    broadcasters.bitcoin = bitcoinBroadcaster(rpc);
    describe.push(`bitcoin (${network}): UTXOs from, and broadcast to, ${endpointLabel(env.CUSTOS_BITCOIN_RPC_URL)}`);
  } else {
    describe.push('bitcoin: not signed here (set CUSTOS_BITCOIN_RPC_URL: UTXOs come from the node)');
  }

  for (const chain of ['ethereum', 'bitcoin', 'solana'] as const) {
    const v = env[`CUSTOS_CONFIRMATIONS_${chain.toUpperCase()}`];
    if (v !== undefined) confirmations[chain] = Number(v);
  }
  return { facts, broadcasters, confirmations, describe };
}

export async function startSigner(o: SignerOptions): Promise<Signer> {
  const clusterFile = o.clusterFile ?? signerClusterFile(o.dataDir, o.env);
  if (!clusterFile) throw new CustosError('signer_no_cluster', 'no signing nodes configured: start them with `custos mpc-cluster` or set CUSTOS_MPC_CLUSTER');
  const dir = dirname(clusterFile);
  const policySecretKey = o.env.CUSTOS_POLICY_SECRET_KEY ? hexKey('CUSTOS_POLICY_SECRET_KEY', o.env.CUSTOS_POLICY_SECRET_KEY) : devSecret(join(dir, 'policy-key.dev.json'));
  if (!policySecretKey) throw new CustosError('signer_no_policy_key', 'no policy key: set CUSTOS_POLICY_SECRET_KEY (hex) or create the development key with `custos mpc-cluster`');
  const coordinatorSecret = o.env.CUSTOS_COORDINATOR_KEY ? hexKey('CUSTOS_COORDINATOR_KEY', o.env.CUSTOS_COORDINATOR_KEY) : devSecret(join(dir, 'coordinator-key.dev.json'));
  const say = (l: string) => o.onLine?.(l);
  const coordinator = new Coordinator({
    nodes: readClusterFile(clusterFile),
    ...(coordinatorSecret ? { secretKey: coordinatorSecret } : {}),
    onCulprit: (a) => say(`ALERT: node ${a.node} identified as cheating (${a.code}) in session ${a.session.slice(0, 16)}…; excluded`),
  });
  const chains = await chainSetupFromEnv(o.env);
  const signing = new SigningWorker({
    db: o.db, coordinator, facts: chains.facts, authorize: policyAuthorizer({ db: o.db, policySecretKey }),
    ...(o.only ? { only: o.only } : {}), ...(o.testHook ? { testHook: o.testHook } : {}),
    onEvent: (e) => {
      if (e.kind === 'signed') {
        say(`signed ${e.withdrawalId}: tx ${e.txHash} by ${e.signers.join(', ')}${e.recovered ? ' (recovered after an interrupted session)' : ''}`);
        o.onSigned?.(e);
      } else if (e.kind === 'failed') say(`failed ${e.withdrawalId}: ${e.code}: ${e.message}`);
      else say(`deferred ${e.withdrawalId}: ${e.code} (retry at ${new Date(e.retryAt).toISOString()})`);
    },
  });
  const broadcast = new BroadcastWorker({
    db: o.db, broadcasters: chains.broadcasters, confirmations: chains.confirmations,
    onEvent: (e) => {
      if (e.to) say(`${e.from} → ${e.to} ${e.withdrawalId}: ${e.detail}`);
    },
  });
  const interval = o.intervalMs ?? 1_000;
  const loops = o.loops ?? true;
  const stopSigning = loops ? signing.start(interval, (err) => say(`signing round failed: ${err instanceof Error ? err.message : 'error'}`)) : async () => {};
  const stopBroadcast = loops ? broadcast.start(interval, (err) => say(`broadcast pass failed: ${err instanceof Error ? err.message : 'error'}`)) : async () => {};
  let refresh: RefreshSchedule | null = null;
  const describe = [`signing nodes: ${readClusterFile(clusterFile).length} from ${clusterFile}`, ...chains.describe];
  if (o.env.CUSTOS_KEY_REFRESH_EVERY_S && loops) {
    const everyMs = Number(o.env.CUSTOS_KEY_REFRESH_EVERY_S) * 1000;
    refresh = startRefreshSchedule({
      coordinator, db: o.db, everyMs,
      onRefreshed: (k) => say(`key ${k.keyId} refreshed: generation ${k.generation}`),
      onError: (keyId, err) => say(`refresh of ${keyId} failed: ${err instanceof Error ? err.message : 'error'}`),
    });
    describe.push(`key refresh: every ${everyMs / 1000} s (audited)`);
  } else {
    describe.push('key refresh: on demand only (custos keys refresh; CUSTOS_KEY_REFRESH_EVERY_S schedules it)');
  }
  return {
    coordinator, signing, broadcast, describe,
    async stop() {
      await Promise.all([stopSigning(), stopBroadcast(), refresh?.stop()]);
    },
  };
}
