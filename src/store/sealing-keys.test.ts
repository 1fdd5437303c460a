import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from './db.js';
import { SqlSealingKeyStore } from './sealing-keys.js';
import { TEST_DBS } from './test-helpers/db.js';

describe.each(TEST_DBS)('SqlSealingKeyStore ($name)', (t) => {
  let db: Db;
  beforeAll(async () => {
    db = await t.open();
  });
  afterAll(async () => {
    await db?.close();
  });

  it('stores one wrapped blob per node, keeps the first under concurrent enrolment, and refuses to replace it', async () => {
    const store = new SqlSealingKeyStore(db);
    const a = new Uint8Array(40).fill(1);
    const b = new Uint8Array(40).fill(2);
    const [first, second] = await Promise.all([store.putIfAbsent('node-1', a, 1_000), store.putIfAbsent('node-1', b, 2_000)]);
    expect([first.created, second.created].sort()).toEqual([false, true]);
    expect(second.wrapped).toEqual(first.wrapped);
    const kept = await store.get('node-1');
    expect(kept).toEqual(first.wrapped);
    expect(kept).toBeInstanceOf(Uint8Array);
    expect(await store.get('node-2')).toBeUndefined();
    await store.putIfAbsent('node-0', a, 3_000);
    expect(await store.list()).toEqual(['node-0', 'node-1']);
    await expect(db.query("UPDATE enclave_sealing_keys SET wrapped = $1 WHERE node_id = 'node-1'", [Buffer.from(b)])).rejects.toThrow(/never replaced/);
    await expect(store.putIfAbsent('bad id!', a, 1)).rejects.toThrow();
  });
});
