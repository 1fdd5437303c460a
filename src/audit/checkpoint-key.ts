/**
 * Where the checkpoint signing key comes from, and the audit log's configuration from the
 * environment:
 *
 *   CUSTOS_AUDIT_ORIGIN            checkpoint origin line and key name (default `custos.local/audit`)
 *   CUSTOS_AUDIT_CHECKPOINT_FILE   checkpoint copy outside the database (default `<dataDir>/checkpoints.log`)
 *   CUSTOS_AUDIT_WITNESS_URL       optional witness that receives every new checkpoint note
 *   CUSTOS_AUDIT_CHECKPOINT_EVERY_S  schedule (default 10 s; only when the tree grew)
 *
 * Key: with an HSM configured (`CUSTOS_HSM=pkcs11`, or `CUSTOS_DEV_HSM_PASSPHRASE` for the
 * development HSM) the Ed25519 key labelled `custos-audit-checkpoint` signs inside the HSM
 * (created if absent). Otherwise a development software key kept in
 * `<dataDir>/audit-checkpoint-key.development.json` (mode 0600, created on first use) signs;
 * its description says "development" wherever it is shown.
 *
 * @example
 *   const key = await openCheckpointKey({ dataDir: '.custos' });
 *   const cp = new AuditCheckpointer(db, { ...auditConfigFromEnv(process.env, '.custos'), signer: key.signer });
 *   console.log(key.description, key.verifierKey); await key.close();
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CustosError } from '../core/errors.js';
import { HSM_KEY_LABELS } from '../hsm/standard-keys.js';
import { hsmConfigFromEnv, openHsm } from '../hsm/config.js';
import type { Hsm } from '../hsm/hsm.js';
import type { HsmEvent } from '../hsm/pkcs11-hsm.js';
import { formatVerifierKey, type NoteSigner } from './note.js';
import { ed25519SignerFromSeed } from './signer.js';

export const DEFAULT_AUDIT_ORIGIN = 'custos.local/audit';
export const DEVELOPMENT_CHECKPOINT_KEY_FILE = 'audit-checkpoint-key.development.json';

export interface AuditConfig {
  origin: string;
  file: string;
  witnessUrl: string | undefined;
  everyMs: number;
}

export function auditConfigFromEnv(env: NodeJS.ProcessEnv, dataDir: string): AuditConfig {
  const every = Number(env.CUSTOS_AUDIT_CHECKPOINT_EVERY_S ?? '10');
  if (!Number.isFinite(every) || every <= 0) throw new CustosError('audit_config_invalid', 'CUSTOS_AUDIT_CHECKPOINT_EVERY_S must be a positive number', 400);
  return {
    origin: env.CUSTOS_AUDIT_ORIGIN || DEFAULT_AUDIT_ORIGIN,
    file: env.CUSTOS_AUDIT_CHECKPOINT_FILE || join(dataDir, 'checkpoints.log'),
    witnessUrl: env.CUSTOS_AUDIT_WITNESS_URL || undefined,
    everyMs: Math.round(every * 1000),
  };
}

export interface CheckpointKey {
  signer: NoteSigner;
  /** `<name>+<key id>+<base64 key>`: hand this to auditors and witnesses. */
  verifierKey: string;
  description: string;
  close(): Promise<void>;
}

/** A NoteSigner whose Ed25519 key stays inside the HSM. */
export async function hsmNoteSigner(hsm: Hsm, name: string, label: string = HSM_KEY_LABELS.checkpoint): Promise<NoteSigner> {
  const info = await hsm.findKey(label);
  if (!info) await hsm.generateEd25519(label);
  else if (info.kind !== 'ed25519') throw new CustosError('hsm_key_kind_mismatch', `HSM key "${label}" is ${info.kind}, not ed25519`, 409);
  const publicKey = await hsm.publicKey(label);
  return { name, publicKey, sign: (message) => hsm.signEd25519(label, message) };
}

export async function openCheckpointKey(opts: { dataDir: string; origin?: string; env?: NodeJS.ProcessEnv; onHsmEvent?: (e: HsmEvent, tokenLabel: string) => void }): Promise<CheckpointKey> {
  const env = opts.env ?? process.env;
  const origin = opts.origin ?? auditConfigFromEnv(env, opts.dataDir).origin;
  if (env.CUSTOS_HSM === 'pkcs11' || env.CUSTOS_DEV_HSM_PASSPHRASE) {
    const config = hsmConfigFromEnv(env, { dataDir: opts.dataDir });
    const label = config.backend === 'pkcs11' ? config.tokenLabel : 'development';
    // Session loss, recovery, a refused or locked PIN: the caller raises alerts (hsmEventAlert).
    const hsm = await openHsm(config, opts.onHsmEvent ? { onEvent: (e) => opts.onHsmEvent?.(e, label) } : {});
    try {
      const signer = await hsmNoteSigner(hsm, origin);
      return { signer, verifierKey: formatVerifierKey(origin, signer.publicKey), description: `${hsm.description}, key ${HSM_KEY_LABELS.checkpoint}`, close: () => hsm.close() };
    } catch (err) {
      await hsm.close();
      throw err;
    }
  }
  const path = join(opts.dataDir, DEVELOPMENT_CHECKPOINT_KEY_FILE);
  let seed: Uint8Array;
  if (existsSync(path)) {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as { seed?: unknown };
    if (typeof parsed.seed !== 'string' || !/^[0-9a-f]{64}$/.test(parsed.seed)) {
      throw new CustosError('audit_key_file_invalid', `${path} does not hold a 32-byte hex seed`, 500);
    }
    seed = new Uint8Array(Buffer.from(parsed.seed, 'hex'));
  } else {
    mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
    seed = new Uint8Array(randomBytes(32));
    const body = { label: 'development checkpoint key: software, not an HSM', seed: Buffer.from(seed).toString('hex') };
    writeFileSync(path, `${JSON.stringify(body)}\n`, { mode: 0o600, flag: 'wx' });
  }
  const signer = ed25519SignerFromSeed(origin, seed);
  seed.fill(0);
  return {
    signer,
    verifierKey: formatVerifierKey(origin, signer.publicKey),
    description: `development software key in ${path} (not an HSM)`,
    close: async () => {},
  };
}
