/**
 * The demo's last step: the withdrawal that went through review, approved by 2 of 3 approvers with
 * their approval keys, signed 3-of-5 by five signing-node processes through the production path.
 * Starts five `custos mpc-node` processes (through bin/custos.js, so every node derives what it
 * signs with the chain-aware digest: it parses the Solana message and checks destination and
 * amount against the authorization), pins the approvers' approval public keys in every node,
 * generates a FROST Ed25519 key 3-of-5, binds it to the Solana hot-wallet account, and lets the
 * signing worker take the withdrawal from `approved` to `signed` (`demo-outbound.ts`: claim, unsigned
 * transfer, authorization from issueSigningAuthorization with the stored approvals, session, signed
 * transaction and hash stored, audited). Then shows that the policy key alone cannot move the same
 * approvals onto another amount, and stops every node. Nothing is broadcast: the blockhash is a
 * fixed placeholder, there is no network.
 *
 * @example
 *   const lines = await demoThresholdSigning({ db, dataDir: '.custos', withdrawal, approverKeys });
 *   for (const l of lines) console.log(l); */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { base58 } from '@scure/base';
import { solanaAddressBytes } from '../chains/solana/address.js';
import { buildUnsigned, signingDigest } from '../chains/solana/tx.js';
import { systemClock, type Clock } from '../core/clock.js';
import { CustosError } from '../core/errors.js';
import { Coordinator } from '../mpc/coordinator/coordinator.js';
import { startLocalCluster, type LocalCluster } from '../mpc/coordinator/local-cluster.js';
import { parseSignedAuthorization, signAuthorization, type PinnedApproverKey } from '../mpc/node/authorization.js';
import { chainDigest } from '../mpc/node/chain-digest.js';
import { auditedKeygen } from '../mpc/coordinator/audited-keygen.js';
import type { Db } from '../store/db.js';
import { getOutbound } from '../store/outbound.js';
import { demoSignWithWorker } from './demo-outbound.js';
import { startDemoKeyRelease, type DemoKeyRelease } from './demo-key-release.js';
import type { WithdrawalRecord } from '../store/withdrawals.js';

export interface DemoSigningOptions {
  readonly dataDir: string;
  /** An approved Solana withdrawal (amount in lamports, destination base58). */
  readonly withdrawal: WithdrawalRecord;
  /** The approvers' approval public keys, pinned in every node (the nodes require 2 distinct valid approvals). */
  readonly approverKeys: readonly PinnedApproverKey[];
  readonly clock?: Clock;
  /** The demo's database (holds the withdrawal and its approvals): the signing worker works on it; key-release decisions go to its audit log and refusals to its alerts outbox. */
  readonly db: Db;
}

/**
 * A fixed placeholder for the recent blockhash (SHA-256 of a label, base58): the transaction is
 * never broadcast, so no real blockhash is fetched.
 */
export const PLACEHOLDER_BLOCKHASH = base58.encode(sha256(utf8ToBytes('custos demo: placeholder blockhash, not from any cluster')));

const THRESHOLD = 3;
const PARTIES = 5;
const MIN_APPROVALS = 2;

/** bin/custos.js of this package, from src/cli or dist/cli (both two levels below the root). */
function custosBin(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'custos.js');
}

/**
 * Pids of the node processes, read from /proc (Linux): the child of this process whose command
 * line carries `--data-dir <dir>`. Empty map where /proc is absent.
 */
