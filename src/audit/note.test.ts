import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  MAX_SIGNATURES,
  NoteError,
  ed25519KeyId,
  formatVerifierKey,
  openNote,
  parseNote,
  parseVerifierKey,
  signNote,
  type NoteSigner,
} from './note.js';
import { ed25519SignerFromSeed, generateEd25519Signer } from './signer.js';

const example = JSON.parse(readFileSync(new URL('./testdata/signed-note-example.json', import.meta.url), 'utf8')) as {
  verifierKey: string;
  note: string;
};
const seedA = new Uint8Array(32).fill(0xa1);
const seedB = new Uint8Array(32).fill(0xb2);
const alice = ed25519SignerFromSeed('custos.test/alice', seedA);
const bob = ed25519SignerFromSeed('custos.test/bob', seedB);
const vAlice = parseVerifierKey(formatVerifierKey(alice.name, alice.publicKey));
const vBob = parseVerifierKey(formatVerifierKey(bob.name, bob.publicKey));
const code = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    if (e instanceof NoteError) return e.code;
    throw e;
  }
  return 'ok';
};

describe('C2SP signed-note example (vector)', () => {
  const v = parseVerifierKey(example.verifierKey);
  it('verifies the published note with the published key', () => {
    expect(v.name).toBe('example.com/foo');
    expect(v.keyId).toBe(0x530d903a);
    const opened = openNote(example.note, [v]);
    expect(opened.text).toBe('This is an example message.\n');
    expect(opened.verifiedBy).toEqual(['example.com/foo']);
    expect(formatVerifierKey(v.name, v.publicKey)).toBe(example.verifierKey);
  });
  it('rejects any change to the text', () => {
    expect(code(() => openNote(example.note.replace('example message', 'example massage'), [v]))).toBe(
      'audit_note_bad_signature',
    );
    expect(code(() => openNote(example.note.replace('message.\n', 'message!\n'), [v]))).toBe('audit_note_bad_signature');
  });
  it('rejects a verifier key whose hash does not match, or that is not Ed25519', () => {
    expect(() => parseVerifierKey(example.verifierKey.replace('+530d903a+', '+530d903b+'))).toThrow(/does not match/);
    expect(() => parseVerifierKey(example.verifierKey.replace('+530d903a+', '+530D903A+'))).toThrow(/hex/);
    expect(() => parseVerifierKey(example.verifierKey.replace('+Aeky', '+Aoky'))).toThrow(NoteError);
    expect(() => parseVerifierKey('example.com/foo+530d903a')).toThrow(/name\+hash\+key/);
  });
});

describe('signNote / openNote', () => {
  it('round-trips with several signers and reports who verified', async () => {
    const note = await signNote('line one\n\nline three\n', [alice, bob]);
    expect(parseNote(note).signatures).toHaveLength(2);
    expect(openNote(note, [vAlice, vBob]).verifiedBy).toEqual([alice.name, bob.name]);
    expect(openNote(note, [vBob]).verifiedBy).toEqual([bob.name]); // alice's signature is unknown: ignored
    expect(openNote(new TextEncoder().encode(note), [vAlice]).text).toBe('line one\n\nline three\n');
  });
  it('the key ID is SHA-256(name || 0x0A || 0x01 || key)[:4]', () => {
    expect(vAlice.keyId).toBe(ed25519KeyId(alice.name, alice.publicKey));
    expect(ed25519KeyId('other/name', alice.publicKey)).not.toBe(vAlice.keyId);
  });
  it('rejects a note signed only by another key (unknown key)', async () => {
    const note = await signNote('hello\n', [bob]);
    expect(code(() => openNote(note, [vAlice]))).toBe('audit_note_unverified');
    expect(code(() => openNote(note, []))).toBe('audit_note_unverified');
  });
  it('ignores a key that shares only the name, rejects a forged signature from a known key', async () => {
    const impostor = ed25519SignerFromSeed(alice.name, seedB); // same name, different key ID
    const note = await signNote('hello\n', [impostor]);
    expect(code(() => openNote(note, [vAlice]))).toBe('audit_note_unverified');
    // bob's signature bytes relabelled with alice's key ID: known key, bad signature
    const good = await signNote('hello\n', [alice]);
    const sigA = parseNote(good).signatures[0]!;
    const sigB = parseNote(await signNote('hello\n', [bob])).signatures[0]!;
    const raw = new Uint8Array(68);
    Buffer.from(raw.buffer).writeUInt32BE(sigA.keyId, 0);
    raw.set(sigB.signature, 4);
    const forged = `hello\n\n\u2014 ${alice.name} ${Buffer.from(raw).toString('base64')}\n`;
    expect(code(() => openNote(forged, [vAlice]))).toBe('audit_note_bad_signature');
    // a good signature does not rescue a note that also carries a failing one from a known key
    const bobLine = (await signNote('hello\n', [bob])).slice('hello\n\n'.length);
    const both = forged.replace('\n\n', `\n\n${bobLine}`);
    expect(openNote(both, [vBob]).verifiedBy).toEqual([bob.name]); // alice unknown here: ignored
    expect(code(() => openNote(both, [vAlice, vBob]))).toBe('audit_note_bad_signature');
  });
  it('refuses a signer whose signature does not match its public key (misconfigured HSM)', async () => {
    const broken: NoteSigner = { name: alice.name, publicKey: alice.publicKey, sign: (m) => bob.sign(m) };
    await expect(signNote('hello\n', [broken])).rejects.toThrow(/invalid signature/);
  });
  it('keeps the seed out of the signer object', () => {
    const s = generateEd25519Signer('custos.test/gen', () => seedA.slice());
    const dump = JSON.stringify(s) + String(Object.values(s));
    expect(dump).not.toContain(Buffer.from(seedA).toString('hex'));
    expect(dump).not.toContain(Buffer.from(seedA).toString('base64'));
    expect(Object.keys(s).sort()).toEqual(['name', 'publicKey', 'sign']);
  });
});

