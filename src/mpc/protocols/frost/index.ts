/**
 * FROST threshold Schnorr signatures (RFC 9591) for Ed25519 (Solana) and BIP-340 (Taproot) as pure
 * round state machines: dealerless key generation, signing with identifiable abort, and proactive
 * share refresh. See each module for the protocol; `round.ts` one folder up for the shape.
 *
 * @example
 *   import { startDkg, startSign, startRefresh, runLocal } from './mpc/protocols/frost/index.js';
 *   const keys = runLocal(new Map(parties.map((p) => [p, startDkg({ suite: 'ed25519', session, self: p, parties, threshold: 3, rng })])));
 */
export { startDkg, restoreDkg, DKG_PROTOCOL, type DkgParams } from './dkg.js';
export {
  startSign, restoreSign, signingPublicKey, aggregateSignature, publicPackage, bip340Verify, SIGN_PROTOCOL,
  type SignParams, type FrostSignature, type AggregateParams, type PublicPackage,
} from './sign.js';
export { startRefresh, restoreRefresh, REFRESH_PROTOCOL, type RefreshParams } from './refresh.js';
export { parseKeyShare, keyShareJson, groupPublicKey, type FrostKeyShare } from './key-share.js';
export { taprootOutputKey, taprootTweak } from './taproot.js';
export { memoryNonceLedger, nonceId, type NonceLedger } from './nonce-ledger.js';
export { runLocal, type LocalRunOptions } from './local-run.js';
export { benchFrost, type FrostBench } from './bench.js';
export type { SuiteName, IdentifierScheme } from './suite.js';
