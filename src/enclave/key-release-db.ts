/**
 * Key release with a database: wrapped sealing keys in `enclave_sealing_keys`
 * (`SqlSealingKeyStore`), every decision in the audit log, every refusal also in the alerts
 * outbox. A refusal's alert and its audit entry (`key_release.refused`: code, reason, node id,
 * module id, root, PCR0) are written in one transaction, so neither exists without the other; a
 * release writes `key_release.released` (node id, measurement name, PCR0, allowlist version,
 * enrolled) before the key leaves — if that write fails, `handleReleaseRequest` refuses the release.
 * No entry or alert carries key material.
 *
 * @example
 *   const deps = keyReleaseDepsFromDataDir(dataDir, { hsm, ...keyReleaseDbHooks(db) });
 */
import { enqueueAlert, type Alert } from '../alerts/outbox.js';
import { appendAudit } from '../audit/chain.js';
import { systemClock, type Clock } from '../core/clock.js';
import type { Db } from '../store/db.js';
import { SqlSealingKeyStore } from '../store/sealing-keys.js';
import type { KeyReleaseEvent } from './key-release.js';
import type { SealingKeyStore } from './sealing-key-store.js';

/** The audit actor of key-release decisions. */
export const KEY_RELEASE_ACTOR = 'key-release-service';

export interface KeyReleaseDbHooks {
  store: SealingKeyStore;
  raiseAlert: (alert: Alert) => Promise<void>;
  recordRelease: (event: KeyReleaseEvent) => Promise<void>;
}

export function keyReleaseDbHooks(db: Db, options: { clock?: Clock } = {}): KeyReleaseDbHooks {
  const clock = options.clock ?? systemClock;
  return {
    store: new SqlSealingKeyStore(db),
    async raiseAlert(alert) {
      const now = clock.now();
      const nodeId = typeof alert.details.nodeId === 'string' ? alert.details.nodeId : undefined;
      await db.tx(async (q) => {
        await enqueueAlert(q, alert, now);
        await appendAudit(q, {
          at: now,
          actor: KEY_RELEASE_ACTOR,
          action: 'key_release.refused',
          subject: nodeId ? `node:${nodeId}` : 'key-release',
          data: { severity: alert.severity, ...alert.details },
        });
      });
    },
    async recordRelease(e) {
      await appendAudit(db, {
        at: e.at,
        actor: KEY_RELEASE_ACTOR,
        action: 'key_release.released',
        subject: `node:${e.nodeId}`,
        data: { nodeId: e.nodeId, measurement: e.measurement, pcr0: e.pcr0, allowlistVersion: e.allowlistVersion, moduleId: e.moduleId, root: e.root, enrolled: e.enrolled },
      });
    },
  };
}
