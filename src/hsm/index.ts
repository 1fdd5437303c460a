/**
 * HSM layer: one `Hsm` interface, a PKCS#11 backend (SoftHSM2 in tests) and a development software
 * backend (not an HSM). See README.md in this folder for the trust decisions and SoftHSM2 notes.
 *
 * @example
 *   import { openHsm, hsmConfigFromEnv, ensureStandardKeys } from './hsm/index.js';
 *   const hsm = await openHsm(hsmConfigFromEnv(process.env, { dataDir: '.custos' }));
 *   const keys = await ensureStandardKeys(hsm);
 */
export * from './hsm.js';
export * from './aes-kw.js';
export * from './approval-token.js';
export * from './bench.js';
export * from './config.js';
export { DevelopmentHsm, DEVELOPMENT_HSM_FILE, type DevelopmentHsmOptions } from './development-hsm.js';
export { Pkcs11Hsm, receiverFingerprint, type HsmEvent, type KekBackup, type Pkcs11HsmConfig } from './pkcs11-hsm.js';
export { initToken, installTrustedWrappingKey, type BackupReceiverPublicKey, type TokenRef } from './pkcs11-token.js';
export { normaliseSecp256k1, verifySecp256k1Digest } from './secp256k1-signature.js';
export { softHsmStatus, softHsmLibrary, useTemporarySoftHsm, SOFTHSM_DEFAULT_LIBRARY } from './softhsm.js';
export * from './standard-keys.js';
