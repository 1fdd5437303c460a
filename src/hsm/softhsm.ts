/**
 * SoftHSM2 helpers for tests and `custos bench`: where the library is, whether it (and pkcs11js)
 * can be used here, and a throw-away SoftHSM2 home (its own config and token directory) that this
 * process uses from then on through SOFTHSM2_CONF. Production points at its HSM vendor's library.
 *
 * @example
 *   const status = softHsmStatus();
 *   if (status.available) { const home = useTemporarySoftHsm(); ...; home.remove(); }
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const SOFTHSM_DEFAULT_LIBRARY = '/usr/lib/softhsm/libsofthsm2.so';

export function softHsmLibrary(env: NodeJS.ProcessEnv = process.env): string {
  return env.CUSTOS_SOFTHSM_LIBRARY || SOFTHSM_DEFAULT_LIBRARY;
}

export interface SoftHsmStatus {
  available: boolean;
  library: string;
  /** Why it is not available (empty when it is). */
  reason: string;
}

/** True when the SoftHSM2 library exists and pkcs11js loads. */
export function softHsmStatus(env: NodeJS.ProcessEnv = process.env): SoftHsmStatus {
  const library = softHsmLibrary(env);
  if (!existsSync(library)) return { available: false, library, reason: `SoftHSM2 library ${library} is missing (apt-get install softhsm2)` };
  try {
    createRequire(import.meta.url)('pkcs11js');
  } catch {
    return { available: false, library, reason: 'the optional package pkcs11js is not installed or did not build' };
  }
  return { available: true, library, reason: '' };
}

export interface TemporarySoftHsm {
  dir: string;
  configPath: string;
  /** Deletes the directory and restores SOFTHSM2_CONF. Close every Hsm first. */
  remove(): void;
}

/**
 * Creates a temporary SoftHSM2 home and points SOFTHSM2_CONF at it. SoftHSM2 reads the variable
 * when the library is initialised, so call this before opening any PKCS#11 Hsm in the process.
 */
export function useTemporarySoftHsm(): TemporarySoftHsm {
  const dir = mkdtempSync(join(tmpdir(), 'custos-softhsm-'));
  const tokens = join(dir, 'tokens');
  mkdirSync(tokens, { mode: 0o700 });
  const configPath = join(dir, 'softhsm2.conf');
  writeFileSync(configPath, `directories.tokendir = ${tokens}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`, { mode: 0o600 });
  const previous = process.env.SOFTHSM2_CONF;
  process.env.SOFTHSM2_CONF = configPath;
  return {
    dir,
    configPath,
    remove() {
      if (previous === undefined) delete process.env.SOFTHSM2_CONF;
      else process.env.SOFTHSM2_CONF = previous;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
