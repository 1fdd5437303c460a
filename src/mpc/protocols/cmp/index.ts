/**
 * CGGMP21 threshold ECDSA on secp256k1 (see docs/cggmp21.md for the map from the paper's
 * figures to the code and tests). Every protocol is a chain of pure rounds (`../round.ts`).
 *
 * @example
 *   import { startKeygen, startAuxRefresh, startPresign, startSign, restoreRound } from './cmp/index.js';
 *   // keygen → aux/refresh (needs two safe primes per party) → presign (t signers) → sign (1 round)
 */
export { startKeygen, type KeygenParams } from './keygen.js';
export { startAuxRefresh, type AuxRefreshParams } from './aux.js';
export { startPresign, type PresignParams } from './presign.js';
export { startSign, type EcdsaSignature, type SignParams } from './sign.js';
export { Presignature, type PresignatureShares } from './presignature.js';
export { keyShareFromJson, keyShareToJson, prepareKeyShare, type CmpKeyShare, type PartyAux } from './keyshare.js';
export { restoreRound } from './machine.js';
export { runLocal, type MessageHook } from './local.js';
export { benchCmp, type CmpBench } from './bench.js';
export { ELL, ELL_PRIME, EPS, MODULUS_BITS, PRIME_BITS, Q, STAT } from './params.js';
