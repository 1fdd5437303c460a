import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../core/clock.js';
import { createCredential } from '../gateway/credentials.js';
import { listAccounts, setAccountBalance } from '../store/accounts.js';
import type { Db } from '../store/db.js';
import { splitStatements } from '../store/migrate.js';
import * as m011 from '../store/migrations/011_balance_holds.js';
import { seedStarter } from '../store/seed.js';
import { TEST_DBS } from '../store/test-helpers/db.js';
import { getWithdrawal, transitionWithdrawal, type WithdrawalRecord } from '../store/withdrawals.js';
import { submitWithdrawal, submitWithdrawals, type Submission } from './intake.js';
import { installIntakeOnlyPolicy } from './test-helpers/policy.js';
import type { WithdrawalRequest } from './syntax.js';

const BTC: WithdrawalRequest = { chain: 'bitcoin', asset: 'BTC', to: 'bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq', amount: '0.0001' }; // + 2,000 sat default fee
const SOL: WithdrawalRequest = { chain: 'solana', asset: 'SOL', to: '83astBRguLMdt2h5U1Tpdq5tjFoJ6noeGwaY3mDLVcri', amount: '0.1' }; // + 5,000 lamports
const USDC: WithdrawalRequest = { chain: 'ethereum', asset: 'USDC', to: '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed', amount: '25' };

