import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CustosError } from '../../core/errors.js';
import { openDb, type Db } from '../../store/db.js';
import { migrate } from '../../store/migrate.js';
import { auditedKeygen } from './audited-keygen.js';
import type { KeyInfo } from './coordinator.js';

describe('auditedKeygen', () => {
  let db: Db;
  beforeAll(async () => {
    db = await openDb({ inMemory: true });
    await migrate(db);
  }, 60_000);
  afterAll(async () => db?.close());

  const entries = async (subject: string) =>
    (await db.query<{ action: string; body: string }>('SELECT action, body FROM audit_entries WHERE subject = $1 ORDER BY id', [subject])).map((r) => ({
      action: r.action,
      data: (JSON.parse(r.body) as { data: Record<string, unknown> }).data,
    }));

  it('records the start before any node is asked, then the key with its public key', async () => {
    let startedBeforeCall = false;
    const coordinator = {
      keygen: async (p: { keyId?: string }): Promise<KeyInfo> => {
        startedBeforeCall = (await entries(`key:${p.keyId}`)).length === 1;
        return { keyId: p.keyId as string, suite: 'ed25519', protocol: 'frost', threshold: 2, parties: ['n1', 'n2', 'n3'], publicKey: 'ab'.repeat(32), generation: 0, holders: ['n1', 'n2', 'n3'] };
      },
    };
    const key = await auditedKeygen(db, coordinator, { scheme: 'ed25519', threshold: 2, keyId: 'k1' }, 'operator:test');
    expect(startedBeforeCall).toBe(true);
    expect(key.keyId).toBe('k1');
    const log = await entries('key:k1');
    expect(log.map((e) => e.action)).toEqual(['key.generation_started', 'key.generated']);
    expect(log[1]!.data).toMatchObject({ publicKey: 'ab'.repeat(32), parties: ['n1', 'n2', 'n3'], scheme: 'ed25519', threshold: 2 });
  });

  it('a failed generation is recorded with its code and rethrown; a key id is chosen when none is given', async () => {
    let asked = '';
    const failing = {
      keygen: async (p: { keyId?: string }): Promise<KeyInfo> => {
        asked = p.keyId as string;
        throw new CustosError('mpc_not_enough_nodes', 'two nodes are down', 503);
      },
    };
    await expect(auditedKeygen(db, failing, { scheme: 'ecdsa', threshold: 3 }, 'operator:test')).rejects.toMatchObject({ code: 'mpc_not_enough_nodes' });
    expect(asked).toMatch(/^ecdsa-[0-9a-f]{12}$/);
    expect((await entries(`key:${asked}`)).map((e) => `${e.action}:${String(e.data.code ?? '')}`)).toEqual(['key.generation_started:', 'key.generation_failed:mpc_not_enough_nodes']);
  });

  it('fails closed: without a writable audit log no node is asked', async () => {
    const closed = await openDb({ inMemory: true }); // never migrated: no audit table
    let called = false;
    await expect(auditedKeygen(closed, { keygen: async () => ((called = true), ({} as KeyInfo)) }, { scheme: 'ed25519', threshold: 2 }, 'operator:test')).rejects.toThrow();
    expect(called).toBe(false);
    await closed.close();
  });
});
