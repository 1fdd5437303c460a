/**
 * Loads the optional `pkcs11js` addon lazily and shares one initialised PKCS#11 library per path.
 * A plain `npm install` of custos never needs a compiler: only code that opens a PKCS#11 HSM loads
 * pkcs11js, and when it is absent the error says what to install. PKCS#11 errors are mapped to
 * CustosError codes; the mapped error carries the CKR_ name only (never arguments, never a PIN).
 *
 * @example
 *   const lib = acquirePkcs11Library('/usr/lib/softhsm/libsofthsm2.so');
 *   try { lib.pkcs11.C_GetSlotList(true); } finally { releasePkcs11Library(lib); }
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { CustosError } from '../core/errors.js';
import { CK, type Handle, type Pkcs11, type Pkcs11Module } from './pkcs11-api.js';

export type { Handle, Pkcs11, Pkcs11Module };

const require = createRequire(import.meta.url);

/** Loads pkcs11js (or another module name, for the test of the missing case). */
export function loadPkcs11js(moduleName = 'pkcs11js'): Pkcs11Module {
  try {
    return require(moduleName) as Pkcs11Module;
  } catch {
    throw new CustosError(
      'hsm_unavailable',
      `the PKCS#11 backend needs the optional package "${moduleName}", which is not installed or did not build ` +
        '(it compiles a native addon: install a C++ toolchain, then run `npm install pkcs11js`); ' +
        'the development HSM backend works without it',
      503,
    );
  }
}

export interface Pkcs11Library {
  readonly path: string;
  readonly pkcs11: Pkcs11;
  readonly mod: Pkcs11Module;
}

interface Entry {
  lib: Pkcs11Library;
  refs: number;
}
const libraries = new Map<string, Entry>();

/** Opens (C_Initialize with OS locking, so sessions may be used from worker threads) or shares a library. */
export function acquirePkcs11Library(path: string, moduleName?: string): Pkcs11Library {
  const existing = libraries.get(path);
  if (existing) {
    existing.refs++;
    return existing.lib;
  }
  const mod = loadPkcs11js(moduleName);
  if (!existsSync(path)) {
    throw new CustosError('hsm_unavailable', `the PKCS#11 library ${path} does not exist (for SoftHSM2: apt-get install softhsm2)`, 503);
  }
  const pkcs11 = new mod.PKCS11();
  try {
    pkcs11.load(path);
  } catch {
    throw new CustosError('hsm_unavailable', `the PKCS#11 library ${path} could not be loaded`, 503);
  }
  try {
    pkcs11.C_Initialize({ flags: CK.CKF_OS_LOCKING_OK });
  } catch (err) {
    if (ckrName(err, mod) !== 'CKR_CRYPTOKI_ALREADY_INITIALIZED') throw mapPkcs11Error(err, mod, 'initialise the PKCS#11 library');
  }
  const lib = { path, pkcs11, mod };
  libraries.set(path, { lib, refs: 1 });
  return lib;
}

/** Drops one reference; the last one finalises the library (a later acquire re-reads its configuration). */
export function releasePkcs11Library(lib: Pkcs11Library): void {
  const entry = libraries.get(lib.path);
  if (!entry || entry.lib !== lib) return;
  entry.refs--;
  if (entry.refs > 0) return;
  libraries.delete(lib.path);
  try {
    lib.pkcs11.C_Finalize();
  } catch {
    // finalising a library that lost its tokens is not worth an error at shutdown
  }
  try {
    lib.pkcs11.close();
  } catch {
    // idem
  }
}

/** The CKR_ name of a pkcs11js error, or undefined for anything else. */
export function ckrName(err: unknown, mod?: Pkcs11Module): string | undefined {
  if (mod && !(err instanceof mod.Pkcs11Error) && !(err instanceof mod.NativeError)) return undefined;
  const message = err instanceof Error ? err.message : '';
  const m = /^(CKR_[A-Z0-9_]+)/.exec(message);
  return m ? m[1] : undefined;
}

