import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseAttestationDocument } from './attestation-document.js';
import { parseCertificate } from './certificate.js';
import { parseCoseSign1 } from './cose-sign1.js';
import { DerReader } from './der-reader.js';
import { AttestationError } from './errors.js';

const h = (hex: string) => new Uint8Array(Buffer.from(hex.replace(/\s/g, ''), 'hex'));

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof AttestationError) return err.code;
    throw err;
  }
  return 'accepted';
}

describe('DerReader', () => {
  it('walks nested definite-length elements', () => {
    const r = new DerReader(h('30 06 02 01 05 04 01 ff'));
    const kids = r.children(r.root());
    expect(kids.map((k) => k.tag)).toEqual([0x02, 0x04]);
    expect(r.content(kids[1]!)).toEqual(h('ff'));
  });

  it('refuses indefinite and non-minimal lengths, overruns, trailing bytes and multi-byte tags', () => {
    for (const hex of ['30 80 00 00', '04 81 05 0102030405', '04 82 0005 0102030405', '30 03 02 05 00', '02 01 00 00', '1f 01 00', '04', '30 84 00000001 00']) {
      const r = new DerReader(h(hex));
      expect(refusal(() => r.children(r.root())), hex).toBe('attestation_chain');
    }
  });
});

describe('parseCertificate on the real AWS chains', () => {
  it('reads the same validity as OpenSSL (via node:crypto) and the CA facts AWS sets', () => {
    for (const name of ['nitrite-attestation.b64', 'evervault-valid-attestation-doc.b64']) {
      const raw = readFileSync(new URL(`./testdata/${name}`, import.meta.url), 'utf8');
      const d = parseAttestationDocument(parseCoseSign1(new Uint8Array(Buffer.from(raw.trim(), 'base64'))).payload);
      const all = [...d.cabundle, d.certificate];
      all.forEach((der, i) => {
        const c = parseCertificate(der);
        const x = new X509Certificate(der);
        expect(c.notBefore).toBe(Date.parse(x.validFrom));
        expect(c.notAfter).toBe(Date.parse(x.validTo));
        expect(c.isCa).toBe(x.ca);
        expect(c.isCa).toBe(i < all.length - 1);
        expect(c.digitalSignature).toBe(i === all.length - 1 ? true : i < 3);
      });
      expect(parseCertificate(all[1]!).pathLenConstraint).toBe(2);
      expect(parseCertificate(all[3]!).pathLenConstraint).toBe(0);
    }
  });
});
