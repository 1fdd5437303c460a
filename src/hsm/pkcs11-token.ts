/**
 * Token administration over PKCS#11 (what `custos hsm init` and the backup ceremony run): find a
 * slot by token label, initialise a fresh token with its security-officer and user PINs, and let the
 * security officer install a trusted wrapping key (the only kind of key that may export a
 * backupable root KEK, because the token lets only the SO set CKA_TRUSTED).
 *
 * PINs are arguments, never logged, never put into an error.
 *
 * @example
 *   await initToken({ library: '/usr/lib/softhsm/libsofthsm2.so', tokenLabel: 'custos', soPin, userPin });
 */
import { CustosError } from '../core/errors.js';
import { CK } from './pkcs11-api.js';
import { acquirePkcs11Library, mapPkcs11Error, releasePkcs11Library, type Handle, type Pkcs11Library } from './pkcs11-module.js';

export interface TokenRef {
  /** Path of the PKCS#11 library (.so). */
  library: string;
  /** CKA token label, at most 32 characters. */
  tokenLabel: string;
}

function assertTokenLabel(label: string): void {
  if (typeof label !== 'string' || label.length === 0 || label.length > 32 || !/^[\x20-\x7e]+$/.test(label) || label.trim() !== label) {
    throw new CustosError('hsm_invalid_input', 'a token label is 1 to 32 printable ASCII characters without surrounding spaces', 400);
  }
}

function assertPin(pin: string, what: string): void {
  if (typeof pin !== 'string' || pin.length < 4 || pin.length > 255) {
    throw new CustosError('hsm_invalid_input', `the ${what} must be 4 to 255 characters`, 400);
  }
}

/** Finds the slot whose initialised token carries this label; throws `hsm_token_not_found` otherwise. */
export function findSlot(lib: Pkcs11Library, tokenLabel: string): Handle {
  const { pkcs11, mod } = lib;
  let slots: Handle[];
  try {
    slots = pkcs11.C_GetSlotList(true);
  } catch (err) {
    throw mapPkcs11Error(err, mod, 'list slots');
  }
  const matches = slots.filter((slot) => {
    const info = pkcs11.C_GetTokenInfo(slot);
    return (info.flags & CK.CKF_TOKEN_INITIALIZED) !== 0 && info.label.trim() === tokenLabel;
  });
  if (matches.length === 0) throw new CustosError('hsm_token_not_found', `no initialised HSM token is labelled "${tokenLabel}"`, 503);
  if (matches.length > 1) throw new CustosError('hsm_token_ambiguous', `more than one HSM token is labelled "${tokenLabel}"`, 503);
  return matches[0] as Handle;
}

/**
 * Initialises the first uninitialised token (SoftHSM2 always offers one free slot) with a label, an
 * SO PIN and a user PIN. Refuses when a token with that label already exists.
 */
export function initToken(ref: TokenRef & { soPin: string; userPin: string }): void {
  assertTokenLabel(ref.tokenLabel);
  assertPin(ref.soPin, 'security-officer PIN');
  assertPin(ref.userPin, 'user PIN');
  const lib = acquirePkcs11Library(ref.library);
  const { pkcs11, mod } = lib;
  try {
    let exists = true;
    try {
      findSlot(lib, ref.tokenLabel);
    } catch (err) {
      if (!(err instanceof CustosError) || err.code !== 'hsm_token_not_found') throw err;
      exists = false;
    }
    if (exists) throw new CustosError('hsm_token_exists', `an HSM token labelled "${ref.tokenLabel}" already exists`, 409);
    const free = pkcs11.C_GetSlotList(true).find((slot) => (pkcs11.C_GetTokenInfo(slot).flags & CK.CKF_TOKEN_INITIALIZED) === 0);
    if (!free) throw new CustosError('hsm_no_free_slot', 'the HSM has no uninitialised token to set up', 503);
    try {
      pkcs11.C_InitToken(free, ref.soPin, ref.tokenLabel.padEnd(32, ' '));
    } catch (err) {
      throw mapPkcs11Error(err, mod, 'initialise the token');
    }
    const slot = findSlot(lib, ref.tokenLabel);
    withSoSession(lib, slot, ref.soPin, (session) => {
      try {
        pkcs11.C_InitPIN(session, ref.userPin);
      } catch (err) {
        throw mapPkcs11Error(err, mod, 'set the user PIN');
      }
    });
  } finally {
    releasePkcs11Library(lib);
  }
}

