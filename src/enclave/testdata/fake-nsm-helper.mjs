// TEST ONLY: speaks the nsm-helper frame protocol (see ../nsm-transport.ts) the way the real
// helper does, but instead of an ioctl on /dev/nsm it answers every Attestation request with the
// real NSM document recorded in nitrite-attestation.b64 (wrapped as the NSM wraps it), anything
// else with the NSM's {"Error": "InvalidOperation"}. argv[2] selects a fault: `bad-status`,
// `exit-after-request`, `silent`.
/* global Buffer, URL, process */
import { readFileSync } from 'node:fs';

const doc = Buffer.from(readFileSync(new URL('./nitrite-attestation.b64', import.meta.url), 'utf8').trim(), 'base64');
const text = (s) => Buffer.concat([Buffer.from([0x60 + s.length]), Buffer.from(s)]);
const attestation = Buffer.concat([Buffer.from([0xa1]), text('Attestation'), Buffer.from([0xa1]), text('document'), Buffer.from([0x59, doc.length >> 8, doc.length & 0xff]), doc]);
const error = Buffer.concat([Buffer.from([0xa1]), text('Error'), text('InvalidOperation')]);
const fault = process.argv[2];

let buf = Buffer.alloc(0);
process.stdin.on('data', (chunk) => {
  buf = Buffer.concat([buf, chunk]);
  while (buf.length >= 4 && buf.length >= 4 + buf.readUInt32BE(0)) {
    const len = buf.readUInt32BE(0);
    const req = buf.subarray(4, 4 + len);
    buf = buf.subarray(4 + len);
    if (fault === 'exit-after-request') process.exit(3);
    if (fault === 'silent') continue;
    const isAttestation = req.subarray(0, 13).equals(Buffer.concat([Buffer.from([0xa1]), text('Attestation')]));
    const body = isAttestation ? attestation : error;
    const head = Buffer.alloc(5);
    head[0] = fault === 'bad-status' ? 7 : 0;
    head.writeUInt32BE(body.length, 1);
    process.stdout.write(Buffer.concat([head, body]));
  }
});
