/**
 * The demo's signing step through the production path: binds the demo's threshold key to the
 * Solana hot-wallet account (its address becomes the group key's), then runs the signing worker
 * once for the approved withdrawal — claim (approved → signing, audited), unsigned transfer from the
 * hot wallet, authorization issued with the policy key carrying the approvers' signatures, 3-of-5
 * session, signed transaction and hash stored (signing → signed, audited) — checks the stored
 * transaction's signature under the group key and prints what the worker produced. The blockhash
 * is the demo's fixed placeholder: nothing is broadcast.
 *
 * @example
 *   const lines = await demoSignWithWorker({ db, coordinator, key, withdrawalId, policySecretKey, approverKeys, blockhash });
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { hexToBytes } from '@noble/hashes/utils.js';
import { getTransactionDecoder } from '@solana/kit';
import { thresholdWallet } from '../chains/wallet.js';
import type { Clock } from '../core/clock.js';
import { CustosError } from '../core/errors.js';
import { policyAuthorizer } from '../mpc/coordinator/authorize.js';
import type { Coordinator, KeyInfo } from '../mpc/coordinator/coordinator.js';
import { SigningWorker, type SigningEvent } from '../mpc/coordinator/worker.js';
import type { PinnedApproverKey } from '../mpc/node/authorization.js';
import { getAccountFor } from '../store/accounts.js';
import type { Db } from '../store/db.js';
import { bindAccountKey, getOutbound } from '../store/outbound.js';
import { getWithdrawal } from '../store/withdrawals.js';

export interface DemoWorkerOptions {
  readonly db: Db;
  readonly coordinator: Coordinator;
  readonly key: KeyInfo;
  readonly withdrawalId: string;
  readonly policySecretKey: Uint8Array;
  readonly approverKeys?: readonly PinnedApproverKey[];
  /** The recent blockhash to sign with (the demo's labelled placeholder). */
  readonly blockhash: string;
  readonly clock?: Clock;
}

export async function demoSignWithWorker(o: DemoWorkerOptions): Promise<string[]> {
  const lines: string[] = [];
  const account = await getAccountFor(o.db, 'solana', 'SOL');
  if (!account) throw new CustosError('mpc_demo_unexpected', 'the demo has no Solana hot-wallet account');
  const wallet = thresholdWallet('solana', 'mainnet', { suite: o.key.suite, publicKey: hexToBytes(o.key.publicKey) });
  await o.db.tx((q) => bindAccountKey(q, account.id, { keyId: o.key.keyId, address: wallet.address }));
  lines.push(`Hot-wallet account ${account.id} bound to key ${o.key.keyId}: address ${wallet.address}`);
  const events: SigningEvent[] = [];
  const worker = new SigningWorker({
    db: o.db, coordinator: o.coordinator, only: [o.withdrawalId], owner: 'demo-signing-worker',
    authorize: policyAuthorizer({ db: o.db, policySecretKey: o.policySecretKey, ...(o.approverKeys ? { approverKeys: o.approverKeys } : {}) }),
    facts: { solana: { recentBlockhash: async () => ({ blockhash: o.blockhash }) } },
    onEvent: (e) => events.push(e), ...(o.clock ? { clock: o.clock } : {}),
  });
  // A node answering its health check late on a loaded machine defers the withdrawal: go again.
  for (let round = 0; round < 3 && !events.some((e) => e.kind !== 'deferred'); round++) {
    if (round > 0) await new Promise((r) => setTimeout(r, 500));
    await worker.runOnce();
  }
  const done = events.find((e) => e.kind !== 'deferred');
  if (!done) throw new CustosError('mpc_demo_unexpected', `the signing worker did not sign ${o.withdrawalId}: ${events.map((e) => (e.kind === 'deferred' ? e.code : e.kind)).join(', ') || 'not claimed'}`);
  if (done.kind === 'failed') throw new CustosError('mpc_demo_unexpected', `the signing worker failed ${o.withdrawalId}: ${done.code}: ${done.message}`);
  if (done.kind !== 'signed') throw new CustosError('mpc_demo_unexpected', 'unexpected worker outcome');
  const w = await getWithdrawal(o.db, o.withdrawalId);
  const ob = await getOutbound(o.db, o.withdrawalId);
  if (w?.status !== 'signed' || !ob?.rawTx || ob.txHash !== done.txHash) throw new CustosError('mpc_demo_unexpected', 'the signed transaction is not stored with the withdrawal');
  // Check what the worker stored: one Ed25519 signature over the message under the group key.
  const tx = getTransactionDecoder().decode(ob.rawTx);
  const signature = Object.values(tx.signatures)[0];
  if (!signature || !ed25519.verify(signature, new Uint8Array(tx.messageBytes), hexToBytes(o.key.publicKey))) {
    throw new CustosError('mpc_bad_signature', 'the stored transaction does not verify under the group key');
  }
  lines.push(`Signing worker: ${o.withdrawalId} approved → signing → signed, each step with its audit entry`);
  lines.push(`  Signed by ${done.signers.join(', ')} (${done.signers.length} of ${o.key.parties.length}); signature verified: Ed25519 over the message under ${wallet.address}`);
  lines.push(`  raw transaction (base64, NOT broadcast): ${Buffer.from(ob.rawTx).toString('base64')}`);
  lines.push(`  transaction id (base58 signature): ${ob.txHash}`);
  return lines;
}
