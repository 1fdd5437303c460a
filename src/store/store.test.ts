/**
 * The store against both backends (PGlite always, PostgreSQL when DATABASE_URL is set): migrations,
 * exact money, gap-free nonce allocation under concurrency, idempotent submissions.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { systemClock } from '../core/clock.js';
import { CustosError } from '../core/errors.js';
import { createCredential } from '../gateway/credentials.js';
import { submitWithdrawal } from '../pipeline/intake.js';
import type { WithdrawalRequest } from '../pipeline/syntax.js';
import { allocateNonce, createAccount, getAccountFor, upsertAsset } from './accounts.js';
import type { Db } from './db.js';
import { MIGRATIONS, migrate } from './migrate.js';
import { seedStarter } from './seed.js';
import { installIntakeOnlyPolicy } from '../pipeline/test-helpers/policy.js';
import { DATABASE_URL, TEST_DBS } from './test-helpers/db.js';
import { getWithdrawal, insertWithdrawal, listWithdrawals } from './withdrawals.js';

if (!DATABASE_URL) console.warn('store.test.ts: DATABASE_URL unset, the PostgreSQL variant is skipped');

const ETH_TO = '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed';
const ethRequest = (amount = '0.01', extra: Partial<WithdrawalRequest> = {}): WithdrawalRequest => ({
  chain: 'ethereum',
  asset: 'ETH',
  to: ETH_TO,
  amount,
  ...extra,
});

const count = async (db: Db, table: string): Promise<number> => {
  const [r] = await db.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${table}`);
  return Number(r?.n);
};

describe.each(TEST_DBS)('store on $name', (backend) => {
  // One database per backend and file (PGlite takes seconds to start on a busy machine); each
  // test acts for its own fresh customer and measures nonces relative to where it started.
  let db: Db;
  let customerId: string;
  let credentialId: string;
  let serial = 0;

  beforeAll(async () => {
    db = await backend.open();
    await seedStarter(db, { customerId: 'seed' });
    await installIntakeOnlyPolicy(db); // these tests are about the intake spine, not risk; its audit entries come before the counts below
  }, 120_000);
  afterAll(async () => {
    await db?.close();
  });
  beforeEach(async () => {
    customerId = `c${++serial}`;
    await seedStarter(db, { customerId });
    credentialId = (await createCredential(db, { customerId, scopes: ['withdraw', 'read'] })).credentialId;
  });

  const submit = (key: string, request: WithdrawalRequest) =>
    submitWithdrawal(db, systemClock, { customerId, credentialId, idempotencyKey: key, request });
  const nextNonce = async () => (await getAccountFor(db, 'ethereum', 'ETH'))!.nextNonce;
  const customerRows = async () => {
    const [r] = await db.query<{ n: string }>('SELECT count(*)::text AS n FROM withdrawals WHERE customer_id = $1', [customerId]);
    return Number(r?.n);
  };
  const withdrawalAuditEntries = async () => {
    const [r] = await db.query<{ n: string }>(
      "SELECT count(*)::text AS n FROM audit_entries WHERE subject IN (SELECT 'withdrawal:' || id FROM withdrawals WHERE customer_id = $1)",
      [customerId],
    );
    return Number(r?.n);
  };

  it('migrate is idempotent (again, and twice at once)', async () => {
    expect(await migrate(db)).toEqual([]);
    expect(await Promise.all([migrate(db), migrate(db)])).toEqual([[], []]);
    expect(await count(db, 'schema_migrations')).toBe(MIGRATIONS.length);
    // The seeded data survived the re-runs.
    expect((await getAccountFor(db, 'ethereum', 'ETH'))?.balance).toBe(500n * 10n ** 18n);
    expect(await count(db, 'customers')).toBeGreaterThanOrEqual(2);
  });

  it('money round-trips exactly: 2^255 and 2^256-1 base units', async () => {
    const big = 2n ** 255n;
    const max = 2n ** 256n - 1n;
    await upsertAsset(db, { chain: 'ethereum', symbol: 'BIG', network: 'mainnet', decimals: 36, feeDecimals: 18, minFee: 1n, maxFee: max, defaultFee: big });
    await createAccount(db, { id: 'hot-big', chain: 'ethereum', asset: 'BIG', address: ETH_TO, balance: big, nextNonce: max });
    const acc = await getAccountFor(db, 'ethereum', 'BIG');
    expect(acc?.balance).toBe(big);
    expect(acc?.nextNonce).toBe(max);
    const now = Date.now();
    await insertWithdrawal(db, {
      id: 'wd_big',
      customerId,
      credentialId,
      accountId: 'hot-big',
      chain: 'ethereum',
      asset: 'BIG',
      to: ETH_TO,
      amount: big + 1n,
      fee: max,
      nonce: max - 7n,
      memo: null,
      status: 'received',
      decisions: [],
      request: {},
      idempotencyKey: 'big',
      requestHash: new Uint8Array(32),
      createdAt: now,
      updatedAt: now,
    });
    const w = await getWithdrawal(db, 'wd_big');
    expect(w?.amount).toBe(big + 1n);
    expect(w?.fee).toBe(max);
    expect(w?.nonce).toBe(max - 7n);
    expect(typeof w?.amount).toBe('bigint');
  });

  it('50 concurrent ethereum submissions take nonces 0..49 exactly once', async () => {
    const start = await nextNonce();
    const auditBefore = await count(db, 'audit_entries');
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => submit(`k-${i}`, ethRequest(`0.0${i + 1}`))));
    expect(results.every((r) => r.created && r.withdrawal.status === 'approved')).toBe(true);
    const expected = Array.from({ length: 50 }, (_, i) => start + BigInt(i));
    const nonces = results.map((r) => r.withdrawal.nonce as bigint).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    expect(nonces).toEqual(expected);
    const stored = await db.query<{ n: string }>(
      'SELECT w.nonce::text AS n FROM withdrawals w WHERE w.customer_id = $1 ORDER BY w.nonce',
      [customerId],
    );
    expect(stored.map((r) => BigInt(r.n))).toEqual(expected);
    expect(await nextNonce()).toBe(start + 50n);
    // One 'received' and one transition entry per withdrawal, written in the same transaction.
    expect(await withdrawalAuditEntries()).toBe(100);
    expect(await count(db, 'audit_entries')).toBe(auditBefore + 100);
  });

  it('a client-supplied nonce that is not the next one is rejected and consumes nothing', async () => {
    const n0 = await nextNonce();
    const first = await submit('n0', ethRequest('1', { nonce: Number(n0) }));
    expect(first.withdrawal.status).toBe('approved');
    expect(first.withdrawal.nonce).toBe(n0);

    for (const [key, nonce] of [['n-ahead', n0 + 5n], ['n-behind', n0], ['n-next-next', n0 + 2n]] as const) {
      const r = await submit(key, ethRequest('1', { nonce: Number(nonce) }));
      expect(r.withdrawal.status).toBe('rejected');
      expect(r.withdrawal.nonce).toBeNull();
      expect(r.withdrawal.decisions[0]?.reasons.map((x) => x.code)).toEqual(['nonce_out_of_sequence']);
    }
    expect(await nextNonce()).toBe(n0 + 1n);
    const next = await submit('n1', ethRequest('1', { nonce: Number(n0 + 1n) }));
    expect(next.withdrawal.status).toBe('approved');
    expect(next.withdrawal.nonce).toBe(n0 + 1n);

    // The repository primitive refuses too, and leaves the counter alone.
    await expect(db.tx((q) => allocateNonce(q, 'hot-eth', n0 + 9n))).rejects.toMatchObject({ code: 'nonce_out_of_sequence', status: 422 });
    expect(await nextNonce()).toBe(n0 + 2n);
    expect(await db.tx((q) => allocateNonce(q, 'hot-eth', n0 + 2n))).toBe(n0 + 2n);
    expect(await db.tx((q) => allocateNonce(q, 'hot-eth', null))).toBe(n0 + 3n);
  });

  it('idempotency: same key and body returns the same withdrawal; another body is refused with 409', async () => {
    const n0 = await nextNonce();
    const a = await submit('same', ethRequest('0.5', { memo: 'm' }));
    expect(a.created).toBe(true);
    // Same body with keys in another order is the same request.
    const b = await submit('same', { memo: 'm', amount: '0.5', to: ETH_TO, asset: 'ETH', chain: 'ethereum' });
    expect(b.created).toBe(false);
    expect(b.withdrawal.id).toBe(a.withdrawal.id);
    expect(b.withdrawal.nonce).toBe(a.withdrawal.nonce);

    for (const other of [ethRequest('0.6', { memo: 'm' }), ethRequest('0.5'), ethRequest('0.5', { memo: 'm', fee: '0.001' })]) {
      const err = await submit('same', other).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CustosError);
      expect(err).toMatchObject({ code: 'idempotency_key_reused', status: 409 });
    }
    // Nothing was written for the refused requests: one row, nonce counter moved once.
    expect(await customerRows()).toBe(1);
    expect(await nextNonce()).toBe(n0 + 1n);
    // Keys are per customer: another customer may use the same key.
    const mine = customerId;
    customerId = `${mine}-other`;
    await seedStarter(db, { customerId });
    credentialId = (await createCredential(db, { customerId, scopes: ['withdraw'] })).credentialId;
    const c = await submit('same', ethRequest('0.6'));
    expect(c.created).toBe(true);
    expect(c.withdrawal.id).not.toBe(a.withdrawal.id);
  });

  it('20 parallel submissions with the same key create exactly one row', async () => {
    const n0 = await nextNonce();
    const auditBefore = await count(db, 'audit_entries');
    const results = await Promise.all(Array.from({ length: 20 }, () => submit('race', ethRequest('0.25'))));
    const ids = new Set(results.map((r) => r.withdrawal.id));
    expect(ids.size).toBe(1);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(await customerRows()).toBe(1);
    expect(await nextNonce()).toBe(n0 + 1n);
    // Losers rolled back whole: only the winner's two audit entries were added.
    expect(await count(db, 'audit_entries')).toBe(auditBefore + 2);
    const page = await listWithdrawals(db, { customerId, limit: 10 });
    expect(page.items.map((w) => w.id)).toEqual([...ids]);
  });
});
