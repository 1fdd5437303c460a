import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDb, type Db, type Queryable } from '../store/db.js';
import { migrate } from '../store/migrate.js';
import { SqlTreeNodeStore, UpperNodeCache } from './sql-tree-store.js';
import { MerkleTree } from './tree.js';

describe('SqlTreeNodeStore with the upper-level cache', () => {
  let db: Db;
  const LEAVES = 3000;
  beforeAll(async () => {
    db = await openDb({ inMemory: true });
    await migrate(db);
    await db.tx(async (q) => {
      const tree = await MerkleTree.open(new SqlTreeNodeStore(q), 0);
      await tree.append(Array.from({ length: LEAVES }, () => new Uint8Array(randomBytes(32))));
    });
  }, 60_000);
  afterAll(async () => db?.close());

  /** Counts the node ids each query asks the database for. */
  const counting = (q: Queryable) => {
    const asked: number[] = [];
    return {
      asked,
      q: { query: async <R>(sql: string, params?: unknown[]) => (asked.push((params?.[0] as unknown[] | undefined)?.length ?? 0), q.query<R>(sql, params)) } as Queryable,
    };
  };

  it('gives the same proofs and roots as the plain store, and reads only the low levels once the upper ones are cached', async () => {
    const plain = await MerkleTree.open(new SqlTreeNodeStore(db), LEAVES);
    const c = counting(db);
    const cache = new UpperNodeCache(4);
    const cached = await MerkleTree.open(new SqlTreeNodeStore(c.q, cache), LEAVES);
    for (const i of [0, 1, 777, 1500, 2999]) {
      expect((await cached.inclusionProof(i, LEAVES)).map((h) => Buffer.from(h).toString('hex'))).toEqual(
        (await plain.inclusionProof(i, LEAVES)).map((h) => Buffer.from(h).toString('hex')),
      );
    }
    expect(Buffer.from(await cached.rootAt(2048)).equals(Buffer.from(await plain.rootAt(2048)))).toBe(true);
    expect((await cached.consistencyProof(1000, LEAVES)).length).toBe((await plain.consistencyProof(1000, LEAVES)).length);
    // a proof next to one already served: every node of level ≥ 4 comes from the cache; the
    // database is asked only for the low levels (the path's 4 and the right edge's level-3 node)
    const p = counting(db);
    await (await MerkleTree.open(new SqlTreeNodeStore(p.q), LEAVES)).inclusionProof(778, LEAVES);
    c.asked.length = 0;
    await cached.inclusionProof(778, LEAVES);
    const total = (xs: number[]) => xs.reduce((a, n) => a + n, 0);
    expect(total(c.asked)).toBe(5);
    expect(total(p.asked)).toBeGreaterThan(10);
  });

  it('stays bounded, loading the top levels first', async () => {
    const cache = new UpperNodeCache(0, 10);
    for (let i = 0; i < 25; i++) cache.put(0, i, new Uint8Array(32));
    expect(cache.size).toBe(10); // full: later nodes are read from the database
    expect(cache.get(0, 24)).toBeUndefined();
    expect(new UpperNodeCache(8).get(3, 0)).toBeUndefined(); // low levels never cached
    const warm = new UpperNodeCache(4, 50);
    await warm.warm(db);
    expect(warm.size).toBe(50);
    expect(warm.get(11, 0)).toBeDefined(); // the top of a 3,000-leaf tree (level 11 covers 2,048)
  });
});
