/**
 * The demo's threshold-signing step end to end: five node processes through bin/custos.js, a
 * 3-of-5 Ed25519 key, one approved Solana withdrawal taken to `signed` by the signing worker. Checks the printed transaction itself
 * (signature over the message under the group key, with @noble/curves), the id, and that no node
 * process survives. Needs `npm run build` first (skipped otherwise).
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ed25519 } from '@noble/curves/ed25519.js';
import { base58 } from '@scure/base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCredential } from '../gateway/credentials.js';
import { insertApproval } from '../store/approvals.js';
import type { Db } from '../store/db.js';
import { getOutbound } from '../store/outbound.js';
import { seedStarter } from '../store/seed.js';
import { TEST_DBS } from '../store/test-helpers/db.js';
import { getWithdrawal, insertWithdrawal } from '../store/withdrawals.js';
import { authorizedWithdrawal, signApprovalsFor } from '../approvals/authorization.js';
import { parseUnsigned } from '../chains/solana/tx.js';
import type { Decision } from '../core/decision.js';
import type { ApprovalRecord } from '../store/approvals.js';
import type { WithdrawalRecord } from '../store/withdrawals.js';
import { demoThresholdSigning, PLACEHOLDER_BLOCKHASH } from './demo-signing.js';

const built = existsSync(join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'cli', 'main.js'));
if (!built) console.warn('src/cli/demo-signing.test.ts: dist/ is missing; run `npm run build` first (skipped)');

const TO = '83astBRguLMdt2h5U1Tpdq5tjFoJ6noeGwaY3mDLVcri';
const dataDir = mkdtempSync(join(tmpdir(), 'custos-demo-signing-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

const signers = ['approver-1', 'approver-2'].map((approver) => ({ approver, secretKey: ed25519.utils.randomSecretKey() }));
const approverKeys = signers.map((x) => ({ approver: x.approver, publicKey: Buffer.from(ed25519.getPublicKey(x.secretKey)).toString('hex') }));

/** An approved withdrawal as the pipeline and the approvals leave it, with two signed approvals. */
function approved(id: string, to: string, amount: bigint): { withdrawal: WithdrawalRecord; approvals: ApprovalRecord[] } {
  const now = Date.now();
  const rules = { stage: 'rules', outcome: 'pass', reasons: [], policyVersion: 1,
    approval: { quorum: 2, eligible: ['approver-1', 'approver-2', 'approver-3'], excluded: ['demo'], requiresHsm: false, expiresAfterMs: 86_400_000 } } as Decision;
  const withdrawal: WithdrawalRecord = {
    id, customerId: 'demo', credentialId: 'cred_demo0000', accountId: 'hot-sol', chain: 'solana', asset: 'SOL', to, amount, fee: 5_000n, nonce: null, memo: null,
    status: 'approved', decisions: [rules], request: {}, idempotencyKey: id, requestHash: new Uint8Array(32), createdAt: now - 60_000, updatedAt: now,
  };
  const approvals = signApprovalsFor(authorizedWithdrawal(withdrawal), 1, signers, { at: now - 1_000, expiresAt: now + 600_000 }).map((a, i) => ({
    withdrawalId: id, approverId: a.approver, credentialId: `cred_appr${i}0000`, decision: 'approve' as const, comment: '', policyVersion: 1, at: a.at,
    signature: a.signature, signatureExpiresAt: a.expiresAt, publicKey: approverKeys[i]!.publicKey,
  }));
  return { withdrawal, approvals };
}