const CODES: Record<string, [code: string, status: number, sentence: string]> = {
  CKR_PIN_INCORRECT: ['hsm_pin_incorrect', 401, 'the HSM refused the PIN'],
  CKR_PIN_LEN_RANGE: ['hsm_pin_incorrect', 401, 'the HSM refused the PIN'],
  CKR_PIN_LOCKED: ['hsm_token_locked', 423, 'the HSM token is locked after too many wrong PINs; the security officer must reset the PIN'],
  CKR_USER_PIN_NOT_INITIALIZED: ['hsm_token_not_initialized', 503, 'the HSM token has no user PIN yet (run `custos hsm init`)'],
  CKR_TOKEN_NOT_PRESENT: ['hsm_unavailable', 503, 'the HSM token is not present'],
  CKR_DEVICE_REMOVED: ['hsm_unavailable', 503, 'the HSM device was removed'],
  CKR_DEVICE_ERROR: ['hsm_unavailable', 503, 'the HSM reported a device error'],
  CKR_KEY_UNEXTRACTABLE: ['hsm_key_not_extractable', 403, 'the HSM refused to let the key out: it is not extractable'],
  CKR_ATTRIBUTE_SENSITIVE: ['hsm_key_not_extractable', 403, 'the HSM refused to reveal the key value: it is sensitive'],
  CKR_KEY_NOT_WRAPPABLE: ['hsm_key_not_extractable', 403, 'the HSM refused to wrap the key under this wrapping key'],
  CKR_WRAPPED_KEY_INVALID: ['hsm_unwrap_failed', 400, 'the HSM could not unwrap the blob (wrong key-encryption key or altered blob)'],
  CKR_WRAPPED_KEY_LEN_RANGE: ['hsm_unwrap_failed', 400, 'the HSM could not unwrap the blob (wrong length)'],
  CKR_ENCRYPTED_DATA_INVALID: ['hsm_unwrap_failed', 400, 'the HSM could not unwrap the blob'],
  CKR_MECHANISM_INVALID: ['hsm_mechanism_unsupported', 501, 'the HSM does not support this mechanism'],
  CKR_KEY_FUNCTION_NOT_PERMITTED: ['hsm_key_usage_refused', 403, 'the HSM key does not permit this operation'],
  CKR_KEY_TYPE_INCONSISTENT: ['hsm_key_usage_refused', 403, 'the HSM key type does not fit this operation'],
  CKR_ATTRIBUTE_READ_ONLY: ['hsm_attribute_read_only', 403, 'the HSM refused to set a protected attribute'],
  CKR_USER_ANOTHER_ALREADY_LOGGED_IN: ['hsm_login_conflict', 409, 'another user type is logged in to this token in this process'],
};

/** Maps a pkcs11js error to a CustosError; `action` says what custos was doing (no secrets in it). */
export function mapPkcs11Error(err: unknown, mod: Pkcs11Module | undefined, action: string): CustosError {
  if (err instanceof CustosError) return err;
  const ckr = ckrName(err, mod);
  const known = ckr ? CODES[ckr] : undefined;
  if (known) return new CustosError(known[0], `${known[2]} (while trying to ${action}: ${ckr})`, known[1], { ckr });
  if (ckr) return new CustosError('hsm_error', `the HSM failed to ${action} (${ckr})`, 502, { ckr });
  return new CustosError('hsm_error', `the HSM failed to ${action}`, 502);
}

/** Return values that mean the session (not the request) is gone: reopen, log in again, retry once. */
export const SESSION_LOST = new Set([
  'CKR_SESSION_HANDLE_INVALID',
  'CKR_SESSION_CLOSED',
  'CKR_USER_NOT_LOGGED_IN',
  'CKR_DEVICE_REMOVED',
  'CKR_TOKEN_NOT_PRESENT',
  'CKR_CRYPTOKI_NOT_INITIALIZED',
]);
