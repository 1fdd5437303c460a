import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import { encodeAttestationDocument, PCR_BYTES } from './attestation-document.js';
import { pemToDer } from './certificate.js';
import { signCoseSign1 } from './cose-sign1.js';
import type { DevelopmentCa } from './development-ca.js';
import { issueCertificate } from './issue-certificate.js';

/** The NSM's leaf certificates live about three hours; the development attester does the same. */
export const DEFAULT_LEAF_VALIDITY_MS = 3 * 3_600_000;
const PCR_COUNT = 16;

export interface DevelopmentAttesterOptions {
  /** The CA that issues this enclave's signing certificates (the development root or an intermediate). */
  ca: DevelopmentCa;
  moduleId: string;
  /** SHA-384 measurement of the node's code and configuration (see `measureFiles`): PCR0. */
  measurement: Uint8Array;
  /** Further PCRs (index 1..31, 48 bytes each); PCR1..15 not given are zero, as on Nitro. */
  pcrs?: ReadonlyMap<number, Uint8Array>;
  clock: Clock;
  leafValidityMs?: number;
}

export interface AttestInput {
  userData?: Uint8Array;
  publicKey?: Uint8Array;
  nonce?: Uint8Array;
}

/**
 * Produces attestation documents in the Nitro format (COSE_Sign1 ES384 over the same CBOR map),
 * signed by a per-enclave P-384 leaf certificate issued by the development CA and renewed before
 * it expires. The verifier treats them exactly like AWS documents; only the pinned root differs.
 *
 * @example
 *   const attester = new DevelopmentAttester({ ca: root, moduleId: 'node-1', measurement, clock: systemClock });
 *   const doc = attester.attest({ publicKey: ephemeralPublicKey, nonce });
 */
export class DevelopmentAttester {
  readonly pcrs: ReadonlyMap<number, Uint8Array>;
  private readonly caKey: KeyObject;
  private readonly cabundle: readonly Uint8Array[];
  private leaf: Leaf | undefined;

  constructor(private readonly options: DevelopmentAttesterOptions) {
    if (options.measurement.length !== PCR_BYTES) throw new TypeError(`measurement must be ${PCR_BYTES} bytes (SHA-384)`);
    const pcrs = new Map<number, Uint8Array>();
    for (let i = 0; i < PCR_COUNT; i++) pcrs.set(i, new Uint8Array(PCR_BYTES));
    for (const [i, v] of options.pcrs ?? []) {
      if (!Number.isInteger(i) || i < 1 || i > 31 || v.length !== PCR_BYTES) throw new TypeError('extra PCRs must be indices 1..31 with 48-byte values');
      pcrs.set(i, Uint8Array.from(v));
    }
    pcrs.set(0, Uint8Array.from(options.measurement));
    this.pcrs = pcrs;
    this.caKey = createPrivateKey(options.ca.privateKeyPem);
    this.cabundle = options.ca.chainPem.map(pemToDer);
  }

  /** Sign a document binding the given user data, public key and nonce (each at most 1024 bytes). */
  attest(input: AttestInput = {}): Uint8Array {
    for (const [field, v] of Object.entries(input)) {
      if (v !== undefined && (!(v instanceof Uint8Array) || v.length > 1024)) throw new TypeError(`${field} must be at most 1024 bytes`);
    }
    if (input.publicKey !== undefined && input.publicKey.length === 0) throw new TypeError('publicKey must not be empty');
    const now = this.options.clock.now();
    const leaf = this.currentLeaf(now);
    const payload = encodeAttestationDocument({
      moduleId: this.options.moduleId,
      digest: 'SHA384',
      timestamp: now,
      pcrs: this.pcrs,
      certificate: leaf.der,
      cabundle: this.cabundle,
      publicKey: input.publicKey,
      userData: input.userData,
      nonce: input.nonce,
    });
    return signCoseSign1(payload, leaf.key);
  }

  private currentLeaf(now: number): Leaf {
    const validity = this.options.leafValidityMs ?? DEFAULT_LEAF_VALIDITY_MS;
    // Reuse the leaf while more than a tenth of its validity is left (and the clock has not gone back).
    if (this.leaf && now >= this.leaf.notBefore && now < this.leaf.notAfter - validity / 10) return this.leaf;
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    const leaf: Leaf = {
      der: issueCertificate({
        subject: `${this.options.moduleId} enclave`,
        issuer: this.options.ca.name,
        subjectPublicKey: publicKey,
        issuerPrivateKey: this.caKey,
        notBefore: now,
        notAfter: now + validity,
        ca: false,
      }),
      key: privateKey,
      notBefore: now,
      notAfter: now + validity,
    };
    this.leaf = leaf;
    return leaf;
  }
}

interface Leaf {
  der: Uint8Array;
  key: KeyObject;
  notBefore: number;
  notAfter: number;
}
