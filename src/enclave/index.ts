/**
 * Enclave boundary and attestation: the `Enclave` runtime interface, the development runtime,
 * the AWS Nitro attestation verifier pinned to roots, and the measurement allowlist.
 *
 * @example
 *   import { verifyAttestation, awsNitroRoot } from './enclave/index.js';
 *   const att = verifyAttestation(doc, { roots: [awsNitroRoot()], at: clock.now(), maxAgeMs: 300_000, expectedNonce });
 */
export * from './errors.js';
export { decodeCbor, type CborValue, type CborMap, type CborTagged, type CborDecodeOptions } from './cbor-decode.js';
export { encodeCbor } from './cbor-encode.js';
export { COSE_ALG_ES384, parseCoseSign1, sigStructure, signCoseSign1, verifyCoseSign1, type CoseSign1 } from './cose-sign1.js';
export { parseAttestationDocument, encodeAttestationDocument, PCR_BYTES, MAX_CABUNDLE, type AttestationDocument } from './attestation-document.js';
export { parseCertificate, pemToDer, derToPem, type ParsedCertificate } from './certificate.js';
export { pinRoot, type PinnedRoot, type PinRootInput } from './pinned-root.js';
export { awsNitroRoot, AWS_NITRO_ROOT_G1_PEM, AWS_NITRO_ROOT_G1_SHA256 } from './aws-nitro-root.js';
export { verifyCertificateChain, clearCertificateCache, type VerifyChainInput, type VerifiedChain } from './certificate-chain.js';
export { verifyAttestation, MAX_ATTESTATION_BYTES, type VerifyAttestationOptions, type VerifiedAttestation } from './verify-attestation.js';
export { issueCertificate, type IssueCertificateInput } from './issue-certificate.js';
export { createDevelopmentRoot, createDevelopmentIntermediate, pinDevelopmentRoot, type DevelopmentCa, type DevelopmentCaOptions } from './development-ca.js';
export { DevelopmentAttester, DEFAULT_LEAF_VALIDITY_MS, type DevelopmentAttesterOptions, type AttestInput } from './development-attester.js';
export { measureEntries, measureFiles, type MeasuredEntry } from './measure.js';
export {
  allowlistSigningBytes,
  signAllowlist,
  verifyAllowlist,
  checkMeasurement,
  type AllowedMeasurement,
  type MeasurementAllowlist,
  type AllowlistSignature,
  type SignedAllowlist,
  type ReleasePolicy,
} from './measurement-allowlist.js';
export type { Enclave } from './enclave.js';
export { DevelopmentEnclave, type DevelopmentEnclaveOptions } from './development-enclave.js';
export { createSealer, type Sealer } from './sealer.js';
export { NitroEnclave, encodeNsmAttestationRequest, decodeNsmAttestationResponse, type NsmTransport } from './nitro-enclave.js';
export { NonceBook, type NonceBookOptions } from './nonce-book.js';
export { benchEnclave, type EnclaveBenchResult } from './bench.js';
export { KeyReleaseError, KEY_RELEASE_ERROR_CODES, type KeyReleaseErrorCode } from './key-release-errors.js';
export { handleReleaseRequest, issueReleaseNonce, SEALING_KEY_BYTES, type KeyReleaseDeps, type KeyReleaseEvent, type KeyReleaseRequest, type KeyReleaseResponse } from './key-release.js';
export { KEY_RELEASE_SUITE, releaseTranscript, releaseUserData, generateEphemeralKeyPair, sealToAttestedKey, openReleasedKey, type EphemeralKeyPair } from './key-release-hpke.js';
export { requestToJson, requestFromJson, responseToJson, responseFromJson, type KeyReleaseRequestJson, type KeyReleaseResponseJson } from './key-release-wire.js';
export { obtainSealingKey, httpKeyReleaseTransport, type KeyReleaseTransport, type ObtainSealingKeyOptions } from './key-release-client.js';
export { createKeyReleaseServer, type KeyReleaseServerOptions } from './key-release-server.js';
export { JsonFileSealingKeyStore, MemorySealingKeyStore, type SealingKeyStore } from './sealing-key-store.js';
export {
  initDevelopmentTrust,
  loadDevelopmentRoots,
  loadDevelopmentCa,
  rotateDevelopmentRoot,
  loadReleasePolicy,
  readSignedAllowlist,
  addDevelopmentMeasurement,
  developmentTrustSources,
  enclaveDir,
  type InitDevelopmentTrustResult,
  type RotateRootResult,
} from './development-trust.js';
export { benchKeyRelease, type KeyReleaseBenchResult } from './key-release-bench.js';
export { openDevelopmentEnclave, keyReleaseDepsFromDataDir } from './development-node.js';
