/**
 * Which HSM to open, from the environment, and opening it. The PIN and the passphrase come from
 * the environment only; they are never logged (log `describeHsmConfig(config)`, not the config).
 *
 *   CUSTOS_HSM                 `pkcs11` or `development` (default `development`)
 *   CUSTOS_HSM_LIBRARY         PKCS#11 library path (default SoftHSM2's)
 *   CUSTOS_HSM_TOKEN           token label (default `custos`)
 *   CUSTOS_HSM_PIN             user PIN (required for pkcs11)
 *   CUSTOS_DEV_HSM_PASSPHRASE  passphrase of the development key file (required for development)
 *
 * @example
 *   const hsm = await openHsm(hsmConfigFromEnv(process.env, { dataDir: '.custos' }), { onEvent: raiseAlert });
 */
import { CustosError } from '../core/errors.js';
import { DevelopmentHsm } from './development-hsm.js';
import type { Hsm } from './hsm.js';
import { Pkcs11Hsm, type HsmEvent } from './pkcs11-hsm.js';
import { SOFTHSM_DEFAULT_LIBRARY } from './softhsm.js';

export type HsmConfig =
  | { backend: 'pkcs11'; library: string; tokenLabel: string; pin: string; maxSessions?: number }
  | { backend: 'development'; dataDir: string; passphrase: string };

export function hsmConfigFromEnv(env: NodeJS.ProcessEnv, defaults: { dataDir: string }): HsmConfig {
  const backend = env.CUSTOS_HSM ?? 'development';
  if (backend === 'pkcs11') {
    const pin = env.CUSTOS_HSM_PIN;
    if (!pin) throw new CustosError('hsm_pin_missing', 'CUSTOS_HSM=pkcs11 needs CUSTOS_HSM_PIN', 503);
    return { backend, library: env.CUSTOS_HSM_LIBRARY || SOFTHSM_DEFAULT_LIBRARY, tokenLabel: env.CUSTOS_HSM_TOKEN || 'custos', pin };
  }
  if (backend === 'development') {
    const passphrase = env.CUSTOS_DEV_HSM_PASSPHRASE;
    if (!passphrase) throw new CustosError('dev_hsm_passphrase_missing', 'the development HSM needs CUSTOS_DEV_HSM_PASSPHRASE', 503);
    return { backend, dataDir: defaults.dataDir, passphrase };
  }
  throw new CustosError('hsm_config_invalid', 'CUSTOS_HSM must be "pkcs11" or "development"', 400);
}

/** The configuration without its secrets, for logs and `custos hsm status`. */
export function describeHsmConfig(config: HsmConfig): Record<string, string> {
  return config.backend === 'pkcs11'
    ? { backend: 'pkcs11', library: config.library, tokenLabel: config.tokenLabel }
    : { backend: 'development (not an HSM)', dataDir: config.dataDir };
}

export async function openHsm(config: HsmConfig, options: { onEvent?: (event: HsmEvent) => void } = {}): Promise<Hsm> {
  if (config.backend === 'pkcs11') {
    return Pkcs11Hsm.open({
      library: config.library,
      tokenLabel: config.tokenLabel,
      pin: config.pin,
      ...(config.maxSessions !== undefined ? { maxSessions: config.maxSessions } : {}),
      ...(options.onEvent ? { onEvent: options.onEvent } : {}),
    });
  }
  return DevelopmentHsm.open({ dataDir: config.dataDir, passphrase: config.passphrase });
}