function withSoSession<T>(lib: Pkcs11Library, slot: Handle, soPin: string, fn: (session: Handle) => T): T {
  const { pkcs11, mod } = lib;
  let session: Handle;
  try {
    session = pkcs11.C_OpenSession(slot, CK.CKF_SERIAL_SESSION | CK.CKF_RW_SESSION);
  } catch (err) {
    throw mapPkcs11Error(err, mod, 'open a session');
  }
  try {
    try {
      pkcs11.C_Login(session, CK.CKU_SO, soPin);
    } catch (err) {
      throw mapPkcs11Error(err, mod, 'log in as security officer');
    }
    try {
      return fn(session);
    } finally {
      try {
        pkcs11.C_Logout(session);
      } catch {
        // the session closes next anyway
      }
    }
  } finally {
    try {
      pkcs11.C_CloseSession(session);
    } catch {
      // idem
    }
  }
}

/** The public half of a backup receiver (an RSA key pair whose private key stays in the target HSM). */
export interface BackupReceiverPublicKey {
  modulus: Uint8Array;
  publicExponent: Uint8Array;
  /** SHA-256 of modulus || exponent as hex: read aloud and compared during the ceremony. */
  fingerprint: string;
}

/**
 * Security-officer step of the backup ceremony: installs the target HSM's receiver public key into
 * this token as a trusted wrapping key. The token refuses CKA_TRUSTED from anyone but the SO. No
 * user session of this process may be logged in to the token at the same time (PKCS#11 allows one
 * user type per application); run it from `custos hsm backup` before the service starts.
 */
export function installTrustedWrappingKey(ref: TokenRef & { soPin: string }, label: string, receiver: BackupReceiverPublicKey): void {
  assertTokenLabel(ref.tokenLabel);
  const lib = acquirePkcs11Library(ref.library);
  const { pkcs11, mod } = lib;
  try {
    const slot = findSlot(lib, ref.tokenLabel);
    withSoSession(lib, slot, ref.soPin, (session) => {
      pkcs11.C_FindObjectsInit(session, [{ type: CK.CKA_LABEL, value: label }]);
      const found = pkcs11.C_FindObjects(session, 1);
      pkcs11.C_FindObjectsFinal(session);
      if (found.length > 0) throw new CustosError('hsm_key_exists', `a key labelled "${label}" already exists`, 409);
      try {
        pkcs11.C_CreateObject(session, [
          { type: CK.CKA_CLASS, value: CK.CKO_PUBLIC_KEY },
          { type: CK.CKA_KEY_TYPE, value: CK.CKK_RSA },
          { type: CK.CKA_TOKEN, value: true },
          { type: CK.CKA_PRIVATE, value: false },
          { type: CK.CKA_MODIFIABLE, value: false },
          { type: CK.CKA_LABEL, value: label },
          { type: CK.CKA_MODULUS, value: Buffer.from(receiver.modulus) },
          { type: CK.CKA_PUBLIC_EXPONENT, value: Buffer.from(receiver.publicExponent) },
          { type: CK.CKA_WRAP, value: true },
          { type: CK.CKA_ENCRYPT, value: false },
          { type: CK.CKA_VERIFY, value: false },
          { type: CK.CKA_TRUSTED, value: true },
        ]);
      } catch (err) {
        throw mapPkcs11Error(err, mod, 'install the trusted wrapping key');
      }
    });
  } finally {
    releasePkcs11Library(lib);
  }
}
