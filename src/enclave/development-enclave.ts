import type { DevelopmentAttester } from './development-attester.js';
import type { Enclave } from './enclave.js';
import { AttestationError } from './errors.js';
import { createSealer, type Sealer } from './sealer.js';

export interface DevelopmentEnclaveOptions {
  attester: DevelopmentAttester;
  /**
   * The node's sealing key (at least 32 secret bytes) when already known; normally installed later
   * with `useSealingKey` once the key-release service has returned it after attestation.
   */
  sealingKey?: Uint8Array;
  /** Randomness for GCM nonces (injected for tests; default node:crypto randomBytes). */
  random?: (n: number) => Uint8Array;
}

/**
 * Development enclave runtime: attestation through `DevelopmentAttester` (Nitro format, development
 * root), sealing with `createSealer` bound to its PCR0. What it does not protect: the host's root
 * user can read this process's memory, including the sealing key; only the Nitro runtime closes that.
 *
 * @example
 *   const enclave = new DevelopmentEnclave({ attester });
 *   const doc = await enclave.attest(undefined, ephemeralPublicKey, nonce); // → key release
 *   enclave.useSealingKey(releasedKey);
 *   const blob = await enclave.seal(share, aad);
 */
export class DevelopmentEnclave implements Enclave {
  readonly runtime = 'development' as const;
  private sealer: Sealer | undefined;

  constructor(private readonly options: DevelopmentEnclaveOptions) {
    if (options.sealingKey) this.useSealingKey(options.sealingKey);
  }

  /** The measurement (PCR0) this enclave attests to. */
  get measurement(): Uint8Array {
    return this.options.attester.pcrs.get(0)!;
  }

  useSealingKey(sealingKey: Uint8Array): void {
    this.sealer = createSealer(sealingKey, this.measurement, this.options.random);
  }

  async attest(userData: Uint8Array | undefined, publicKey: Uint8Array | undefined, nonce: Uint8Array | undefined): Promise<Uint8Array> {
    return this.options.attester.attest({
      ...(userData !== undefined ? { userData } : {}),
      ...(publicKey !== undefined ? { publicKey } : {}),
      ...(nonce !== undefined ? { nonce } : {}),
    });
  }

  async seal(plaintext: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
    return this.requireSealer().seal(plaintext, aad);
  }

  async unseal(sealed: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
    return this.requireSealer().unseal(sealed, aad);
  }

  private requireSealer(): Sealer {
    if (!this.sealer) throw new AttestationError('enclave_no_sealing_key', 'no sealing key yet: attest and obtain it from key release first');
    return this.sealer;
  }
}
