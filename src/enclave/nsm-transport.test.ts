import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseAttestationDocument } from './attestation-document.js';
import { parseCoseSign1 } from './cose-sign1.js';
import { encodeNsmAttestationRequest, NitroEnclave } from './nitro-enclave.js';
import { encodeHelperRequest, HelperFrameReader, ioctlReadWrite, NSM_IOCTL_REQUEST, nsmHelperTransport } from './nsm-transport.js';

const FAKE = new URL('./testdata/fake-nsm-helper.mjs', import.meta.url).pathname;
const HELPER_C = new URL('./nsm-helper.c', import.meta.url).pathname;
const realDoc = new Uint8Array(Buffer.from(readFileSync(new URL('./testdata/nitrite-attestation.b64', import.meta.url), 'utf8').trim(), 'base64'));
const fake = (fault?: string, timeoutMs?: number) =>
  nsmHelperTransport({ command: process.execPath, args: [FAKE, ...(fault ? [fault] : [])], ...(timeoutMs ? { timeoutMs } : {}) });
const tmp = mkdtempSync(path.join(tmpdir(), 'custos-nsm-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('NSM ioctl and helper framing', () => {
  it('NSM_IOCTL_REQUEST is _IOWR(0x0A, 0, 32 bytes) = 0xC0200A00, as the Nitro NSM driver defines it', () => {
    expect(NSM_IOCTL_REQUEST).toBe(0xc0200a00);
    expect(ioctlReadWrite(0x0a, 0, 32)).toBe(NSM_IOCTL_REQUEST);
    expect(() => ioctlReadWrite(0x100, 0, 32)).toThrow(RangeError);
  });

  it('frames requests with a big-endian length and refuses empty or oversized ones', () => {
    expect(Buffer.from(encodeHelperRequest(Uint8Array.of(0xa1, 0x02))).toString('hex')).toBe('00000002a102');
    expect(() => encodeHelperRequest(new Uint8Array(0))).toThrow(expect.objectContaining({ code: 'enclave_nsm' }));
    expect(() => encodeHelperRequest(new Uint8Array(0x1001))).toThrow(expect.objectContaining({ code: 'enclave_nsm' }));
  });

  it('reads response frames split anywhere, and refuses unknown status or oversized frames', () => {
    const frame = (status: number, body: Uint8Array) => {
      const h = Buffer.alloc(5);
      h[0] = status;
      h.writeUInt32BE(body.length, 1);
      return new Uint8Array(Buffer.concat([h, body]));
    };
    const both = new Uint8Array([...frame(0, Uint8Array.of(1, 2, 3)), ...frame(1, new TextEncoder().encode('open /dev/nsm: No such file or directory'))]);
    for (const cut of [1, 4, 5, 7, 9, both.length - 1]) {
      const r = new HelperFrameReader();
      const frames = [...r.push(both.subarray(0, cut)), ...r.push(both.subarray(cut))];
      expect(frames).toEqual([{ ok: true, body: Uint8Array.of(1, 2, 3) }, { ok: false, message: 'open /dev/nsm: No such file or directory' }]);
      expect(r.pending).toBe(0);
    }
    expect(() => new HelperFrameReader().push(Uint8Array.of(2, 0, 0, 0, 0))).toThrow(expect.objectContaining({ code: 'enclave_nsm' }));
    expect(() => new HelperFrameReader().push(Uint8Array.of(0, 0, 0, 0x30, 1))).toThrow(expect.objectContaining({ code: 'enclave_nsm' }));
    expect(() => new HelperFrameReader().push(Uint8Array.of(1, 0, 0, 0x04, 1))).toThrow(expect.objectContaining({ code: 'enclave_nsm' }));
  });
});

describe('NitroEnclave over the helper transport (a helper answering with a recorded NSM document)', () => {
  it('reads PCR0, attests, and serialises concurrent requests on one helper', async () => {
    const nsm = fake();
    try {
      const enclave = await NitroEnclave.open({ nsm });
      expect(enclave.measurement).toEqual(parseAttestationDocument(parseCoseSign1(realDoc).payload).pcrs.get(0));
      const docs = await Promise.all([1, 2, 3].map((i) => enclave.attest(undefined, undefined, Uint8Array.of(i))));
      for (const d of docs) expect(d).toEqual(realDoc);
      await expect(nsm(new TextEncoder().encode('not an attestation request'))).resolves.toBeInstanceOf(Uint8Array);
    } finally {
      nsm.close();
    }
  });

  it('a helper that breaks the protocol, exits or hangs fails the request with enclave_nsm (never a hang or a crash)', async () => {
    const req = encodeNsmAttestationRequest({});
    for (const fault of ['bad-status', 'exit-after-request']) {
      const nsm = fake(fault);
      await expect(nsm(req)).rejects.toMatchObject({ code: 'enclave_nsm' });
      nsm.close();
    }
    const hung = fake('silent', 300);
    await expect(hung(req)).rejects.toMatchObject({ code: 'enclave_nsm', message: expect.stringMatching(/did not answer within 300 ms/) });
    hung.close();
    const missing = nsmHelperTransport({ command: path.join(tmp, 'no-such-helper') });
    await expect(missing(req)).rejects.toMatchObject({ code: 'enclave_nsm', message: expect.stringMatching(/could not run \(ENOENT\)/) });
    missing.close();
  });
});

const cc = spawnSync('cc', ['--version']).status === 0;
if (!cc) console.warn('src/enclave/nsm-transport.test.ts: no C compiler; the nsm-helper.c tests are skipped');

describe.skipIf(!cc)('nsm-helper.c, compiled here (no /dev/nsm outside an enclave)', () => {
  it('uses the same ioctl number, and reports a missing device or a non-NSM file through the error frame', async () => {
    const bin = path.join(tmp, 'nsm-helper');
    const built = spawnSync('cc', ['-O2', '-Wall', '-Wextra', '-Werror', '-o', bin, HELPER_C], { encoding: 'utf8' });
    expect(built.status, built.stderr).toBe(0);
    expect(spawnSync(bin, ['--print-ioctl'], { encoding: 'utf8' }).stdout.trim()).toBe(`0x${NSM_IOCTL_REQUEST.toString(16)}`);

    const req = encodeNsmAttestationRequest({ nonce: Uint8Array.of(1) });
    const absent = nsmHelperTransport({ command: bin, args: [path.join(tmp, 'nsm-absent')] });
    await expect(absent(req)).rejects.toMatchObject({ code: 'enclave_nsm', message: expect.stringMatching(/open .*nsm-absent: No such file or directory/) });
    await expect(absent(req)).rejects.toMatchObject({ message: expect.stringMatching(/No such file or directory/) }); // the helper keeps serving
    absent.close();

    const notNsm = path.join(tmp, 'regular-file');
    writeFileSync(notNsm, '');
    const wrong = nsmHelperTransport({ command: bin, args: [notNsm] });
    await expect(wrong(req)).rejects.toMatchObject({ code: 'enclave_nsm', message: expect.stringMatching(/ioctl NSM_IOCTL_REQUEST: Inappropriate ioctl for device/) });
    wrong.close();
  });
});
