import { describe, expect, it } from 'vitest';
import { statementConfig } from './postgres.js';
import { DATABASE_URL, openPostgresSchema } from './test-helpers/db.js';

describe('statementConfig', () => {
  it('names a parameterised statement by a hash of its text: the same text, the same name; another text, another name', () => {
    const a = statementConfig('SELECT $1::int AS x', [1]);
    const b = statementConfig('SELECT $1::int AS x', [2]);
    const c = statementConfig('SELECT $1::int AS y', [1]);
    expect(a.name).toMatch(/^custos_[0-9a-f]{24}$/);
    expect(b.name).toBe(a.name);
    expect(b.values).toEqual([2]);
    expect(c.name).not.toBe(a.name);
  });

  it('leaves statements without parameters unnamed (scripts, BEGIN, COMMIT)', () => {
    expect(statementConfig('COMMIT', []).name).toBeUndefined();
  });
});

describe.skipIf(!DATABASE_URL)('queryAndCommit (PostgreSQL)', () => {
  it('commits with the last statement; a failing last statement commits nothing; nothing runs after it', async () => {
    const db = await openPostgresSchema(2);
    try {
      await db.exec('CREATE TABLE qc (id int PRIMARY KEY, v text NOT NULL)');
      const rows = await db.tx(async (q) => {
        await q.query('INSERT INTO qc VALUES ($1, $2)', [1, 'a']);
        return q.queryAndCommit?.<{ id: number }>('INSERT INTO qc VALUES ($1, $2) RETURNING id', [2, 'b']);
      });
      expect(rows).toEqual([{ id: 2 }]);
      await expect(db.tx(async (q) => {
        await q.query('INSERT INTO qc VALUES ($1, $2)', [3, 'c']);
        await q.queryAndCommit?.('INSERT INTO qc VALUES ($1, $2)', [1, 'duplicate']); // fails: primary key
      })).rejects.toMatchObject({ code: '23505' });
      await expect(db.tx(async (q) => {
        await q.queryAndCommit?.('INSERT INTO qc VALUES ($1, $2)', [4, 'd']);
        await q.query('INSERT INTO qc VALUES ($1, $2)', [5, 'e']);
      })).rejects.toThrow(/after queryAndCommit/);
      // 3 rolled back with the failed statement; 4 committed before the refused query
      expect(await db.query<{ id: number }>('SELECT id FROM qc ORDER BY id')).toEqual([{ id: 1 }, { id: 2 }, { id: 4 }]);
    } finally {
      await db.close();
    }
  });
});

describe.skipIf(!DATABASE_URL)('Db.session (PostgreSQL)', () => {
  const held = async (db: Awaited<ReturnType<typeof openPostgresSchema>>, key: number) =>
    (await db.query<{ n: string }>("SELECT count(*)::text AS n FROM pg_locks WHERE locktype = 'advisory' AND objid = $1", [key]))[0]?.n;

  it('holds session advisory locks until the end, also across statements; each statement commits on its own; released after the last one', async () => {
    const db = await openPostgresSchema(3);
    try {
      await db.exec('CREATE TABLE ss (id int PRIMARY KEY)');
      await db.session(async (q) => {
        expect(q.advisoryLocks).toBe('session');
        await q.query('SELECT pg_advisory_lock($1::bigint)', [424_242]);
        await q.query('INSERT INTO ss VALUES (1)');
        // another connection sees the first statement's row and the lock while the session goes on
        expect(await db.query('SELECT id FROM ss')).toEqual([{ id: 1 }]);
        expect(await held(db, 424_242)).toBe('1');
        expect((await db.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS ok', [424_242]))[0]?.ok).toBe(false);
        await q.queryAndCommit?.('INSERT INTO ss VALUES (2)');
        await expect(q.query('SELECT 1')).rejects.toThrow(/after queryAndCommit/);
      });
      expect(await held(db, 424_242)).toBe('0');
      expect(await db.query('SELECT id FROM ss ORDER BY id')).toEqual([{ id: 1 }, { id: 2 }]);
    } finally {
      await db.close();
    }
  });

  it('releases the locks when the last statement fails (nothing of it kept) and when fn throws', async () => {
    const db = await openPostgresSchema(2);
    try {
      await db.exec('CREATE TABLE sf (id int PRIMARY KEY)');
      await expect(db.session(async (q) => {
        await q.query('SELECT pg_advisory_lock($1::bigint)', [424_243]);
        await q.queryAndCommit?.('WITH a AS (INSERT INTO sf VALUES (7) RETURNING 1) INSERT INTO sf VALUES (7)');
      })).rejects.toMatchObject({ code: '23505' });
      expect(await held(db, 424_243)).toBe('0');
      expect(await db.query('SELECT id FROM sf')).toEqual([]);
      await expect(db.session(async (q) => {
        await q.query('SELECT pg_advisory_lock($1::bigint)', [424_244]);
        throw new Error('decided otherwise');
      })).rejects.toThrow('decided otherwise');
      expect(await held(db, 424_244)).toBe('0');
    } finally {
      await db.close();
    }
  });
});