function field(lines: readonly string[], re: RegExp): string {
  for (const l of lines) {
    const m = re.exec(l);
    if (m) return m[1] as string;
  }
  throw new Error(`no line matches ${re}`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

describe.skipIf(!built)('demoThresholdSigning (needs dist/)', () => {
  let db: Db;
  beforeAll(async () => {
    db = await (TEST_DBS[0] as (typeof TEST_DBS)[number]).open();
    await seedStarter(db, { customerId: 'demo' });
  });
  afterAll(async () => db?.close());

  /** The approved withdrawal and its signed approvals, stored as the pipeline and the approvals leave them. */
  async function stored(id: string, to: string, amount: bigint): Promise<ReturnType<typeof approved>> {
    const { credentialId } = await createCredential(db, { customerId: 'demo', scopes: ['withdraw'] });
    const a = approved(id, to, amount);
    const withdrawal = { ...a.withdrawal, credentialId };
    await db.tx(async (q) => {
      await insertWithdrawal(q, withdrawal);
      for (const x of a.approvals) await insertApproval(q, x);
    });
    return { withdrawal, approvals: a.approvals };
  }

  it('signs the withdrawal 3-of-5 through the signing worker; the stored transaction verifies under the group key; no node process remains', async () => {
    const { withdrawal } = await stored('wd-demo-1', TO, 12_500_000_000n);
    const lines = await demoThresholdSigning({ db, dataDir, withdrawal, approverKeys });
    const text = lines.join('\n');

    const pids = [...text.matchAll(/node-\d: pid (\d+), http:\/\/127\.0\.0\.1:(\d+)/g)].map((m) => Number(m[1]));
    expect(new Set(pids).size).toBe(5);
    for (const pid of pids) expect(alive(pid)).toBe(false);
    expect(text).toContain('Cluster stopped: 0 of 5 node processes remain');

    const wallet = base58.decode(field(lines, /wallet \(group public key as a Solana address\): (\S+)/));
    expect(wallet.length).toBe(32);
    const raw = new Uint8Array(Buffer.from(field(lines, /raw transaction \(base64, NOT broadcast\): (\S+)/), 'base64'));
    expect(raw[0]).toBe(1); // shortvec: one signature
    const signature = raw.slice(1, 65);
    const message = raw.slice(65);
    expect(ed25519.verify(signature, message, wallet)).toBe(true);
    // a flipped bit in the message must not verify (the check above can fail)
    const tampered = message.slice();
    tampered[tampered.length - 1] = (tampered[tampered.length - 1] as number) ^ 1;
    expect(ed25519.verify(signature, tampered, wallet)).toBe(false);

    const parsed = parseUnsigned({ chain: 'solana', bytes: message });
    expect(parsed.to).toBe(TO);
    expect(parsed.amount).toBe(12_500_000_000n);
    expect(parsed.from).toBe(base58.encode(wallet));
    expect(parsed.recentBlockhash).toBe(PLACEHOLDER_BLOCKHASH);

    expect(field(lines, /transaction id \(base58 signature\): (\S+)/)).toBe(base58.encode(signature));
    const signers = field(lines, /Signed by ([^(]+) \(3 of 5/).split(', ').map((s) => s.trim());
    expect(new Set(signers).size).toBe(3);
    // The worker's path: the row is signed, the printed transaction is the stored one, each step audited.
    expect((await getWithdrawal(db, 'wd-demo-1'))?.status).toBe('signed');
    const ob = await getOutbound(db, 'wd-demo-1');
    expect(Buffer.from(ob?.rawTx as Uint8Array)).toEqual(Buffer.from(raw));
    expect(ob?.txHash).toBe(base58.encode(signature));
    const steps = (await db.query<{ body: string }>("SELECT body FROM audit_entries WHERE subject = 'withdrawal:wd-demo-1' AND action = 'withdrawal.transition' ORDER BY id"))
      .map((r) => (JSON.parse(r.body) as { data: { from: string; to: string } }).data).map((d) => `${d.from}→${d.to}`);
    expect(steps).toEqual(['approved→signing', 'signing→signed']);
    expect(text).toContain('wd-demo-1: 12500000000 lamports to ' + TO);
    expect(text).toContain('carries the approvals of approver-1, approver-2 with their Ed25519 signatures');
    // the policy key alone cannot move the approvals onto another amount: the nodes re-verify them
    expect(text).toContain('reusing these approvals is refused by the nodes: authorization_approval_invalid');
    // every node got its sealing key only through attestation and key release, none from a passphrase
    expect(text).toContain('no node uses a passphrase');
    expect(text).not.toMatch(/passphrase-derived|DEVELOPMENT FALLBACK/);
    for (let i = 1; i <= 5; i++) expect(text).toMatch(new RegExp(`node-${i}: PCR0 [0-9a-f]{16}… on allowlist v\\d+ as "node-${i}"; 2 release\\(s\\): node-${i}/enrol`));
    // and one byte of a node's configuration changed is refused its key
    expect(text).toContain('key release refused (attestation_measurement)');
    // the run's sealed shares are removed
    expect(readdirSync(join(dataDir, 'mpc-demo'))).toEqual([]);
  }, 60_000);

  it('refuses a destination that is not a Solana address before starting any process', async () => {
    await expect(demoThresholdSigning({ db, dataDir, withdrawal: approved('wd-demo-2', '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed', 1n).withdrawal, approverKeys }))
      .rejects.toMatchObject({ code: expect.stringMatching(/^address_/) });
    // (forged approvals are refused before anything is signed: src/approvals/authorization.test.ts)
  });
});