describe('strict parsing of malformed notes', () => {
  let good = '';
  it('setup', async () => {
    good = await signNote('hello\n', [alice]);
    expect(openNote(good, [vAlice]).text).toBe('hello\n');
  });
  const bad: Array<[string, (g: string) => string | Uint8Array]> = [
    ['missing final newline', (g) => g.slice(0, -1)],
    ['no blank line', (g) => g.replace('\n\n', '\n')],
    ['no signatures', () => 'hello\n\n'],
    ['carriage return', (g) => g.replace('hello', 'hel\rlo')],
    ['tab', (g) => g.replace('hello', 'hel\tlo')],
    ['NUL', (g) => g.replace('hello', 'hel\u0000lo')],
    ['lone surrogate', (g) => g.replace('hello', 'hel\ud800lo')],
    ['hyphen instead of em dash', (g) => g.replace('\u2014 ', '- ')],
    ['missing space after dash', (g) => g.replace('\u2014 ', '\u2014')],
    ['extra field', (g) => g.replace(/\n$/, ' extra\n')],
    ['name with plus', (g) => g.replace(alice.name, 'a+b')],
    ['non-base64 signature', (g) => g.replace(/ ([A-Za-z0-9+/=]+)\n$/, ' !!!!\n')],
    ['non-canonical base64 (unpadded)', (g) => g.replace(/=\n$/, '\n')],
    ['signature shorter than a key ID', (g) => g.replace(/ ([A-Za-z0-9+/=]+)\n$/, ' AAAA\n')],
    ['trailing blank line', (g) => g + '\n'],
    ['duplicate signature', (g) => g + g.slice(g.indexOf('\u2014'))],
  ];
  for (const [what, mutate] of bad) {
    it(`rejects: ${what}`, () => {
      expect(code(() => openNote(mutate(good), [vAlice]))).toBe('audit_note_malformed');
    });
  }
  it('rejects invalid UTF-8 bytes', () => {
    const bytes = new TextEncoder().encode(good);
    const broken = new Uint8Array([...bytes.slice(0, 2), 0xff, ...bytes.slice(2)]);
    expect(code(() => openNote(broken, [vAlice]))).toBe('audit_note_malformed');
    const overlong = new Uint8Array([...bytes.slice(0, 2), 0xc0, 0xaf, ...bytes.slice(2)]);
    expect(code(() => openNote(overlong, [vAlice]))).toBe('audit_note_malformed');
  });
  it(`rejects more than ${MAX_SIGNATURES} signatures, accepts ${MAX_SIGNATURES} with unknown ones`, async () => {
    const line = (i: number) => `\u2014 other/${i} ${Buffer.alloc(68, i).toString('base64')}\n`;
    const ours = good.slice(good.indexOf('\u2014'));
    const many = (n: number) => 'hello\n\n' + ours + Array.from({ length: n - 1 }, (_, i) => line(i)).join('');
    expect(openNote(many(MAX_SIGNATURES), [vAlice]).verifiedBy).toEqual([alice.name]);
    expect(code(() => openNote(many(MAX_SIGNATURES + 1), [vAlice]))).toBe('audit_note_malformed');
  });
  it('rejects a huge note before parsing it', () => {
    expect(code(() => openNote('x'.repeat(2 * 1024 * 1024) + good, [vAlice]))).toBe('audit_note_malformed');
  });
  it('refuses to sign text without a final newline or with control characters', async () => {
    await expect(signNote('hello', [alice])).rejects.toThrow(/newline/);
    await expect(signNote('he\u0007llo\n', [alice])).rejects.toThrow(/control/);
  });
});
