import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../core/clock.js';
import { activeApproverKey, listApproverKeys } from '../store/approvers.js';
import type { Db } from '../store/db.js';
import { TEST_DBS } from '../store/test-helpers/db.js';
import { newApprovalKeyFile, parseApprovalKeyFile } from './key-file.js';
import { addApprover, parseApprovalPublicKey, revokeApprover } from './registry.js';

const pub = () => bytesToHex(ed25519.getPublicKey(ed25519.utils.randomSecretKey()));

describe.each(TEST_DBS)('approver registry on $name', (backend) => {
  let db: Db;
  const clock = manualClock(Date.UTC(2030, 0, 1));
  beforeAll(async () => {
    db = await backend.open();
  }, 60_000);
  afterAll(async () => {
    await db?.close();
  });
  const audit = async (id: string) => (await db.query<{ action: string }>('SELECT action FROM audit_entries WHERE subject = $1 ORDER BY id', [`approver:${id}`])).map((r) => r.action);

  it('adds, rotates and revokes, each audited; a key is registered once only, for one approver', async () => {
    const k1 = pub();
    await addApprover(db, clock, { approverId: 'alice', publicKey: k1, label: 'Alice' }, 'operator');
    expect(await activeApproverKey(db, 'alice')).toMatchObject({ approverId: 'alice', publicKey: k1, label: 'Alice', revokedAt: null });
    // a second active key for alice, alice's key for bob, alice's key again: refused
    await expect(addApprover(db, clock, { approverId: 'alice', publicKey: pub() }, 'operator')).rejects.toMatchObject({ code: 'approver_exists', status: 409 });
    await expect(addApprover(db, clock, { approverId: 'bob', publicKey: k1 }, 'operator')).rejects.toMatchObject({ code: 'approver_key_in_use', status: 409 });
    await expect(addApprover(db, clock, { approverId: 'alice', publicKey: k1 }, 'operator')).rejects.toMatchObject({ code: 'approver_key_in_use' });
    // rotation: revoke, then a new key; the old key can never come back, not for alice, not for anyone
    await revokeApprover(db, clock, 'alice', 'operator');
    expect(await activeApproverKey(db, 'alice')).toBeNull();
    await expect(revokeApprover(db, clock, 'alice', 'operator')).rejects.toMatchObject({ code: 'approver_not_registered', status: 404 });
    await expect(addApprover(db, clock, { approverId: 'alice', publicKey: k1 }, 'operator')).rejects.toMatchObject({ code: 'approver_key_in_use' });
    await expect(addApprover(db, clock, { approverId: 'carol', publicKey: k1 }, 'operator')).rejects.toMatchObject({ code: 'approver_key_in_use' });
    const k2 = pub();
    await addApprover(db, clock, { approverId: 'alice', publicKey: k2 }, 'operator');
    expect((await activeApproverKey(db, 'alice'))?.publicKey).toBe(k2);
    expect((await listApproverKeys(db)).map((k) => k.publicKey)).toEqual([k2]);
    expect((await listApproverKeys(db, { includeRevoked: true })).map((k) => k.publicKey)).toEqual([k2, k1]);
    expect(await audit('alice')).toEqual(['approver.added', 'approver.revoked', 'approver.added']);
  });

  it('two concurrent registrations of one approver: one wins', async () => {
    const r = await Promise.allSettled([addApprover(db, clock, { approverId: 'dave', publicKey: pub() }, 'op'), addApprover(db, clock, { approverId: 'dave', publicKey: pub() }, 'op')]);
    expect(r.filter((x) => x.status === 'fulfilled')).toHaveLength(1);
    expect(r.find((x) => x.status === 'rejected')).toMatchObject({ reason: { code: 'approver_exists' } });
    expect(await audit('dave')).toEqual(['approver.added']);
  });

  it('a decision holding the key FOR SHARE makes a concurrent revocation wait until it commits', async () => {
    // (PGlite has one connection, so transactions queue anyway: the PostgreSQL variant is the one that tests the row lock)
    await addApprover(db, clock, { approverId: 'erin', publicKey: pub() }, 'op');
    let revoked = false;
    let revocation: Promise<unknown> | undefined;
    await db.tx(async (q) => {
      expect(await activeApproverKey(q, 'erin', { forShare: true })).not.toBeNull();
      revocation = revokeApprover(db, clock, 'erin', 'op').then(() => (revoked = true));
      await new Promise((r) => setTimeout(r, 300));
      expect(revoked).toBe(false); // still waiting for this transaction
    });
    await revocation;
    expect(revoked).toBe(true);
    expect(await activeApproverKey(db, 'erin')).toBeNull();
  });

  it('refuses malformed ids, keys that are not points or of small order, long labels; nothing is written', async () => {
    for (const [input, code] of [
      [{ approverId: 'a b', publicKey: pub() }, 'approver_id_invalid'],
      [{ approverId: 'eve', publicKey: 'AB'.repeat(32) }, 'approver_key_invalid'],
      [{ approverId: 'eve', publicKey: 'ab'.repeat(31) }, 'approver_key_invalid'],
      [{ approverId: 'eve', publicKey: `01${'00'.repeat(31)}` }, 'approver_key_invalid'], // the identity point
      [{ approverId: 'eve', publicKey: pub(), label: 'x'.repeat(201) }, 'approver_label_too_long'],
    ] as const) {
      await expect(addApprover(db, clock, input, 'operator')).rejects.toMatchObject({ code });
    }
    expect(await audit('eve')).toEqual([]);
    expect(parseApprovalPublicKey(pub())).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('approval key file', () => {
  it('round-trips, names the approver, and refuses a damaged or foreign file without quoting it', () => {
    const sk = ed25519.utils.randomSecretKey();
    const { text, publicKey } = newApprovalKeyFile('alice', sk);
    const k = parseApprovalKeyFile(text);
    expect(k).toMatchObject({ approver: 'alice', publicKey });
    expect(bytesToHex(k.secretKey)).toBe(bytesToHex(sk));
    const o = JSON.parse(text) as Record<string, string>;
    const damaged = JSON.stringify({ ...o, secretKey: o.secretKey!.replace(/^./, (c) => (c === '0' ? '1' : '0')) });
    for (const bad of [damaged, 'not json', JSON.stringify({ ...o, type: 'other' }), JSON.stringify({ ...o, approver: 'a b' }), o.secretKey!]) {
      let err: unknown;
      try {
        parseApprovalKeyFile(bad);
      } catch (e) {
        err = e;
      }
      expect(err).toMatchObject({ code: 'approval_key_file_invalid' });
      expect(JSON.stringify({ m: (err as Error).message, e: err })).not.toContain(o.secretKey!.slice(2, 40));
    }
  });
});
