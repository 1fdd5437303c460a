import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { awsNitroRoot } from './aws-nitro-root.js';
import { parseAttestationDocument } from './attestation-document.js';
import { decodeCbor } from './cbor-decode.js';
import { encodeCbor } from './cbor-encode.js';
import { parseCoseSign1 } from './cose-sign1.js';
import { AttestationError } from './errors.js';
import { decodeNsmAttestationResponse, encodeNsmAttestationRequest, NitroEnclave, type NsmTransport } from './nitro-enclave.js';
import { verifyAttestation } from './verify-attestation.js';

// No NSM exists outside a Nitro enclave: these tests cover the request/response codec and the
// runtime's logic over a transport that answers with a real AWS document recorded from an NSM.
const realDoc = new Uint8Array(Buffer.from(readFileSync(new URL('./testdata/nitrite-attestation.b64', import.meta.url), 'utf8').trim(), 'base64'));
const response = (doc: Uint8Array) => encodeCbor(new Map([['Attestation', new Map([['document', doc]])]]));

async function code(p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    if (err instanceof AttestationError) return err.code;
    throw err;
  }
  return 'accepted';
}

describe('NSM attestation codec', () => {
  it('encodes the request as the NSM API serialises Request::Attestation', () => {
    const hex = Buffer.from(encodeNsmAttestationRequest({ nonce: Uint8Array.of(1, 2, 3, 4) })).toString('hex');
    const text = (s: string) => (0x60 + s.length).toString(16) + Buffer.from(s).toString('hex');
    expect(hex).toBe('a1' + text('Attestation') + 'a3' + text('user_data') + 'f6' + text('nonce') + '4401020304' + text('public_key') + 'f6');
  });

  it('refuses a request over the NSM limit', async () => {
    expect(await code(() => encodeNsmAttestationRequest({ userData: new Uint8Array(4096) }))).toBe('enclave_nsm');
  });

  it('decodes a document response and refuses errors and garbage', async () => {
    expect(decodeNsmAttestationResponse(response(realDoc))).toEqual(realDoc);
    expect(await code(() => decodeNsmAttestationResponse(encodeCbor(new Map([['Error', 'InvalidArgument']]))))).toBe('enclave_nsm');
    expect(await code(() => decodeNsmAttestationResponse(encodeCbor(new Map([['GetRandom', new Map([['random', new Uint8Array(8)]])]]))))).toBe('enclave_nsm');
    expect(await code(() => decodeNsmAttestationResponse(Uint8Array.of(0xff)))).toBe('enclave_nsm');
    expect(await code(() => decodeNsmAttestationResponse(new Uint8Array(0x3001)))).toBe('enclave_nsm');
  });
});

describe('NitroEnclave over an NSM transport', () => {
  it('reads its PCR0 from the NSM, forwards attestation requests, and the document verifies under the AWS root', async () => {
    const requests: Uint8Array[] = [];
    const nsm: NsmTransport = async (req) => {
      requests.push(req);
      return response(realDoc);
    };
    const enclave = await NitroEnclave.open({ nsm });
    const pcr0 = parseAttestationDocument(parseCoseSign1(realDoc).payload).pcrs.get(0)!;
    expect(enclave.measurement).toEqual(pcr0);
    const doc = await enclave.attest(undefined, Uint8Array.of(9), Uint8Array.of(7));
    const sent = decodeCbor(requests[1]!) as Map<string, Map<string, unknown>>;
    expect(sent.get('Attestation')!.get('public_key')).toEqual(Uint8Array.of(9));
    expect(sent.get('Attestation')!.get('nonce')).toEqual(Uint8Array.of(7));
    const at = parseAttestationDocument(parseCoseSign1(doc).payload).timestamp;
    expect(verifyAttestation(doc, { roots: [awsNitroRoot()], at, maxAgeMs: 0 }).root).toBe('aws-nitro-g1');
  });

  it('needs the released sealing key before sealing, and seals bound to its PCR0', async () => {
    const enclave = await NitroEnclave.open({ nsm: async () => response(realDoc) });
    expect(await code(enclave.seal(Uint8Array.of(1), new Uint8Array()))).toBe('enclave_no_sealing_key');
    enclave.useSealingKey(new Uint8Array(32).fill(5));
    const blob = await enclave.seal(Uint8Array.of(1, 2), Uint8Array.of(3));
    expect(await enclave.unseal(blob, Uint8Array.of(3))).toEqual(Uint8Array.of(1, 2));
    expect(await code(enclave.unseal(blob, Uint8Array.of(4)))).toBe('enclave_unseal');
  });

  it('fails to open when the NSM refuses', async () => {
    expect(await code(NitroEnclave.open({ nsm: async () => encodeCbor(new Map([['Error', 'InternalError']])) }))).toBe('enclave_nsm');
  });
});
