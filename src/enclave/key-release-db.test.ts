import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../core/clock.js';
import { DevelopmentHsm } from '../hsm/development-hsm.js';
import { ensureStandardKeys } from '../hsm/standard-keys.js';
import type { Db, Queryable } from '../store/db.js';
import { TEST_DBS } from '../store/test-helpers/db.js';
import { developmentEnclaveWithMeasurement, keyReleaseDepsFromDataDir } from './development-node.js';
import { addDevelopmentMeasurement, initDevelopmentTrust } from './development-trust.js';
import { obtainSealingKey } from './key-release-client.js';
import { keyReleaseDbHooks } from './key-release-db.js';
import { handleReleaseRequest, issueReleaseNonce, type KeyReleaseDeps } from './key-release.js';
import { measureEntries } from './measure.js';

const clock = manualClock(Date.UTC(2026, 10, 24, 6));
const measure = (text: string) => measureEntries([{ name: 'node.js', content: new TextEncoder().encode(text) }]);
let dir: string;
let hsm: DevelopmentHsm;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'custos-kr-db-'));
  initDevelopmentTrust(dir, { now: clock.now() });
  addDevelopmentMeasurement(dir, { name: 'node-1 v1', pcr0: measure('v1'), now: clock.now() });
  hsm = await DevelopmentHsm.open({ dataDir: dir, passphrase: 'key release db test', scrypt: { N: 2 ** 14, r: 8, p: 1 } });
  await ensureStandardKeys(hsm);
});
afterAll(async () => {
  await hsm?.close();
  rmSync(dir, { recursive: true, force: true });
});

const transport = (deps: KeyReleaseDeps) => ({ nonce: async () => issueReleaseNonce(deps), release: (r: Parameters<typeof handleReleaseRequest>[0]) => handleReleaseRequest(r, deps) });
const enclaveOf = (code: string) => developmentEnclaveWithMeasurement({ dataDir: dir, moduleId: 'custos-development-node-1', measurement: measure(code), clock });

interface AuditRow {
  action: string;
  subject: string;
  body: string;
}

describe.each(TEST_DBS)('key release with a database ($name)', (t) => {
  let db: Db;
  beforeAll(async () => {
    db = await t.open();
  });
  afterAll(async () => {
    await db?.close();
  });

  it('keeps the wrapped key in the table, audits the release, and writes a refusal alert and its audit entry together', async () => {
    const deps = keyReleaseDepsFromDataDir(dir, { hsm, clock, nodeIds: ['node-1'], ...keyReleaseDbHooks(db, { clock }) });
    const key = await obtainSealingKey({ transport: transport(deps), enclave: enclaveOf('v1'), nodeId: 'node-1' });
    const [row] = await db.query<{ wrapped: Uint8Array }>("SELECT wrapped FROM enclave_sealing_keys WHERE node_id = 'node-1'");
    expect(row?.wrapped.length).toBeGreaterThanOrEqual(40);
    expect(Buffer.from(row!.wrapped).includes(Buffer.from(key))).toBe(false);
    const again = await obtainSealingKey({ transport: transport(deps), enclave: enclaveOf('v1'), nodeId: 'node-1' });
    expect(again).toEqual(key);

    await expect(obtainSealingKey({ transport: transport(deps), enclave: enclaveOf('v1 with one byte changed'), nodeId: 'node-1' })).rejects.toMatchObject({ code: 'attestation_measurement' });

    const audit = await db.query<AuditRow>("SELECT action, subject, body FROM audit_entries WHERE action LIKE 'key_release.%' ORDER BY id");
    expect(audit.map((a) => a.action)).toEqual(['key_release.released', 'key_release.released', 'key_release.refused']);
    const released = JSON.parse(audit[0]!.body) as { data: Record<string, unknown> };
    expect(released.data).toMatchObject({ nodeId: 'node-1', measurement: 'node-1 v1', pcr0: Buffer.from(measure('v1')).toString('hex'), enrolled: true });
    expect(JSON.parse(audit[1]!.body).data).toMatchObject({ enrolled: false });
    const refused = JSON.parse(audit[2]!.body) as { subject: string; data: Record<string, unknown> };
    expect(refused.subject).toBe('node:node-1');
    expect(refused.data).toMatchObject({ code: 'attestation_measurement', nodeId: 'node-1', pcr0: Buffer.from(measure('v1 with one byte changed')).toString('hex'), severity: 'critical' });
    const alerts = await db.query<{ kind: string; severity: string; details: unknown }>('SELECT kind, severity, details FROM alerts_outbox');
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ kind: 'key_release.refused', severity: 'critical' });
    const text = JSON.stringify({ audit, alerts });
    expect(text).not.toContain(Buffer.from(key).toString('hex'));
    expect(text).not.toContain(Buffer.from(key).toString('base64'));
  });

  it('fails closed: when the audit entry cannot be written, no key leaves', async () => {
    const failing: Db = Object.assign(Object.create(db) as Db, {
      query: (sql: string, params?: unknown[]) => (sql.includes('audit_entries') ? Promise.reject(new Error('audit down')) : db.query(sql, params)),
      tx: <T>(fn: (q: Queryable) => Promise<T>) => db.tx((q) => fn({ query: (sql, params) => (sql.includes('audit_entries') ? Promise.reject(new Error('audit down')) : q.query(sql, params)) })),
    });
    const deps = keyReleaseDepsFromDataDir(dir, { hsm, clock, nodeIds: ['node-1'], ...keyReleaseDbHooks(failing, { clock }) });
    await expect(obtainSealingKey({ transport: transport(deps), enclave: enclaveOf('v1'), nodeId: 'node-1' })).rejects.toMatchObject({ code: 'key_release_unavailable' });
  });
});
