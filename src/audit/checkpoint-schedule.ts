/**
 * The server's checkpoint schedule in one call: opens the checkpoint key (HSM or development
 * key, see checkpoint-key.ts), signs a checkpoint every CUSTOS_AUDIT_CHECKPOINT_EVERY_S seconds
 * when the tree grew, and on stop signs a last one (so a clean shutdown leaves no unsigned tail)
 * and closes the key.
 *
 * @example
 *   const checkpoints = await startCheckpointSchedule(db, { dataDir, onError: (e) => log.error(e.message) });
 *   // … on shutdown, after the last sealPending:
 *   await checkpoints.stop();
 */
import { enqueueAlert } from '../alerts/outbox.js';
import { hsmEventAlert } from '../hsm/pkcs11-hsm.js';
import type { Db } from '../store/db.js';
import { auditConfigFromEnv, openCheckpointKey } from './checkpoint-key.js';
import { AuditCheckpointer } from './checkpointer.js';

export interface CheckpointSchedule {
  checkpointer: AuditCheckpointer;
  verifierKey: string;
  description: string;
  stop(): Promise<void>;
}

export async function startCheckpointSchedule(
  db: Db,
  opts: { dataDir: string; env?: NodeJS.ProcessEnv; everyMs?: number; onError: (err: Error) => void },
): Promise<CheckpointSchedule> {
  const cfg = auditConfigFromEnv(opts.env ?? process.env, opts.dataDir);
  const key = await openCheckpointKey({
    dataDir: opts.dataDir, origin: cfg.origin, env: opts.env ?? process.env,
    // The HSM holding the checkpoint key: its faults go to the alerts outbox.
    onHsmEvent: (e, label) => void enqueueAlert(db, hsmEventAlert(e, label), Date.now()).catch(() => {}),
  });
  const checkpointer = new AuditCheckpointer(db, { origin: cfg.origin, signer: key.signer, file: cfg.file, witnessUrl: cfg.witnessUrl });
  const stopTimer = checkpointer.start(opts.everyMs ?? cfg.everyMs, opts.onError);
  let stopped = false;
  return {
    checkpointer,
    verifierKey: key.verifierKey,
    description: key.description,
    async stop() {
      if (stopped) return;
      stopped = true;
      await stopTimer();
      await checkpointer.issue({ onError: opts.onError }).catch((err: unknown) => opts.onError(err instanceof Error ? err : new Error(String(err))));
      await key.close();
    },
  };
}
