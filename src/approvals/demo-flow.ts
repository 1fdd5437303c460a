/**
 * The review-and-approve part of `custos demo`, through the real signed HTTP API: three demo
 * approvers (customers approver-1..3 of the starter policy, each with an `approve` credential and an
 * Ed25519 approval key registered in the approver registry, audited), a large SOL transfer to a
 * new address that lands in review, the queue with its reasons, the submitter's own signed approval
 * refused, an approver's signature replayed by another approver refused, two signed approvals
 * reaching the quorum, a third one refused. Returns printable lines, the withdrawal's id and the
 * approvers' public keys (which the signing nodes pin); the caller prints the lines.
 *
 * The approval keys live in this process only (demo): production approvers keep theirs in files
 * made by `custos approvers keygen` (or hardware), and the server only ever sees public keys.
 *
 * @example
 *   const r = await demoReviewAndApprove(db, { baseUrl: server.url, submitter: { credentialId, privateKey } });
 *   console.log(r.lines.join('\n'));
 */
import { randomUUID } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { CustosApiError, CustosClient } from '../client/index.js';
import { systemClock, type Clock } from '../core/clock.js';
import { createCredential } from '../gateway/credentials.js';
import type { PinnedApproverKey } from '../mpc/node/authorization.js';
import { STARTER_APPROVERS } from '../pipeline/starter-policy.js';
import { activeApproverKey } from '../store/approvers.js';
import { createCustomer, getCustomer } from '../store/customers.js';
import type { Db } from '../store/db.js';
import { parseApprovalKeyFile, newApprovalKeyFile, type ApproverSigningKey } from './key-file.js';
import { addApprover, revokeApprover } from './registry.js';
import { signAndSubmitDecision, type ApprovalRequestBody } from './sign-and-submit.js';
import { signApprovalStatement } from './statement.js';

interface Key {
  credentialId: string;
  privateKey: string;
}

export interface DemoReviewResult {
  lines: string[];
  /** The reviewed withdrawal (approved when the flow ran as designed). */
  withdrawalId: string;
  /** The demo approvers' approval public keys. */
  approverKeys: PinnedApproverKey[];
}

export async function demoReviewAndApprove(
  db: Db,
  opts: { baseUrl: string; submitter: Key; to?: string; amount?: string; approvers?: string[]; clock?: Clock },
): Promise<DemoReviewResult> {
  const clock = opts.clock ?? systemClock;
  const lines: string[] = [];
  const client = (k: Key) => new CustosClient({ baseUrl: opts.baseUrl, credentialId: k.credentialId, privateKey: k.privateKey, retries: 1 });
  const approvers: { id: string; client: CustosClient; key: ApproverSigningKey }[] = [];
  for (const id of opts.approvers ?? STARTER_APPROVERS) {
    if (!(await getCustomer(db, id))) await db.tx((q) => createCustomer(q, { id, name: `Demo approver ${id}` }));
    // A fresh approval key per demo run: an earlier run's key (if any) is revoked first (rotation, audited).
    if (await activeApproverKey(db, id)) await revokeApprover(db, clock, id, 'demo');
    const key = parseApprovalKeyFile(newApprovalKeyFile(id, ed25519.utils.randomSecretKey()).text);
    await addApprover(db, clock, { approverId: id, publicKey: key.publicKey, label: 'demo approver' }, 'demo');
    approvers.push({ id, client: client(await createCredential(db, { customerId: id, scopes: ['approve'], label: 'demo approver' })), key });
  }
  lines.push(`Approvers ${approvers.map((a) => a.id).join(', ')}: each with an approve credential and a registered Ed25519 approval key`);
  const submitter = client(opts.submitter);
  const to = opts.to ?? 'pMMnyntPwCuQjPxSo1kMAnxhVaepEscUtXt9ZbesHNd';
  const amount = opts.amount ?? '100';
  const w = await submitter.submitWithdrawal({ chain: 'solana', asset: 'SOL', to, amount }, `demo-review-${randomUUID()}`);
  lines.push(`A large transfer to a new address: ${amount} SOL to ${to} → ${w.status}`);
  const queue = await approvers[0]!.client.request<{ items: { withdrawal: { id: string }; reasons: { code: string; message: string }[]; quorum: number; expiresAt: string }[] }>('GET', '/v1/reviews');
  const item = queue.items.find((i) => i.withdrawal.id === w.id);
  if (item) {
    lines.push(`  review queue: needs ${item.quorum} approvals before ${item.expiresAt}; reasons:`);
    for (const r of item.reasons) lines.push(`    - ${r.code}: ${r.message}`);
  }
  const refusal = (err: unknown) => {
    if (!(err instanceof CustosApiError)) throw err;
    return `refused ${err.status} ${err.code}`;
  };
  const approve = async (who: string, c: CustosClient, key: ApproverSigningKey) => {
    try {
      const r = await signAndSubmitDecision(c, w.id, key, { decision: 'approve', comment: 'demo', now: clock.now() });
      lines.push(`  ${who} signs and approves → ${r.outcome.result} (${r.outcome.approved} of ${r.outcome.quorum}), status ${r.outcome.withdrawal.status}`);
    } catch (err) {
      lines.push(`  ${who} signs and approves → ${refusal(err)}`);
    }
  };
  // The submitting customer, through a credential with the approve scope and an approval key of its
  // own, signing as itself: separation of duties refuses it.
  const request = await approvers[0]!.client.request<ApprovalRequestBody>('GET', `/v1/withdrawals/${w.id}/approval-request`);
  const own = ed25519.utils.randomSecretKey();
  const selfStatement = { withdrawalId: w.id, withdrawalDigest: request.withdrawalDigest, policyVersion: request.policyVersion, decision: 'approve' as const, approver: w.customerId, expiresAt: clock.now() + 60_000 };
  const selfClient = client(await createCredential(db, { customerId: w.customerId, scopes: ['approve'], label: 'demo: the submitter trying to approve' }));
  const selfAttempt = await selfClient
    .request('POST', `/v1/withdrawals/${w.id}/approvals`, { decision: 'approve', statement: selfStatement, signature: signApprovalStatement(selfStatement, own) })
    .then(() => 'accepted', refusal);
  lines.push(`  the submitter itself approves → ${selfAttempt}`);
  const [a1, a2, a3] = approvers as [(typeof approvers)[0], (typeof approvers)[0], (typeof approvers)[0]];
  await approve(a1.id, a1.client, a1.key);
  await approve(`${a1.id} again`, a1.client, a1.key);
  // approver-1's approval key in approver-3's hands: the credential acts for approver-3, the signature names approver-1
  await approve(`${a3.id} with ${a1.id}'s approval key`, a3.client, a1.key);
  await approve(a2.id, a2.client, a2.key);
  await approve(a3.id, a3.client, a3.key);
  return { lines, withdrawalId: w.id, approverKeys: approvers.map((a) => ({ approver: a.id, publicKey: a.key.publicKey })) };
}
