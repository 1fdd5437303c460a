import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { openDb } from '../store/db.js';
import { migrate } from '../store/migrate.js';
import { appendAudit, auditRedactionFromEnv, configureAuditRedaction, sealPending, verifyChain } from './chain.js';
import { hmacField } from './redact.js';

describe('audit entry redaction (HMAC of configured fields)', () => {
  afterEach(() => configureAuditRedaction(null));

  it('replaces configured fields by their HMAC in the stored body; the chain still verifies', async () => {
    const key = new Uint8Array(randomBytes(32));
    configureAuditRedaction({ key, paths: ['data.customer', 'data.request.to'] });
    const db = await openDb({ inMemory: true });
    try {
      await migrate(db);
      await db.tx((q) =>
        appendAudit(q, { at: 0, actor: 'pipeline', action: 'withdrawal.received', subject: 'withdrawal:wd_1', data: { customer: 'acme-corp', request: { to: 'bc1qsecretdest', amount: '1' } } }),
      );
      while ((await sealPending(db)) > 0);
      const [row] = await db.query<{ body: string }>('SELECT body FROM audit_entries');
      expect(row?.body).not.toContain('acme-corp');
      expect(row?.body).not.toContain('bc1qsecretdest');
      expect(row?.body).toContain(hmacField(key, 'acme-corp'));
      expect(row?.body).toContain('"amount":"1"');
      expect((await verifyChain(db)).ok).toBe(true);
      configureAuditRedaction(null);
      await db.tx((q) => appendAudit(q, { at: 1, actor: 'pipeline', action: 'x', subject: 's', data: { customer: 'acme-corp' } }));
      const rows = await db.query<{ body: string }>('SELECT body FROM audit_entries ORDER BY id');
      expect(rows[1]?.body).toContain('acme-corp');
    } finally {
      await db.close();
    }
  });

  it('reads the key and paths from the environment and refuses a short key without echoing it', () => {
    expect(auditRedactionFromEnv({})).toBeNull();
    const hex = 'ab'.repeat(32);
    const cfg = auditRedactionFromEnv({ CUSTOS_AUDIT_HMAC_KEY: hex, CUSTOS_AUDIT_HMAC_FIELDS: 'data.customer, subject' });
    expect(cfg?.key.length).toBe(32);
    expect(cfg?.paths).toEqual(['data.customer', 'subject']);
    const short = auditRedactionFromEnv({ CUSTOS_AUDIT_HMAC_KEY: 'c2hvcnRrZXk=' });
    let message = '';
    try {
      configureAuditRedaction(short);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/at least 32 bytes/);
    expect(message).not.toContain('c2hvcnRrZXk');
  });
});
