/**
 * The keys custos keeps in its HSM, by label, and `ensureStandardKeys` that creates the missing
 * ones (what `custos hsm init` runs after the token exists): the root KEK (wraps every node's
 * sealing key), the approval key (signs approval tokens for high-value withdrawals) and the audit
 * checkpoint key (signs audit log checkpoints). Existing keys are kept, never replaced.
 *
 * @example
 *   const keys = await ensureStandardKeys(hsm);
 *   keys.approval.publicKey; // pin this in every MPC node's configuration
 */
import { CustosError } from '../core/errors.js';
import type { Hsm, HsmKeyInfo } from './hsm.js';

export const HSM_KEY_LABELS = {
  rootKek: 'custos-root-kek',
  approval: 'custos-approval',
  checkpoint: 'custos-audit-checkpoint',
} as const;

export interface StandardKeys {
  rootKek: HsmKeyInfo;
  approval: HsmKeyInfo & { publicKey: Uint8Array };
  checkpoint: HsmKeyInfo & { publicKey: Uint8Array };
  /** Labels created by this call (empty when everything existed). */
  created: string[];
}

export async function ensureStandardKeys(hsm: Hsm, options: { backupableRootKek?: boolean } = {}): Promise<StandardKeys> {
  const created: string[] = [];
  const get = async (label: string, make: () => Promise<HsmKeyInfo>, kind: HsmKeyInfo['kind']): Promise<HsmKeyInfo> => {
    const found = await hsm.findKey(label);
    if (found) {
      if (found.kind !== kind) throw new CustosError('hsm_key_kind_mismatch', `HSM key "${label}" exists but is ${found.kind}, not ${kind}`, 409);
      return found;
    }
    created.push(label);
    return make();
  };
  const rootKek = await get(HSM_KEY_LABELS.rootKek, () => hsm.generateAesKek(HSM_KEY_LABELS.rootKek, { backupable: options.backupableRootKek === true }), 'aes-256');
  const approval = await get(HSM_KEY_LABELS.approval, () => hsm.generateEd25519(HSM_KEY_LABELS.approval), 'ed25519');
  const checkpoint = await get(HSM_KEY_LABELS.checkpoint, () => hsm.generateEd25519(HSM_KEY_LABELS.checkpoint), 'ed25519');
  return {
    rootKek,
    approval: { ...approval, publicKey: await hsm.publicKey(HSM_KEY_LABELS.approval) },
    checkpoint: { ...checkpoint, publicKey: await hsm.publicKey(HSM_KEY_LABELS.checkpoint) },
    created,
  };
}
