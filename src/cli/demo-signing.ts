/**
 * The demo's last step: an approved Solana withdrawal signed 3-of-5 by five signing-node processes.
 * Starts five `custos mpc-node` processes (through bin/custos.js, so every node derives what it
 * signs with the chain-aware digest: it parses the Solana message and checks destination and
 * amount against the authorization), generates a FROST Ed25519 key 3-of-5, builds the unsigned
 * System transfer from the group key's address, issues a signing authorization with a per-run
 * policy key, signs through the coordinator, verifies the signature (Ed25519 over the message
 * under the group key), assembles the wire transaction and stops every node. Nothing is
 * broadcast: the blockhash is a fixed placeholder, there is no network.
 *
 * @example
 *   const lines = await demoThresholdSigning({ dataDir: '.custos', amountLamports: 12_500_000_000n,
 *     to: '83astBRguLMdt2h5U1Tpdq5tjFoJ6noeGwaY3mDLVcri', withdrawalId: 'wd-123' });
 *   for (const l of lines) console.log(l);
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { base58 } from '@scure/base';
import { solanaAddressBytes } from '../chains/solana/address.js';
import { assemble, buildUnsigned, signingDigest } from '../chains/solana/tx.js';
import { systemClock, type Clock } from '../core/clock.js';
import { CustosError } from '../core/errors.js';
import { Coordinator } from '../mpc/coordinator/coordinator.js';
import { startLocalCluster, type LocalCluster } from '../mpc/coordinator/local-cluster.js';
import { signAuthorization, type Approval } from '../mpc/node/authorization.js';
import { chainDigest } from '../mpc/node/chain-digest.js';

export interface DemoSigningOptions {
  readonly dataDir: string;
  readonly amountLamports: bigint;
  /** Destination (base58 Solana address). */
  readonly to: string;
  readonly withdrawalId: string;
  /** The withdrawal's approvals (default: two labelled demo approvers); the nodes require 2 distinct. */
  readonly approvals?: readonly Approval[];
  readonly clock?: Clock;
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
  solanaAddressBytes(opts.to); // refuses a bad destination before any process starts
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
  const passphrase = randomBytes(24).toString('base64url');

  let cluster: LocalCluster | undefined;
  let pids = new Map<string, number>();
  try {
    cluster = await startLocalCluster({
      baseDir, n: PARTIES, passphrase, minApprovals: MIN_APPROVALS,
      policyPublicKey: bytesToHex(ed25519.getPublicKey(policySecret)),
      coordinatorKeys: [bytesToHex(ed25519.getPublicKey(coordinatorSecret))],
      entry, entryArgs: ['mpc-node'],
    });
    pids = nodePids(cluster.dirs);
    lines.push(`Threshold signing: ${PARTIES} custos mpc-node processes on loopback (data under ${baseDir}, sealed with a per-run passphrase)`);
    for (const n of cluster.nodes) lines.push(`  ${n.id}: pid ${pids.get(n.id) ?? 'n/a'}, ${n.url}`);

    const coordinator = new Coordinator({ nodes: cluster.nodes, secretKey: coordinatorSecret, healthTtlMs: 60_000 });
    const key = await coordinator.keygen({ scheme: 'ed25519', threshold: THRESHOLD });
    const wallet = base58.encode(hexToBytes(key.publicKey));
    lines.push(`Key ${key.keyId}: FROST Ed25519 ${key.threshold}-of-${key.parties.length}, generated by the nodes (no node holds the whole key)`);
    lines.push(`  wallet (group public key as a Solana address): ${wallet}`);

    const unsigned = buildUnsigned({ to: opts.to, amount: opts.amountLamports }, { from: wallet, recentBlockhash: PLACEHOLDER_BLOCKHASH });
    const message = signingDigest(unsigned);
    const now = clock.now();
    const approvals = opts.approvals ?? [{ approver: 'demo-approver-1', at: now - 2_000 }, { approver: 'demo-approver-2', at: now - 1_000 }];
    const fields = {
      withdrawalId: opts.withdrawalId, keyId: key.keyId, chain: 'solana', unsignedTx: bytesToHex(unsigned.bytes), digest: bytesToHex(message),
      to: opts.to, amount: opts.amountLamports.toString(), policyVersion: 1, approvals, expiresAt: now + 5 * 60_000,
    };
    const authorization = signAuthorization(fields, policySecret);
    lines.push(`Authorization for withdrawal ${opts.withdrawalId}: ${opts.amountLamports} lamports to ${opts.to}`);
    lines.push(`  approved by ${approvals.map((a) => a.approver).join(', ')}; signed by a per-run policy key; each node re-parses the message and checks destination and amount`);
    lines.push(`  recent blockhash: ${PLACEHOLDER_BLOCKHASH} (PLACEHOLDER: no network, the transaction is not broadcast)`);

    // The nodes parse the message themselves: an authorization (even policy-signed) naming another
    // amount than the message moves is refused before any signature share exists.
    const forged = signAuthorization({ ...fields, amount: (opts.amountLamports * 10n).toString() }, policySecret);
    const refusal = await coordinator.sign({ keyId: key.keyId, authorization: forged }, chainDigest).then(
      () => { throw new CustosError('mpc_demo_unexpected', 'the nodes signed an authorization whose amount disagrees with the message'); },
      (err: unknown) => (err instanceof CustosError ? err.code : 'error'),
    );
    if (refusal !== 'authorization_amount_mismatch') throw new CustosError('mpc_demo_unexpected', `the mismatched authorization failed with ${refusal}, not authorization_amount_mismatch`);
    lines.push(`  check: the same authorization naming ${opts.amountLamports * 10n} lamports (message unchanged) is refused by the nodes: ${refusal}`);

    const result = await coordinator.sign({ keyId: key.keyId, authorization }, chainDigest);
    const groupKey = hexToBytes(key.publicKey);
    if (!ed25519.verify(result.signature, message, groupKey)) {
      throw new CustosError('mpc_bad_signature', 'the threshold signature does not verify under the group key');
    }
    lines.push(`Signed by ${result.signers.join(', ')} (${result.signers.length} of ${PARTIES}, attempt ${result.attempts})`);
    lines.push(`  signature verified: Ed25519 over the message under ${wallet}`);
    const signed = assemble(unsigned, result.signature);
    lines.push(`  raw transaction (base64, NOT broadcast): ${Buffer.from(signed.raw).toString('base64')}`);
    lines.push(`  transaction id (base58 signature): ${signed.id}`);
  } finally {
    if (cluster) {
      await cluster.stop();
      const left = [...pids.values()].filter(alive);
      lines.push(`Cluster stopped: ${left.length} of ${pids.size} node processes remain${left.length ? ` (pids ${left.join(', ')})` : ''}`);
    }
    // The shares were sealed with a passphrase that dies with this run: remove them.
    rmSync(baseDir, { recursive: true, force: true });
  }
  return lines;
}
