/**
 * The checkpoint schedule signs when the tree grew (and only then), copies every checkpoint to
 * the file, and signs the tail on stop; the development key is created once under the data
 * directory (0600) and reused.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../store/db.js';
import { TEST_DBS } from '../store/test-helpers/db.js';
import { appendAudit, sealPending } from './chain.js';
import { openCheckpoint } from './checkpoint.js';
import { DEVELOPMENT_CHECKPOINT_KEY_FILE, openCheckpointKey } from './checkpoint-key.js';
import { startCheckpointSchedule } from './checkpoint-schedule.js';
import { listCheckpoints } from './checkpointer.js';
import { parseVerifierKey } from './note.js';

describe('checkpoint schedule (PGlite)', () => {
  let db: Db;
  let dir: string;
  const env = { CUSTOS_AUDIT_ORIGIN: 'custos.test/schedule' };

  beforeAll(async () => {
    db = await TEST_DBS[0]!.open();
    dir = mkdtempSync(join(tmpdir(), 'custos-cp-'));
  }, 60_000);
  afterAll(async () => {
    await db?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('signs when the tree grew, not otherwise, and the tail on stop', async () => {
    const errors: Error[] = [];
    const schedule = await startCheckpointSchedule(db, { dataDir: dir, env, everyMs: 50, onError: (e) => errors.push(e) });
    expect(schedule.description).toContain('development');
    const add = async (i: number) => {
      await db.tx((q) => appendAudit(q, { at: 1_750_000_000_000 + i, actor: 'system', action: 'test', subject: `t:${i}`, data: {} }));
      while ((await sealPending(db)) > 0);
    };
    await add(1);
    await expect.poll(async () => (await listCheckpoints(db)).length, { timeout: 10_000 }).toBe(1);
    await new Promise((r) => setTimeout(r, 300)); // several ticks, no growth
    expect(await listCheckpoints(db)).toHaveLength(1);
    await add(2);
    await expect.poll(async () => (await listCheckpoints(db)).at(-1)?.size, { timeout: 10_000 }).toBe(2);
    await schedule.stop();
    const n = (await listCheckpoints(db)).length;
    await add(3);
    await new Promise((r) => setTimeout(r, 200));
    expect(await listCheckpoints(db)).toHaveLength(n); // stopped
    expect(errors).toEqual([]);

    const verifier = parseVerifierKey(schedule.verifierKey);
    const file = readFileSync(join(dir, 'checkpoints.log'), 'utf8').trim().split('\n');
    expect(file).toHaveLength(n);
    for (const line of file) openCheckpoint((JSON.parse(line) as { note: string }).note, [verifier], 'custos.test/schedule');
    // the development key is kept (0600) and reused
    expect(statSync(join(dir, DEVELOPMENT_CHECKPOINT_KEY_FILE)).mode & 0o777).toBe(0o600);
    const again = await openCheckpointKey({ dataDir: dir, env });
    expect(again.verifierKey).toBe(schedule.verifierKey);
    expect(JSON.stringify(again)).not.toContain(readFileSync(join(dir, DEVELOPMENT_CHECKPOINT_KEY_FILE), 'utf8').match(/"seed":"([0-9a-f]+)"/)![1]);
  }, 30_000);
});
