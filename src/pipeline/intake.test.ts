import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock, systemClock } from '../core/clock.js';
import { createCredential } from '../gateway/credentials.js';
import { parseSanctionsList } from '../risk/sanctions.js';
import { DAY_MS } from '../policy/windows.js';
import listETH from '../risk/data/sanctions/sanctioned_addresses_ETH.json' with { type: 'json' };
import type { Db } from '../store/db.js';
import { seedStarter } from '../store/seed.js';
import { replaceSanctionsList } from '../store/sanctions.js';
import { openPostgresSchema, TEST_DBS, DATABASE_URL } from '../store/test-helpers/db.js';
import { ensureStarterPolicy, installInitialPolicy } from './active-policy.js';
import { submitWithdrawal } from './intake.js';
import { starterPolicyDocument } from './starter-policy.js';
import { testAdmins } from './test-helpers/policy.js';
import type { WithdrawalRequest } from './syntax.js';

const ETH_TO = '0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed';
const SOL_TO = '83astBRguLMdt2h5U1Tpdq5tjFoJ6noeGwaY3mDLVcri';
const eth = (amount: string, to = ETH_TO): WithdrawalRequest => ({ chain: 'ethereum', asset: 'ETH', to, amount });
const sol = (amount: string): WithdrawalRequest => ({ chain: 'solana', asset: 'SOL', to: SOL_TO, amount });

/** Starter policy with risk out of the way (review/block thresholds out of reach) and the given per-asset calendar-day caps. */
async function installCapPolicy(db: Db, caps: Record<string, string>, now: number) {
  await ensureStarterPolicy(db, now);
  const doc = starterPolicyDocument({ admins: testAdmins().admins, version: 2 });
  doc.risk = { thresholds: { review: 999_999, block: 1_000_000 } };
  doc.rules = [];
  doc.limits = { default: { perAsset: Object.fromEntries(Object.entries(caps).map(([a, c]) => [a, { calendarDay: c }])) } };
  return installInitialPolicy(db, doc, 'test', now);
}

async function customerWithCredential(db: Db, id: string, clock = systemClock) {
  await seedStarter(db, { customerId: id, now: clock.now() });
  return (await createCredential(db, { customerId: id, scopes: ['withdraw', 'read'] }, clock)).credentialId;
}

