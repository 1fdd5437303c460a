/**
 * The node store's journal: hot-path changes are one fdatasync'd appended line, replayed on open,
 * folded into the store file by every full rewrite; replays are idempotent and never move a
 * withdrawal's state backwards; a torn last line is ignored.
 */
import { randomBytes } from 'node:crypto';
import { appendFileSync, copyFileSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { JOURNAL_FILE, NodeStore, STORE_FILE } from './store.js';

const rng = (n: number) => new Uint8Array(randomBytes(n));
const kdfCost = { N: 1 << 10, r: 8, p: 1 };
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const open = (dir: string) => NodeStore.open({ dir, nodeId: 'n1', passphrase: 'correct horse', rng, kdfCost });
const presig = (id: string) => ({ id, keyId: 'k', generation: 0, signers: ['n1', 'n2'], R: '02' + '11'.repeat(32), createdAt: 1 });

describe('NodeStore journal', () => {
  it('a spent presignature and a withdrawal state live in the journal until the next rewrite, and survive a reopen', () => {
    const dir = mkdtempSync(join(tmpdir(), 'custos-journal-'));
    dirs.push(dir);
    const s = open(dir);
    const id = 'ab'.repeat(32);
    s.putPresignature(presig(id), { k: 'secret-k', chi: 'secret-chi' });
    const storeBefore = readFileSync(join(dir, STORE_FILE), 'utf8');
    expect(s.startWithdrawal('wd-1', 'dd'.repeat(32), 'ee'.repeat(32), 5)).toBe(true);
    expect(s.consumePresignature(id, { id: 'wd-1', now: 6 })).toEqual({ k: 'secret-k', chi: 'secret-chi' });
    // the store file was not rewritten; the journal carries the spend, the session and the withdrawal
    expect(readFileSync(join(dir, STORE_FILE), 'utf8')).toBe(storeBefore);
    const journal = readFileSync(join(dir, JOURNAL_FILE), 'utf8');
    expect(journal).toContain(`presig:${id}`);
    expect(journal).toContain('ee'.repeat(32));
    expect(journal).not.toContain('secret-k');
    s.setWithdrawalState('wd-1', 'signed', 7, { signature: 'aa'.repeat(64), publicKey: '02' + 'bb'.repeat(32) });
    // a crash now: reopen from the files (closing writes nothing, it only unlocks the directory)
    s.close();
    expect(readFileSync(join(dir, STORE_FILE), 'utf8')).toBe(storeBefore);
    const again = open(dir);
    expect(again.getPresignature(id)).toBeUndefined();
    expect(again.consumePresignature(id)).toBeUndefined();
    expect(again.withdrawal('wd-1')).toMatchObject({ state: 'signed', attempts: 1, signature: 'aa'.repeat(64) });
    expect(again.startWithdrawal('wd-1', 'dd'.repeat(32), 'ee'.repeat(32), 8)).toBe(false); // the session id stays used
    // opening folded the journal into the store file
    expect(statSync(join(dir, JOURNAL_FILE)).size).toBe(0);
    expect(readFileSync(join(dir, STORE_FILE), 'utf8')).toContain(`presig:${id}`);
  });

  it('a deferred spend is in memory and in the journal at once; durable settles after; a second spend fails', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'custos-journal-'));
    dirs.push(dir);
    const s = open(dir);
    const id = 'cd'.repeat(32);
    s.putPresignature(presig(id), { k: 'secret-k', chi: 'secret-chi' });
    s.startWithdrawal('wd-3', 'dd'.repeat(32), 'ef'.repeat(32), 5);
    const spent = s.spendPresignature(id, { id: 'wd-3', now: 6 });
    expect(spent?.secret).toEqual({ k: 'secret-k', chi: 'secret-chi' });
    expect(readFileSync(join(dir, JOURNAL_FILE), 'utf8')).toContain(`presig:${id}`); // written before the caller computes
    expect(s.spendPresignature(id, { id: 'wd-3', now: 7 })).toBeUndefined(); // no second spend while the sync runs
    expect(s.withdrawal('wd-3')?.state).toBe('share_released');
    await expect(spent?.durable).resolves.toBeUndefined();
    s.close();
    expect(open(dir).getPresignature(id)).toBeUndefined();
  });

  it('replays idempotently and monotonically (a stale journal after a rewrite changes nothing), ignoring a torn last line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'custos-journal-'));
    dirs.push(dir);
    const s = open(dir);
    s.startWithdrawal('wd-2', 'dd'.repeat(32), '01'.repeat(32), 1);
    expect(s.consumeNonce('nonce-1', { id: 'wd-2', now: 2 })).toBe(true);
    const stale = readFileSync(join(dir, JOURNAL_FILE));
    s.setWithdrawalState('wd-2', 'signed', 3);
    s.useSession('02'.repeat(32)); // a full rewrite: the journal is folded in and truncated
    expect(statSync(join(dir, JOURNAL_FILE)).size).toBe(0);
    // crash between a rewrite and the truncation: the old lines are still there, plus a torn one
    copyFileSync(join(dir, STORE_FILE), join(dir, `${STORE_FILE}.keep`));
    appendFileSync(join(dir, JOURNAL_FILE), stale);
    appendFileSync(join(dir, JOURNAL_FILE), '{"spent":["nonce-torn"');
    s.close();
    const again = open(dir);
    expect(again.withdrawal('wd-2')).toMatchObject({ state: 'signed', attempts: 1 });
    expect(again.isNonceSpent('nonce-1')).toBe(true);
    expect(again.isNonceSpent('nonce-torn')).toBe(false);
    expect(again.consumeNonce('nonce-1')).toBe(false);
  });
});