describe.each(TEST_DBS)('balance holds on $name', (backend) => {
  let db: Db;
  const creds = new Map<string, string>();
  let n = 0;
  beforeAll(async () => {
    db = await backend.open();
    await installIntakeOnlyPolicy(db);
    await seedStarter(db, { customerId: 'seed' }); // assets and hot-wallet accounts
  }, 120_000);
  afterAll(async () => {
    await db?.close();
  });

  /** A submission from a customer of its own (caps and velocity stay out of the way). */
  async function submission(request: WithdrawalRequest): Promise<Submission> {
    const customerId = `holder-${++n}`;
    await seedStarter(db, { customerId });
    const credentialId = (await createCredential(db, { customerId, scopes: ['withdraw'] })).credentialId;
    creds.set(customerId, credentialId);
    return { customerId, credentialId, idempotencyKey: `k-${n}`, request };
  }
  const account = async (id: string) => (await listAccounts(db)).find((a) => a.id === id)!;
  const heldOf = async (id: string) => BigInt((await db.query<{ held: string }>('SELECT held::text AS held FROM withdrawals WHERE id = $1', [id]))[0]!.held);
  const codes = (w: WithdrawalRecord) => w.decisions.flatMap((d) => d.reasons.map((r) => r.code));

  it('one batch holds no more than the balance: 8 of 12 fit, the rest are refused by stage 1 with the held sum named', async () => {
    await setAccountBalance(db, 'hot-btc', 100_000n); // 8 × (10,000 + 2,000) = 96,000 fit, a 9th does not
    const subs = await Promise.all(Array.from({ length: 12 }, () => submission(BTC)));
    const results = await submitWithdrawals(db, systemClock, subs);
    const ws = results.map((r) => (r.ok ? r.value.withdrawal : expect.fail(String(r.error))));
    const passed = ws.filter((w) => w.status !== 'rejected');
    expect(passed).toHaveLength(8);
    for (const w of ws.filter((x) => x.status === 'rejected')) {
      expect(codes(w)).toEqual(['amount_exceeds_balance']);
      expect(w.decisions[0]!.reasons[0]!.message).toContain('held by withdrawals in flight');
    }
    for (const w of passed) expect(await heldOf(w.id)).toBe(12_000n);
    const acct = await account('hot-btc');
    expect(acct.reserved).toBe(96_000n);
    expect(acct.balance).toBe(100_000n);
  });

  it('concurrent submissions race for the balance: exactly as many as fit are accepted, and reserved is their sum', async () => {
    await setAccountBalance(db, 'hot-sol', 1_000_000_000n); // 9 × 100,005,000 fit
    const before = (await account('hot-sol')).reserved;
    expect(before).toBe(0n);
    const subs = await Promise.all(Array.from({ length: 20 }, () => submission(SOL)));
    const ws = await Promise.all(subs.map((s) => submitWithdrawal(db, systemClock, s).then((r) => r.withdrawal)));
    const passed = ws.filter((w) => w.status !== 'rejected');
    expect(passed).toHaveLength(9);
    expect(ws.filter((w) => w.status === 'rejected').every((w) => codes(w).join() === 'amount_exceeds_balance')).toBe(true);
    expect((await account('hot-sol')).reserved).toBe(9n * 100_005_000n);
    const [sum] = await db.query<{ s: string }>("SELECT sum(held)::text AS s FROM withdrawals WHERE account_id = 'hot-sol'");
    expect(BigInt(sum!.s)).toBe(9n * 100_005_000n);
  });

  it('a failed withdrawal releases its hold once; a confirmed one takes it from the balance; a token holds its amount, and its fee on the ETH account', async () => {
    await setAccountBalance(db, 'hot-btc', 10_000_000n);
    const start = await account('hot-btc');
    const a = (await submitWithdrawal(db, systemClock, await submission(BTC))).withdrawal;
    const b = (await submitWithdrawal(db, systemClock, await submission(BTC))).withdrawal;
    expect([a.status, b.status]).toEqual(['approved', 'approved']);
    expect((await account('hot-btc')).reserved).toBe(start.reserved + 24_000n);

    const now = Date.now();
    await transitionWithdrawal(db, a.id, 'approved', 'failed', null, now);
    expect(await heldOf(a.id)).toBe(0n);
    expect((await account('hot-btc')).reserved).toBe(start.reserved + 12_000n);
    // a second attempt finds it no longer approved and releases nothing
    await expect(transitionWithdrawal(db, a.id, 'approved', 'failed', null, now)).rejects.toMatchObject({ code: 'withdrawal_state_changed' });
    expect((await account('hot-btc')).reserved).toBe(start.reserved + 12_000n);

    for (const [from, to] of [['approved', 'signing'], ['signing', 'signed'], ['signed', 'broadcast']] as const) {
      await transitionWithdrawal(db, b.id, from, to, null, now);
      expect((await account('hot-btc')).reserved).toBe(start.reserved + 12_000n);
    }
    await transitionWithdrawal(db, b.id, 'broadcast', 'confirmed', null, now);
    const end = await account('hot-btc');
    expect(end.reserved).toBe(start.reserved);
    expect(end.balance).toBe(start.balance - 12_000n);
    expect((await getWithdrawal(db, b.id))?.status).toBe('confirmed');

    // A token holds its amount on its own account and its fee, in ETH, on the ETH account.
    const usdcBefore = await account('hot-usdc');
    const ethBefore = await account('hot-eth');
    const t = (await submitWithdrawal(db, systemClock, await submission(USDC))).withdrawal;
    const u = (await submitWithdrawal(db, systemClock, await submission(USDC))).withdrawal;
    expect([t.status, u.status]).toEqual(['approved', 'approved']);
    const fee = t.fee as bigint;
    expect(fee).toBeGreaterThan(0n);
    expect(await heldOf(t.id)).toBe(25_000_000n);
    const [tf] = await db.query<{ a: string; f: string }>('SELECT fee_account_id AS a, held_fee::text AS f FROM withdrawals WHERE id = $1', [t.id]);
    expect(tf).toEqual({ a: 'hot-eth', f: fee.toString() });
    expect((await account('hot-usdc')).reserved).toBe(usdcBefore.reserved + 50_000_000n);
    expect((await account('hot-eth')).reserved).toBe(ethBefore.reserved + 2n * fee);
    await transitionWithdrawal(db, t.id, 'approved', 'failed', null, now); // releases both holds
    expect((await account('hot-usdc')).reserved).toBe(usdcBefore.reserved + 25_000_000n);
    expect((await account('hot-eth')).reserved).toBe(ethBefore.reserved + fee);
    for (const [from, to] of [['approved', 'signing'], ['signing', 'signed'], ['signed', 'broadcast'], ['broadcast', 'confirmed']] as const) {
      await transitionWithdrawal(db, u.id, from, to, null, now);
    }
    const usdcEnd = await account('hot-usdc');
    const ethEnd = await account('hot-eth');
    expect([usdcEnd.reserved, usdcEnd.balance]).toEqual([usdcBefore.reserved, usdcBefore.balance - 25_000_000n]);
    expect([ethEnd.reserved, ethEnd.balance]).toEqual([ethBefore.reserved, ethBefore.balance - fee]);
  });

  it('a token withdrawal whose fee the ETH wallet can no longer cover is refused by stage 1', async () => {
    const eth = await account('hot-eth');
    await setAccountBalance(db, 'hot-eth', eth.reserved); // everything it holds is held
    try {
      const t = (await submitWithdrawal(db, systemClock, await submission(USDC))).withdrawal;
      expect(t.status).toBe('rejected');
      expect(codes(t)).toEqual(['fee_exceeds_balance']);
      expect((await account('hot-eth')).reserved).toBe(eth.reserved);
    } finally {
      await setAccountBalance(db, 'hot-eth', eth.balance);
    }
  });

  it('migration 011 counts in the withdrawals that were in flight before it', async () => {
    // As a database migrated before 011 would be: nothing held anywhere.
    // a token withdrawal in flight, whose fee is held on the ETH account
    expect((await submitWithdrawal(db, systemClock, await submission(USDC))).withdrawal.status).toBe('approved');
    await db.query('UPDATE withdrawals SET held = 0, held_fee = 0, fee_account_id = NULL');
    await db.query('UPDATE accounts SET reserved = 0');
    const backfill = splitStatements(m011.sql).filter((s) => s.startsWith('UPDATE'));
    expect(backfill).toHaveLength(3);
    for (const s of backfill) await db.query(s);
    const FLIGHT = "status IN ('approved', 'in_review', 'awaiting_approval', 'signing', 'signed', 'broadcast')";
    const [want] = await db.query<{ btc: string; sol: string; usdc: string; eth: string }>(
      `SELECT (SELECT sum(amount + fee) FROM withdrawals WHERE account_id = 'hot-btc' AND ${FLIGHT})::text AS btc,
              (SELECT sum(amount + fee) FROM withdrawals WHERE account_id = 'hot-sol' AND ${FLIGHT})::text AS sol,
              (SELECT sum(amount) FROM withdrawals WHERE account_id = 'hot-usdc' AND ${FLIGHT})::text AS usdc,
              (SELECT coalesce(sum(fee), 0) FROM withdrawals WHERE asset = 'USDC' AND ${FLIGHT})::text AS eth`,
    );
    expect((await account('hot-btc')).reserved).toBe(BigInt(want!.btc));
    expect((await account('hot-sol')).reserved).toBe(BigInt(want!.sol));
    expect((await account('hot-usdc')).reserved).toBe(BigInt(want!.usdc));
    expect((await account('hot-eth')).reserved).toBe(BigInt(want!.eth)); // no ETH withdrawals here: only the token's fee
    expect(BigInt(want!.eth)).toBeGreaterThan(0n);
    expect((await account('hot-btc')).reserved).toBe(96_000n); // the first test's 8; the later two failed and confirmed
    const [rejected] = await db.query<{ n: string }>("SELECT count(*)::text AS n FROM withdrawals WHERE status IN ('rejected', 'failed', 'confirmed') AND (held <> 0 OR held_fee <> 0)");
    expect(rejected!.n).toBe('0');
  });
});