describe.each(TEST_DBS)('intake stages 2 and 3 on $name', (backend) => {
  let db: Db;
  beforeAll(async () => {
    db = await backend.open();
  }, 120_000);
  afterAll(async () => {
    await db?.close();
  });

  it('a database without a policy gets the starter policy (audited); a small withdrawal to a new address is approved with three decisions', async () => {
    const cred = await customerWithCredential(db, 'small');
    const { withdrawal: w } = await submitWithdrawal(db, systemClock, { customerId: 'small', credentialId: cred, idempotencyKey: 'k1', request: eth('0.5') });
    expect(w.status).toBe('approved');
    expect(w.decisions.map((d) => `${d.stage}:${d.outcome}`)).toEqual(['syntax:pass', 'risk:pass', 'rules:pass']);
    expect(w.decisions[1]!.reasons.map((r) => r.code)).toContain('new_destination');
    const [policy] = await db.query<{ action: string }>("SELECT action FROM audit_entries WHERE subject = 'policy:1'");
    expect(policy?.action).toBe('policy.installed');
    const [audit] = await db.query<{ body: string }>("SELECT body FROM audit_entries WHERE subject = $1 AND action = 'withdrawal.transition'", [`withdrawal:${w.id}`]);
    const body = JSON.parse(audit!.body) as { data: { decisions: { stage: string }[]; policyVersion: number } };
    expect(body.data.decisions.map((d) => d.stage)).toEqual(['syntax', 'risk', 'rules']);
    expect(body.data.policyVersion).toBe(1);
    // accepted: the destination is now known and the history holds one withdrawal
    const [dest] = await db.query<{ use_count: number }>("SELECT use_count FROM destinations WHERE customer_id = 'small'");
    expect(Number(dest?.use_count)).toBe(1);
    const again = await submitWithdrawal(db, systemClock, { customerId: 'small', credentialId: cred, idempotencyKey: 'k2', request: eth('0.5') });
    expect(again.withdrawal.decisions[1]!.reasons.map((r) => r.code)).not.toContain('new_destination');
  });

  it('a large transfer to a new address lands in review with the rule and the 2-approval requirement; counters reserve it', async () => {
    const cred = await customerWithCredential(db, 'large');
    const { withdrawal: w } = await submitWithdrawal(db, systemClock, { customerId: 'large', credentialId: cred, idempotencyKey: 'k1', request: eth('5') });
    expect(w.status).toBe('in_review');
    const rules = w.decisions.find((d) => d.stage === 'rules') as unknown as { outcome: string; reasons: { code: string }[]; referenceValue: string; approval: { quorum: number } };
    expect(rules.outcome).toBe('review');
    expect(rules.reasons.map((r) => r.code)).toEqual(['policy_rule_review', 'approval_required']);
    expect(rules.referenceValue).toBe('1500000'); // 5 ETH × USD 3,000.00 in cents
    expect(rules.approval.quorum).toBe(2);
    expect(w.nonce).toBeNull(); // a nonce only when approved: a rejection later leaves no gap
    const [c] = await db.query<{ amount: string }>("SELECT amount::text AS amount FROM policy_counters WHERE scope = $1 AND bucket_ms = $2", [JSON.stringify(['large', 'ETH', 'asset']), DAY_MS]);
    expect(c?.amount).toBe(String(5n * 10n ** 18n));
  });

  it('a bundled sanctions hit is rejected as blocked, never reviewed, whatever else; a security alert is queued', async () => {
    const cred = await customerWithCredential(db, 'sanct');
    const target = (listETH as string[])[0]!.toLowerCase();
    const { withdrawal: w } = await submitWithdrawal(db, systemClock, { customerId: 'sanct', credentialId: cred, idempotencyKey: 'k1', request: eth('0.01', target) });
    expect(w.status).toBe('rejected');
    const risk = w.decisions.find((d) => d.stage === 'risk')!;
    expect(risk.outcome).toBe('block');
    expect(risk.reasons.map((r) => r.code)).toContain('sanctioned_destination');
    const alerts = await db.query<{ kind: string; severity: string }>("SELECT kind, severity FROM alerts_outbox WHERE kind = 'sanctions_hit'");
    expect(alerts.length).toBeGreaterThan(0);
    const [{ n } = { n: '0' }] = await db.query<{ n: string }>("SELECT count(*)::text AS n FROM policy_counters WHERE scope LIKE '[\"sanct\"%'");
    expect(n).toBe('0'); // a blocked withdrawal reserves nothing
  });

  it('an imported sanctions list blocks an address the bundled lists do not name', async () => {
    const cred = await customerWithCredential(db, 'imported');
    const fresh = '0x1111111111111111111111111111111111111111';
    const before = await submitWithdrawal(db, systemClock, { customerId: 'imported', credentialId: cred, idempotencyKey: 'k0', request: eth('0.01', fresh) });
    expect(before.withdrawal.status).toBe('approved');
    await db.tx((q) => replaceSanctionsList(q, 'TESTLIST', parseSanctionsList([fresh], 'ETH').entries.map((e) => ({ ...e, list: 'TESTLIST' })), Date.now()));
    const { withdrawal: w } = await submitWithdrawal(db, systemClock, { customerId: 'imported', credentialId: cred, idempotencyKey: 'k1', request: eth('0.01', fresh) });
    expect(w.status).toBe('rejected');
    expect(w.decisions.find((d) => d.stage === 'risk')!.reasons.find((r) => r.code === 'sanctioned_destination')).toBeTruthy();
  });

  it("counters accumulate within a UTC day and start again the next day (injected clock); the cap holds", async () => {
    const day1 = Date.UTC(2030, 0, 10, 9, 0, 0);
    const clock = manualClock(day1);
    const dbCaps = await backend.open();
    try {
      await installCapPolicy(dbCaps, { SOL: '10' }, day1);
      const cred = await customerWithCredential(dbCaps, 'days', clock);
      const sub = (k: string, a: string) => submitWithdrawal(dbCaps, clock, { customerId: 'days', credentialId: cred, idempotencyKey: k, request: sol(a) });
      for (let i = 0; i < 3; i++) expect((await sub(`d1-${i}`, '3')).withdrawal.status).toBe('approved');
      clock.advance(60_000);
      const over = await sub('d1-over', '3');
      expect(over.withdrawal.status).toBe('rejected');
      expect(over.withdrawal.decisions.find((d) => d.stage === 'rules')!.reasons.map((r) => r.code)).toEqual(['asset_calendar_day_cap']);
      expect((await sub('d1-fit', '1')).withdrawal.status).toBe('approved'); // exactly at the cap: 10
      clock.set(Date.UTC(2030, 0, 11, 0, 0, 1));
      for (let i = 0; i < 2; i++) expect((await sub(`d2-${i}`, '4')).withdrawal.status).toBe('approved');
      expect((await sub('d2-over', '3')).withdrawal.status).toBe('rejected');
      const rows = await dbCaps.query<{ start: string; count: string; amount: string }>(
        'SELECT bucket_start::text AS start, count::text AS count, amount::text AS amount FROM policy_counters WHERE scope = $1 AND bucket_ms = $2 ORDER BY bucket_start',
        [JSON.stringify(['days', 'SOL', 'asset']), DAY_MS],
      );
      expect(rows).toEqual([
        { start: String(Date.UTC(2030, 0, 10)), count: '4', amount: String(10n * 10n ** 9n) },
        { start: String(Date.UTC(2030, 0, 11)), count: '2', amount: String(8n * 10n ** 9n) },
      ]);
      const [h] = await dbCaps.query<{ history: unknown }>("SELECT history FROM amount_histories WHERE customer_id = 'days' AND asset = 'SOL'");
      expect(JSON.stringify(h?.history)).toContain('"total":6'); // six accepted withdrawals in the history
    } finally {
      await dbCaps.close();
    }
  });
});

