/**
 * Authenticated, encrypted transport of protocol messages between signing nodes (through a relay
 * that can neither read nor forge them). See `envelope.ts` for the construction.
 *
 * @example
 *   import { sealEnvelope, openEnvelope, generateIdentity, directoryOf } from './mpc/transport/index.js';
 */
export {
  sealEnvelope, openEnvelope, parseEnvelope, verifyEnvelopeSignature, EnvelopeRejected, MAX_ENVELOPE_PAYLOAD,
  type Envelope, type SealOptions, type OpenOptions,
} from './envelope.js';
export {
  generateIdentity, identityFromSecrets, publicIdentity, parsePublicIdentity, directoryOf, checkNodeId,
  type NodeIdentity, type PublicIdentity, type Directory,
} from './identity.js';
