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