function nodePids(dirs: ReadonlyMap<string, string>): Map<string, number> {
  const out = new Map<string, number>();
  if (!existsSync('/proc/self/stat')) return out;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let args: string[];
    let ppid: number;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      args = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
    } catch {
      continue; // exited meanwhile, or not ours to read
    }
    if (ppid !== process.pid) continue;
    const i = args.indexOf('--data-dir');
    const dir = i >= 0 ? args[i + 1] : undefined;
    for (const [id, d] of dirs) if (dir === d) out.set(id, Number(name));
  }
  return out;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function demoThresholdSigning(opts: DemoSigningOptions): Promise<string[]> {
  const clock = opts.clock ?? systemClock;
  const lines: string[] = [];
  const w = opts.withdrawal;
  if (w.chain !== 'solana' || w.amount === null) throw new CustosError('mpc_demo_unsupported', 'the demo signs Solana withdrawals with an amount');
  solanaAddressBytes(w.to); // refuses a bad destination before any process starts
  const entry = custosBin();
  if (!existsSync(join(dirname(entry), '..', 'dist', 'cli', 'main.js'))) {
    throw new CustosError('mpc_not_built', 'dist/ is missing: run npm run build');
  }
  const root = join(opts.dataDir, 'mpc-demo');
  mkdirSync(root, { recursive: true, mode: 0o700 });
  const baseDir = mkdtempSync(join(root, 'run-'));
  // Per-run keys: the policy key issues the authorization, the coordinator key authenticates calls.
  const policySecret = new Uint8Array(randomBytes(32));
  const coordinatorSecret = new Uint8Array(randomBytes(32));

  let cluster: LocalCluster | undefined;
  let keyRelease: DemoKeyRelease | undefined;
  let pids = new Map<string, number>();
  try {
    // Every node gets its sealing key only through attestation and key release (no passphrase).
    keyRelease = await startDemoKeyRelease({ dataDir: opts.dataDir, db: opts.db, nodeIds: Array.from({ length: PARTIES }, (_, i) => `node-${i + 1}`) });
    cluster = await startLocalCluster({
      baseDir, n: PARTIES, keyRelease: { url: keyRelease.url, trustDir: keyRelease.trustDir }, minApprovals: MIN_APPROVALS, approverKeys: opts.approverKeys,
      policyPublicKey: bytesToHex(ed25519.getPublicKey(policySecret)),
      coordinatorKeys: [bytesToHex(ed25519.getPublicKey(coordinatorSecret))],
      entry, entryArgs: ['mpc-node'],
    });
    pids = nodePids(cluster.dirs);
    lines.push(`Threshold signing: ${PARTIES} custos mpc-node processes on loopback (data under ${baseDir})`);
    for (const n of cluster.nodes) lines.push(`  ${n.id}: pid ${pids.get(n.id) ?? 'n/a'}, ${n.url}`);
    lines.push(...keyRelease.describe(cluster));

    const coordinator = new Coordinator({ nodes: cluster.nodes, secretKey: coordinatorSecret, healthTtlMs: 60_000 });
    const key = await auditedKeygen(opts.db, coordinator, { scheme: 'ed25519', threshold: THRESHOLD }, 'demo');
    const wallet = base58.encode(hexToBytes(key.publicKey));
    lines.push(`Key ${key.keyId}: FROST Ed25519 ${key.threshold}-of-${key.parties.length}, generated by the nodes (no node holds the whole key)`);
    lines.push(`  wallet (group public key as a Solana address): ${wallet}`);

    // From here the production path: the signing worker claims the approved withdrawal (approved →
    // signing), builds the transfer from the Solana hot-wallet account (now bound to this key), has
    // the policy service issue the authorization with the approvers' signatures, runs the 3-of-5
    // session and stores the signed transaction (signing → signed), each step audited.
    lines.push(`  recent blockhash: ${PLACEHOLDER_BLOCKHASH} (PLACEHOLDER: no network, the transaction is not broadcast)`);
    lines.push(...(await demoSignWithWorker({
      db: opts.db, coordinator, key, withdrawalId: w.id, policySecretKey: policySecret, approverKeys: opts.approverKeys, blockhash: PLACEHOLDER_BLOCKHASH, clock,
    })));
    const a = parseSignedAuthorization((await getOutbound(opts.db, w.id))?.authorization).authorization;
    lines.push(`Authorization the worker had issued for ${w.id}: ${a.amount} lamports to ${a.to}, policy version ${a.policyVersion}`);
    lines.push(`  carries the approvals of ${a.approvals.map((x) => x.approver).join(', ')} with their Ed25519 signatures; signed by a per-run policy key`);
    lines.push(`  each node pins the approvers' keys (${opts.approverKeys.length}), re-verifies every approval signature, re-parses the message and checks destination and amount`);

    // The policy key alone cannot redirect money: the same approvals in an authorization (and a
    // transaction) for ten times the amount are refused, because the approvers did not sign that.
    const more = w.amount * 10n;
    const inflated = buildUnsigned({ to: w.to, amount: more }, { from: wallet, recentBlockhash: PLACEHOLDER_BLOCKHASH });
    const forged = signAuthorization({
      ...a, unsignedTx: bytesToHex(inflated.bytes), digest: bytesToHex(signingDigest(inflated)), amount: more.toString(), withdrawal: { ...a.withdrawal, amount: more.toString() },
    }, policySecret);
    const refusal = await coordinator.sign({ keyId: key.keyId, authorization: forged }, chainDigest).then(
      () => { throw new CustosError('mpc_demo_unexpected', 'the nodes signed an authorization whose approvals are for another amount'); },
      (err: unknown) => (err instanceof CustosError ? err.code : 'error'),
    );
    if (refusal !== 'authorization_approval_invalid') throw new CustosError('mpc_demo_unexpected', `the inflated authorization failed with ${refusal}, not authorization_approval_invalid`);
    lines.push(`  check: a policy-signed authorization for ${more} lamports reusing these approvals is refused by the nodes: ${refusal}`);
    lines.push(...(await keyRelease.refusalCheck(cluster, 'node-3')));
  } finally {
    if (cluster) {
      await cluster.stop();
      const left = [...pids.values()].filter(alive);
      lines.push(`Cluster stopped: ${left.length} of ${pids.size} node processes remain${left.length ? ` (pids ${left.join(', ')})` : ''}`);
    }
    await keyRelease?.close();
    // This run's node stores are throw-away (their sealing keys stay wrapped in the key-release store).
    rmSync(baseDir, { recursive: true, force: true });
  }
  return lines;
}
