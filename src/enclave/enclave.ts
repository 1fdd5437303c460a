/**
 * The boundary a signing node runs in. `custos mpc-node` only talks to this interface; which
 * runtime backs it is configuration.
 *
 * - `development`: `DevelopmentEnclave`, in the signing node's own process on the same host. Its
 *   documents use the Nitro format and chain to the development root made by `custos init`; its
 *   measurement is the SHA-384 of the node's code and configuration (`measureNodeImage`). It proves
 *   which code asked for a key, to a verifier that trusts the development root; it does NOT protect
 *   memory from the host's root user.
 * - `nitro`: AWS Nitro Enclaves. `attest` is the NSM `Attestation` request on `/dev/nsm` through the
 *   helper binary of the enclave image (`nsm-transport.ts`, `nsm-helper.c`); no test here reaches a
 *   real NSM (see README.md in this folder). Its documents are verified by the same
 *   `verifyAttestation`, pinned to the AWS root.
 *
 * @example
 *   const doc = await enclave.attest(undefined, ephemeralPublicKey, nonceFromKeyRelease);
 *   const blob = await enclave.seal(keyShare, withdrawalIdBytes);
 */
export interface Enclave {
  readonly runtime: 'development' | 'nitro';
  /** An attestation document (COSE_Sign1, Nitro format) binding the given fields, each at most 1024 bytes. */
  attest(userData: Uint8Array | undefined, publicKey: Uint8Array | undefined, nonce: Uint8Array | undefined): Promise<Uint8Array>;
  /** Install the sealing key that key release returned after attestation (bound to this enclave's measurement). */
  useSealingKey(sealingKey: Uint8Array): void;
  /** Encrypt and authenticate `plaintext` under this enclave's sealing key, bound to `aad`. */
  seal(plaintext: Uint8Array, aad: Uint8Array): Promise<Uint8Array>;
  /** Reverse of `seal`; throws `enclave_unseal` if the blob, the aad or the measurement differ. */
  unseal(sealed: Uint8Array, aad: Uint8Array): Promise<Uint8Array>;
}