describe.skipIf(!DATABASE_URL)('caps under concurrency on PostgreSQL (needs DATABASE_URL)', () => {
  it('300 parallel withdrawals that each fit under the daily cap but together exceed it: the approved sum is at or under the cap, exactly', async () => {
    const db = await openPostgresSchema(12);
    try {
      const now = Date.now();
      await installCapPolicy(db, { SOL: '100' }, now);
      const cred = await customerWithCredential(db, 'burst');
      const results = await Promise.all(
        Array.from({ length: 300 }, (_, i) =>
          submitWithdrawal(db, systemClock, { customerId: 'burst', credentialId: cred, idempotencyKey: `p-${i}`, request: sol(i % 3 === 0 ? '0.7' : '0.35') }),
        ),
      );
      const approved = results.filter((r) => r.withdrawal.status === 'approved');
      const sum = approved.reduce((s, r) => s + (r.withdrawal.amount ?? 0n), 0n);
      const requested = results.reduce((s, r) => s + (r.withdrawal.amount ?? 0n), 0n);
      const cap = 100n * 10n ** 9n;
      expect(requested).toBeGreaterThan(cap);
      expect(sum).toBeLessThanOrEqual(cap);
      // Serialised decisions fill the cap until the next withdrawal no longer fits: at most 0.7 SOL below it.
      expect(cap - sum).toBeLessThan(7n * 10n ** 8n);
      for (const r of results.filter((x) => x.withdrawal.status !== 'approved')) {
        expect(r.withdrawal.status).toBe('rejected');
        expect(r.withdrawal.decisions.find((d) => d.stage === 'rules')!.reasons.map((x) => x.code)).toEqual(['asset_calendar_day_cap']);
      }
      const [row] = await db.query<{ amount: string; count: string }>(
        "SELECT SUM(amount)::text AS amount, SUM(count)::text AS count FROM policy_counters WHERE scope = $1 AND bucket_ms = $2",
        [JSON.stringify(['burst', 'SOL', 'asset']), DAY_MS],
      );
      expect(row).toEqual({ amount: sum.toString(), count: String(approved.length) });
      const [stored] = await db.query<{ s: string }>("SELECT SUM(amount)::text AS s FROM withdrawals WHERE customer_id = 'burst' AND status = 'approved'");
      expect(stored?.s).toBe(sum.toString());
    } finally {
      await db.close();
    }
  }, 120_000);
});
