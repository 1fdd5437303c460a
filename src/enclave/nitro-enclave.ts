import { parseAttestationDocument } from './attestation-document.js';
import { decodeCbor, type CborValue } from './cbor-decode.js';
import { encodeCbor } from './cbor-encode.js';
import { parseCoseSign1 } from './cose-sign1.js';
import type { Enclave } from './enclave.js';
import { AttestationError } from './errors.js';
import { createSealer, type Sealer } from './sealer.js';

/**
 * One request/response round trip with the Nitro Secure Module: CBOR request bytes in, CBOR
 * response bytes out. Inside an enclave this is the NSM driver's ioctl on `/dev/nsm` (request at
 * most 4 KiB, response at most 12 KiB), which Node.js cannot issue by itself: it is provided by a
 * native helper shipped in the enclave image. Outside an enclave there is no NSM; nothing in this
 * repository's tests talks to a real one.
 */
export type NsmTransport = (request: Uint8Array) => Promise<Uint8Array>;

const NSM_REQUEST_MAX = 0x1000;
const NSM_RESPONSE_MAX = 0x3000;

/**
 * The NSM `Attestation` request as the NSM API serialises it (serde, externally tagged enum):
 * `{"Attestation": {"user_data": bstr / null, "nonce": bstr / null, "public_key": bstr / null}}`.
 *
 * @example
 *   const req = encodeNsmAttestationRequest({ nonce, publicKey });
 */
export function encodeNsmAttestationRequest(input: { userData?: Uint8Array; nonce?: Uint8Array; publicKey?: Uint8Array }): Uint8Array {
  const request = encodeCbor(
    new Map<string, CborValue>([
      [
        'Attestation',
        new Map<string, CborValue>([
          ['user_data', input.userData ?? null],
          ['nonce', input.nonce ?? null],
          ['public_key', input.publicKey ?? null],
        ]),
      ],
    ]),
  );
  if (request.length > NSM_REQUEST_MAX) throw new AttestationError('enclave_nsm', 'NSM attestation request is larger than 4 KiB');
  return request;
}

/**
 * The document out of an NSM response `{"Attestation": {"document": bstr}}`; an NSM error
 * `{"Error": "InvalidArgument" | ...}` or anything else is an `enclave_nsm` error.
 *
 * @example
 *   const doc = decodeNsmAttestationResponse(await nsm(request));
 */
export function decodeNsmAttestationResponse(response: Uint8Array): Uint8Array {
  let value: CborValue;
  try {
    value = decodeCbor(response, { maxBytes: NSM_RESPONSE_MAX, maxDepth: 3, maxItems: 16 });
  } catch {
    throw new AttestationError('enclave_nsm', 'NSM response is not well-formed CBOR');
  }
  if (value instanceof Map && value.size === 1) {
    const error = value.get('Error');
    if (typeof error === 'string') throw new AttestationError('enclave_nsm', `NSM refused the attestation request: ${error.slice(0, 40)}`);
    const body = value.get('Attestation');
    if (body instanceof Map && body.size === 1 && body.get('document') instanceof Uint8Array) return body.get('document') as Uint8Array;
  }
  throw new AttestationError('enclave_nsm', 'NSM response is not an attestation document');
}

/**
 * The AWS Nitro Enclaves runtime: attestation through the NSM, sealing with the key released to
 * this enclave bound to its own PCR0 (read from its first NSM document). Nitro has no hardware
 * sealing of its own; the sealing key comes only from key release after attestation.
 *
 * @example
 *   const enclave = await NitroEnclave.open({ nsm: nsmHelperTransport });
 *   const doc = await enclave.attest(undefined, ephemeralPublicKey, nonce);
 */
export class NitroEnclave implements Enclave {
  readonly runtime = 'nitro' as const;
  private sealer: Sealer | undefined;

  private constructor(
    private readonly nsm: NsmTransport,
    /** PCR0 of this enclave image, as the NSM reports it. */
    readonly measurement: Uint8Array,
    private readonly random: ((n: number) => Uint8Array) | undefined,
  ) {}

  /** Ask the NSM for one document to learn this enclave's PCR0, then return the runtime. */
  static async open(options: { nsm: NsmTransport; random?: (n: number) => Uint8Array }): Promise<NitroEnclave> {
    const doc = decodeNsmAttestationResponse(await options.nsm(encodeNsmAttestationRequest({})));
    const pcr0 = parseAttestationDocument(parseCoseSign1(doc).payload).pcrs.get(0);
    if (!pcr0) throw new AttestationError('enclave_nsm', 'NSM document has no PCR0');
    return new NitroEnclave(options.nsm, pcr0, options.random);
  }

  async attest(userData: Uint8Array | undefined, publicKey: Uint8Array | undefined, nonce: Uint8Array | undefined): Promise<Uint8Array> {
    const request = encodeNsmAttestationRequest({
      ...(userData !== undefined ? { userData } : {}),
      ...(publicKey !== undefined ? { publicKey } : {}),
      ...(nonce !== undefined ? { nonce } : {}),
    });
    return decodeNsmAttestationResponse(await this.nsm(request));
  }

  useSealingKey(sealingKey: Uint8Array): void {
    this.sealer = createSealer(sealingKey, this.measurement, this.random);
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
