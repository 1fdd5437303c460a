/**
 * Batched intake (submitWithdrawals): several submissions decided in one transaction must end
 * exactly as if they had been decided one by one, in order.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { encodeEntry, encodeEntryAround, type AuditEntry } from '../audit/chain.js';
import { systemClock } from '../core/clock.js';
import { isCustosError } from '../core/errors.js';
import { createCredential } from '../gateway/credentials.js';
import type { Db } from '../store/db.js';
import { writeIntakeBatch, type IntakeWrites } from '../store/intake-batch.js';
import type { WithdrawalRecord } from '../store/withdrawals.js';
import { seedStarter } from '../store/seed.js';
import { TEST_DBS } from '../store/test-helpers/db.js';
import { ensureStarterPolicy, installInitialPolicy } from './active-policy.js';
import { submitWithdrawal, submitWithdrawals, type Submission } from './intake.js';
import { starterPolicyDocument } from './starter-policy.js';
import { testAdmins } from './test-helpers/policy.js';
import type { WithdrawalRequest } from './syntax.js';

const ETH_TO = '0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed';
const eth = (amount: string, extra: Partial<WithdrawalRequest> = {}): WithdrawalRequest => ({ chain: 'ethereum', asset: 'ETH', to: ETH_TO, amount, ...extra });

describe.each(TEST_DBS)('batched intake on $name', (backend) => {
  let db: Db;
  const creds = new Map<string, string>();
  const sub = (customerId: string, key: string, request: WithdrawalRequest): Submission => ({ customerId, credentialId: creds.get(customerId) as string, idempotencyKey: key, request });

  beforeAll(async () => {
    db = await backend.open();
    const now = systemClock.now();
    await ensureStarterPolicy(db, now);
    const doc = starterPolicyDocument({ admins: testAdmins().admins, version: 2 });
    doc.risk = { thresholds: { review: 999_999, block: 1_000_000 } };
    doc.rules = [];
    doc.limits = { default: { perAsset: { ETH: { calendarDay: '1' } } } };
    await installInitialPolicy(db, doc, 'test', now);
    for (const c of ['seq', 'bat', 'idem', 'n1', 'n2', 'n3']) {
      await seedStarter(db, { customerId: c, now });
      creds.set(c, (await createCredential(db, { customerId: c, scopes: ['withdraw', 'read'] })).credentialId);
    }
  }, 120_000);
  afterAll(async () => {
    await db?.close();
  });

  it('a batch over a daily cap ends exactly as the same submissions one by one: the approved sum stays at or under the cap', async () => {
    const amounts = ['0.3', '0.3', '0.5', '0.3', '0.1', '0.3'];
    const oneByOne: string[] = [];
    for (const [i, a] of amounts.entries()) oneByOne.push((await submitWithdrawal(db, systemClock, sub('seq', `s${i}`, eth(a)))).withdrawal.status);
    const batched = await submitWithdrawals(db, systemClock, amounts.map((a, i) => sub('bat', `b${i}`, eth(a))));
    const statuses = batched.map((r) => (r.ok ? r.value.withdrawal.status : 'error'));
    expect(statuses).toEqual(oneByOne);
    expect(statuses.filter((s) => s === 'approved').length).toBe(4); // 0.3 + 0.3 + 0.3 + 0.1 = 1.0; the 0.5 and the last 0.3 do not fit
    const [sum] = await db.query<{ s: string }>("SELECT SUM(amount)::text AS s FROM withdrawals WHERE customer_id = 'bat' AND status = 'approved'");
    expect(BigInt(sum!.s)).toBe(10n ** 18n);
    // history and destination accumulated inside the batch as they do across transactions
    const [d] = await db.query<{ use_count: number }>("SELECT use_count FROM destinations WHERE customer_id = 'bat'");
    expect(Number(d!.use_count)).toBe(4);
    const first = batched[0]!.ok ? batched[0]!.value.withdrawal : null;
    const second = batched[1]!.ok ? batched[1]!.value.withdrawal : null;
    expect(first!.decisions[1]!.reasons.map((r) => r.code)).toContain('new_destination');
    expect(second!.decisions[1]!.reasons.map((r) => r.code)).not.toContain('new_destination');
  });

  it('nonces are consecutive across a batch; a client nonce that is not the next one is rejected alone', async () => {
    const [acct] = await db.query<{ n: string }>("SELECT next_nonce::text AS n FROM accounts WHERE chain = 'ethereum' AND asset = 'ETH'");
    const start = BigInt(acct!.n);
    const rs = await submitWithdrawals(db, systemClock, [
      sub('n1', 'a', eth('0.01')),
      sub('n2', 'a', eth('0.01', { nonce: Number(start) + 5 })), // wrong
      sub('n3', 'a', eth('0.01', { nonce: Number(start) + 1 })), // right: the second approved one
      sub('n1', 'b', eth('0.01')),
    ]);
    const ws = rs.map((r) => (r.ok ? r.value.withdrawal : null));
    expect(ws.map((w) => w?.status)).toEqual(['approved', 'rejected', 'approved', 'approved']);
    expect(ws[1]!.decisions[0]!.reasons.map((r) => r.code)).toContain('nonce_out_of_sequence');
    expect(ws.map((w) => w?.nonce ?? null)).toEqual([start, null, start + 1n, start + 2n]);
    const [after] = await db.query<{ n: string }>("SELECT next_nonce::text AS n FROM accounts WHERE chain = 'ethereum' AND asset = 'ETH'");
    expect(BigInt(after!.n)).toBe(start + 3n);
  });

  it('the same Idempotency-Key twice in one batch: one withdrawal; with another body, 409 for the second only', async () => {
    const rs = await submitWithdrawals(db, systemClock, [sub('idem', 'k', eth('0.01')), sub('idem', 'k', eth('0.01')), sub('idem', 'k', eth('0.02')), sub('idem', 'other', eth('0.01'))]);
    expect(rs[0]!.ok && rs[1]!.ok).toBe(true);
    if (!rs[0]!.ok || !rs[1]!.ok) return;
    expect(rs[1]!.value.withdrawal.id).toBe(rs[0]!.value.withdrawal.id);
    expect([rs[0]!.value.created, rs[1]!.value.created]).toEqual([true, false]);
    expect(rs[2]!.ok).toBe(false);
    if (!rs[2]!.ok) expect(isCustosError(rs[2]!.error) && rs[2]!.error.code).toBe('idempotency_key_reused');
    expect(rs[3]!.ok).toBe(true);
    const [n] = await db.query<{ n: string }>("SELECT count(*)::text AS n FROM withdrawals WHERE customer_id = 'idem'");
    expect(n!.n).toBe('2');
  });

  it('audit entries of a batch follow its order: received then transition for each withdrawal', async () => {
    const rs = await submitWithdrawals(db, systemClock, [sub('n2', 'x1', eth('0.01')), sub('n3', 'x2', eth('0.01'))]);
    const ids = rs.map((r) => (r.ok ? r.value.withdrawal.id : ''));
    const rows = await db.query<{ subject: string; action: string }>(
      'SELECT subject, action FROM audit_entries WHERE subject = ANY($1::text[]) ORDER BY id',
      [ids.map((id) => `withdrawal:${id}`)],
    );
    expect(rows.map((r) => `${r.subject.slice(11)}:${r.action}`)).toEqual([
      `${ids[0]}:withdrawal.received`,
      `${ids[0]}:withdrawal.transition`,
      `${ids[1]}:withdrawal.received`,
      `${ids[1]}:withdrawal.transition`,
    ]);
  });

  it('the transition entry of a withdrawal that took a nonce carries that nonce, byte for byte as encoded here', async () => {
    const rs = await submitWithdrawals(db, systemClock, [sub('n1', 'e1', eth('0.01')), sub('n2', 'e2', eth('0.01'))]);
    for (const r of rs) {
      expect(r.ok).toBe(true);
      if (!r.ok) continue;
      const w = r.value.withdrawal;
      expect(w.nonce).not.toBeNull();
      const [row] = await db.query<{ body: string }>("SELECT body FROM audit_entries WHERE subject = $1 AND action = 'withdrawal.transition'", [`withdrawal:${w.id}`]);
      const body = JSON.parse(row!.body) as { time: string; data: Record<string, unknown> };
      expect(body.data.nonce).toBe(String(w.nonce));
      expect(row!.body).toBe(encodeEntry({ at: Date.parse(body.time), actor: 'pipeline', action: 'withdrawal.transition', subject: `withdrawal:${w.id}`, data: { ...body.data, nonce: w.nonce } }));
      const [stored] = await db.query<{ nonce: string }>('SELECT nonce::text FROM withdrawals WHERE id = $1', [w.id]);
      expect(stored!.nonce).toBe(String(w.nonce));
    }
  });

  describe('the write statement refuses what it cannot write, and writes nothing', () => {
    const account = async () =>
      (await db.query<{ id: string; n: string }>("SELECT id, next_nonce::text AS n FROM accounts WHERE chain = 'ethereum' AND asset = 'ETH'"))[0]!;
    const counts = async () =>
      (await db.query<{ w: string; a: string; al: string }>(
        'SELECT (SELECT count(*) FROM withdrawals)::text AS w, (SELECT count(*) FROM audit_entries)::text AS a, (SELECT count(*) FROM alerts_outbox)::text AS al',
      ))[0]!;
    const writes = (accountId: string, requested: bigint | null): IntakeWrites => {
      const now = Date.now();
      const w: WithdrawalRecord = {
        id: `wd_${randomUUID()}`,
        customerId: 'n3',
        credentialId: creds.get('n3') as string,
        accountId,
        chain: 'ethereum',
        asset: 'ETH',
        to: ETH_TO,
        amount: 10n ** 16n,
        fee: 21_000n,
        nonce: null,
        memo: null,
        status: 'approved',
        decisions: [],
        request: { chain: 'ethereum', asset: 'ETH', to: ETH_TO, amount: '0.01' },
        idempotencyKey: randomUUID(),
        requestHash: new Uint8Array(32),
        createdAt: now,
        updatedAt: now,
      };
      const transition: AuditEntry = { at: now, actor: 'pipeline', action: 'withdrawal.transition', subject: `withdrawal:${w.id}`, data: { to: 'approved', nonce: null } };
      return {
        withdrawals: [w],
        counters: [],
        histories: [],
        destinations: [],
        audit: [{ at: now, actor: 'pipeline', action: transition.action, subject: transition.subject, body: encodeEntryAround(transition, 'nonce'), nonceOf: w.id }],
        nonces: [{ withdrawalId: w.id, accountId, requested }],
        // an alert in the same statement: refused with it, never left behind
        alerts: [{ at: now, kind: 'sanctions_hit', severity: 'critical', summary: `test alert for ${w.id}`, details: JSON.stringify({ withdrawalId: w.id }) }],
      };
    };

    it('a client nonce that another transaction took meanwhile (the one handed out is another): nonce_out_of_sequence with the expected nonce', async () => {
      const a = await account();
      const before = await counts();
      const err = await db.tx((q) => writeIntakeBatch(q, writes(a.id, BigInt(a.n) + 1n), { commit: true })).catch((e: unknown) => e);
      expect(isCustosError(err) && err.code).toBe('nonce_out_of_sequence');
      expect(isCustosError(err) && err.status).toBe(422);
      expect(isCustosError(err) && err.details?.expected).toBe(a.n);
      expect(await counts()).toEqual(before);
      expect((await account()).n).toBe(a.n);
      // the right one is taken, and the entry is closed with it
      const ok = writes(a.id, BigInt(a.n));
      const taken = await db.tx((q) => writeIntakeBatch(q, ok, { commit: true }));
      const id = ok.withdrawals[0]!.id;
      expect(taken.get(id)).toBe(BigInt(a.n));
      expect((await account()).n).toBe(String(BigInt(a.n) + 1n));
      const [row] = await db.query<{ body: string }>('SELECT body FROM audit_entries WHERE subject = $1', [`withdrawal:${id}`]);
      expect(JSON.parse(row!.body).data.nonce).toBe(a.n);
      const [alert] = await db.query<{ details: unknown }>('SELECT details FROM alerts_outbox WHERE summary = $1', [`test alert for ${id}`]);
      expect(typeof alert!.details === 'string' ? JSON.parse(alert!.details) : alert!.details).toEqual({ withdrawalId: id });
    });

    it('an account that does not exist: account_unknown, nothing written', async () => {
      const before = await counts();
      const err = await db.tx((q) => writeIntakeBatch(q, writes('acct_missing', null), { commit: true })).catch((e: unknown) => e);
      expect(isCustosError(err) && err.code).toBe('account_unknown');
      expect(await counts()).toEqual(before);
    });
  });
});
