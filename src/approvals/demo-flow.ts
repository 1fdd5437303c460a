/**
 * The review-and-approve part of `custos demo`, through the real signed HTTP API: three demo
 * approvers (customers approver-1..3 of the starter policy, each with an `approve` credential), a
 * large transfer to a new address that lands in review, the queue with its reasons, the
 * submitter's own approval refused, two approvals reaching the quorum, a third one refused.
 * Returns printable lines; the caller prints them.
 *
 * @example
 *   const lines = await demoReviewAndApprove(db, { baseUrl: server.url, submitter: { credentialId, privateKey } });
 *   console.log(lines.join('\n'));
 */
import { randomUUID } from 'node:crypto';
import { CustosApiError, CustosClient } from '../client/index.js';
import { createCredential } from '../gateway/credentials.js';
import { STARTER_APPROVERS } from '../pipeline/starter-policy.js';
import { createCustomer, getCustomer } from '../store/customers.js';
import type { Db } from '../store/db.js';

interface Key {
  credentialId: string;
  privateKey: string;
}

export async function demoReviewAndApprove(
  db: Db,
  opts: { baseUrl: string; submitter: Key; to?: string; amount?: string; approvers?: string[] },
): Promise<string[]> {
  const lines: string[] = [];
  const client = (k: Key) => new CustosClient({ baseUrl: opts.baseUrl, credentialId: k.credentialId, privateKey: k.privateKey, retries: 1 });
  const approvers: { id: string; client: CustosClient }[] = [];
  for (const id of opts.approvers ?? STARTER_APPROVERS) {
    if (!(await getCustomer(db, id))) await db.tx((q) => createCustomer(q, { id, name: `Demo approver ${id}` }));
    approvers.push({ id, client: client(await createCredential(db, { customerId: id, scopes: ['approve'], label: 'demo approver' })) });
  }
  const submitter = client(opts.submitter);
  const to = opts.to ?? '0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359';
  const amount = opts.amount ?? '5';
  const w = await submitter.submitWithdrawal({ chain: 'ethereum', asset: 'ETH', to, amount }, `demo-review-${randomUUID()}`);
  lines.push(`A large transfer to a new address: ${amount} ETH to ${to} → ${w.status}`);
  const queue = await approvers[0]!.client.request<{ items: { withdrawal: { id: string }; reasons: { code: string; message: string }[]; quorum: number; expiresAt: string }[] }>('GET', '/v1/reviews');
  const item = queue.items.find((i) => i.withdrawal.id === w.id);
  if (item) {
    lines.push(`  review queue: needs ${item.quorum} approvals before ${item.expiresAt}; reasons:`);
    for (const r of item.reasons) lines.push(`    - ${r.code}: ${r.message}`);
  }
  const path = `/v1/withdrawals/${w.id}/approvals`;
  const attempt = async (who: string, c: CustosClient) => {
    try {
      const r = await c.request<{ result: string; approved: number; quorum: number; withdrawal: { status: string } }>('POST', path, { decision: 'approve', comment: 'demo' });
      lines.push(`  ${who} approves → ${r.result} (${r.approved} of ${r.quorum}), status ${r.withdrawal.status}`);
    } catch (err) {
      if (!(err instanceof CustosApiError)) throw err;
      lines.push(`  ${who} approves → refused ${err.status} ${err.code}`);
    }
  };
  await attempt('the submitter itself', submitter);
  await attempt(approvers[0]!.id, approvers[0]!.client);
  await attempt(`${approvers[0]!.id} again`, approvers[0]!.client);
  await attempt(approvers[1]!.id, approvers[1]!.client);
  await attempt(approvers[2]!.id, approvers[2]!.client);
  return lines;
}
