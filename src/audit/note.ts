/**
 * C2SP signed notes (c2sp.org/signed-note) with Ed25519 signatures (type 0x01).
 *
 * A note is `text` (ending in a newline), a blank line, and one or more lines
 * `— <key name> <base64(key ID || signature)>`. The key ID is the first four bytes of
 * SHA-256(name || 0x0A || 0x01 || public key). Verifier keys are written
 * `<name>+<key ID as 8 hex digits>+<base64(0x01 || public key)>`.
 *
 * Parsing is strict: the note must be well-formed UTF-8 without control characters other than
 * newline, end in a newline, have at most MAX_SIGNATURES well-formed signature lines (no
 * duplicates), and at most MAX_NOTE_BYTES. Opening follows the spec: signatures by unknown keys
 * are ignored, a known key's signature that fails rejects the whole note, and a note without a
 * valid signature from a known key is rejected.
 *
 * @example
 *   const signer = ed25519SignerFromSeed('example.com/log', seed);
 *   const note = await signNote('hello\n', [signer]);
 *   const { text } = openNote(note, [parseVerifierKey(formatVerifierKey(signer.name, signer.publicKey))]);
 */
import { createHash } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { CustosError } from '../core/errors.js';

export const MAX_SIGNATURES = 100;
export const MAX_NOTE_BYTES = 1024 * 1024;
const ED25519_TYPE = 0x01;
const SIG_PREFIX = '\u2014 ';

/** Signs note text; `sign` may be backed by an HSM. Only Ed25519 keys are supported. */
export interface NoteSigner {
  readonly name: string;
  readonly publicKey: Uint8Array;
  sign(message: Uint8Array): Promise<Uint8Array>;
}

/** A trusted key: signature lines with this name and key ID are checked with `verify`. */
export interface NoteVerifier {
  readonly name: string;
  readonly keyId: number;
  verify(message: Uint8Array, signature: Uint8Array): boolean;
}

export interface NoteSignature {
  readonly name: string;
  readonly keyId: number;
  readonly signature: Uint8Array;
}

export interface ParsedNote {
  /** The signed text, including its final newline. */
  readonly text: string;
  readonly signatures: readonly NoteSignature[];
}

export interface OpenedNote extends ParsedNote {
  /** Names of the known keys whose signatures verified. */
  readonly verifiedBy: readonly string[];
}

export class NoteError extends CustosError {
  constructor(code: 'audit_note_malformed' | 'audit_note_unverified' | 'audit_note_bad_signature', message: string) {
    super(code, message, 422);
    this.name = 'NoteError';
  }
}

const malformed = (why: string) => new NoteError('audit_note_malformed', `malformed note: ${why}`);

/** Key names: non-empty, no Unicode white space, no '+'. */
export function isValidKeyName(name: string): boolean {
  // eslint-disable-next-line no-control-regex
  return name.length > 0 && !/[\s+]/u.test(name) && isWellFormedString(name) && !/[\x00-\x1f\x7f]/.test(name);
}

/** False when the string holds a lone surrogate (it would not encode to UTF-8). */
export function isWellFormedString(s: string): boolean {
  return !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s);
}

/** SHA-256(name || 0x0A || 0x01 || publicKey)[:4] as a uint32. */
export function ed25519KeyId(name: string, publicKey: Uint8Array): number {
  const h = createHash('sha256').update(name, 'utf8').update(new Uint8Array([0x0a, ED25519_TYPE])).update(publicKey).digest();
  return h.readUInt32BE(0);
}

function strictBase64(s: string, what: string): Uint8Array {
  if (s.length === 0 || s.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(s)) throw malformed(`${what} is not base64`);
  const bytes = Buffer.from(s, 'base64');
  if (bytes.toString('base64') !== s) throw malformed(`${what} is not canonical base64`);
  return new Uint8Array(bytes);
}

const hex8 = (n: number) => n.toString(16).padStart(8, '0');

/** `name+hash+base64(0x01 || publicKey)`. */
export function formatVerifierKey(name: string, publicKey: Uint8Array): string {
  if (!isValidKeyName(name)) throw malformed('invalid key name');
  if (publicKey.length !== 32) throw malformed('Ed25519 public key must be 32 bytes');
  const key = new Uint8Array(33);
  key[0] = ED25519_TYPE;
  key.set(publicKey, 1);
  return `${name}+${hex8(ed25519KeyId(name, publicKey))}+${Buffer.from(key).toString('base64')}`;
}

/** Parses a verifier key string; the key ID must match the key. Ed25519 only. */
export function parseVerifierKey(vkey: string): NoteVerifier & { readonly publicKey: Uint8Array } {
  const parts = vkey.split('+');
  // the base64 part may itself contain '+': name and hash are the first two fields
  if (parts.length < 3) throw malformed('verifier key needs name+hash+key');
  const name = parts[0]!;
  const hash = parts[1]!;
  const key = strictBase64(parts.slice(2).join('+'), 'verifier key');
  if (!isValidKeyName(name)) throw malformed('invalid key name in verifier key');
  if (!/^[0-9a-f]{8}$/.test(hash)) throw malformed('verifier key hash must be 8 lowercase hex digits');
  if (key.length !== 33 || key[0] !== ED25519_TYPE) throw malformed('verifier key is not an Ed25519 key');
  const publicKey = key.slice(1);
  const keyId = ed25519KeyId(name, publicKey);
  if (hex8(keyId) !== hash) throw malformed('verifier key hash does not match the key');
  return {
    name,
    keyId,
    publicKey,
    verify(message, signature) {
      if (signature.length !== 64) return false;
      try {
        return ed25519.verify(signature, message, publicKey, { zip215: false });
      } catch {
        return false;
      }
    },
  };
}

function checkText(note: string): void {
  if (!isWellFormedString(note)) throw malformed('not valid UTF-8');
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x09\x0b-\x1f]/.test(note)) throw malformed('control character other than newline');
}

/** Structural parse (no signature check). Accepts a string or UTF-8 bytes. */
export function parseNote(note: string | Uint8Array): ParsedNote {
  let s: string;
  if (typeof note === 'string') {
    s = note;
    if (Buffer.byteLength(s, 'utf8') > MAX_NOTE_BYTES) throw malformed('too large');
  } else {
    if (note.length > MAX_NOTE_BYTES) throw malformed('too large');
    try {
      s = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(note);
    } catch {
      throw malformed('not valid UTF-8');
    }
  }
  checkText(s);
  if (!s.endsWith('\n')) throw malformed('missing final newline');
  const split = s.lastIndexOf('\n\n');
  if (split < 0) throw malformed('no blank line before the signatures');
  const text = s.slice(0, split + 1);
  const lines = s.slice(split + 2, -1).split('\n');
  if (lines.length === 1 && lines[0] === '') throw malformed('no signatures');
  if (lines.length > MAX_SIGNATURES) throw malformed(`more than ${MAX_SIGNATURES} signatures`);
  const seen = new Set<string>();
  const signatures = lines.map((line) => {
    if (!line.startsWith(SIG_PREFIX)) throw malformed('signature line must start with an em dash and a space');
    const rest = line.slice(SIG_PREFIX.length);
    const space = rest.indexOf(' ');
    if (space < 0 || rest.indexOf(' ', space + 1) >= 0) throw malformed('signature line needs exactly a name and a signature');
    const name = rest.slice(0, space);
    if (!isValidKeyName(name)) throw malformed('invalid key name in signature line');
    const raw = strictBase64(rest.slice(space + 1), 'signature');
    if (raw.length < 5) throw malformed('signature too short');
    const keyId = Buffer.from(raw.buffer, raw.byteOffset, raw.length).readUInt32BE(0);
    const dedup = `${name}\n${keyId}`;
    if (seen.has(dedup)) throw malformed('duplicate signature for one key');
    seen.add(dedup);
    return { name, keyId, signature: raw.slice(4) };
  });
  return { text, signatures };
}

/** Parses and verifies a note against trusted keys (see module doc for the rules). */
export function openNote(note: string | Uint8Array, verifiers: readonly NoteVerifier[]): OpenedNote {
  const parsed = parseNote(note);
  const message = new TextEncoder().encode(parsed.text);
  const verifiedBy: string[] = [];
  for (const sig of parsed.signatures) {
    const known = verifiers.filter((v) => v.name === sig.name && v.keyId === sig.keyId);
    if (known.length === 0) continue;
    if (!known.some((v) => v.verify(message, sig.signature))) {
      throw new NoteError('audit_note_bad_signature', `signature by ${sig.name} does not verify`);
    }
    verifiedBy.push(sig.name);
  }
  if (verifiedBy.length === 0) throw new NoteError('audit_note_unverified', 'note is not signed by any known key');
  return { ...parsed, verifiedBy };
}

/** Signs `text` (must end in a newline) with each signer and returns the note. */
export async function signNote(text: string, signers: readonly NoteSigner[]): Promise<string> {
  checkText(text);
  if (!text.endsWith('\n')) throw malformed('text must end with a newline');
  if (signers.length === 0 || signers.length > MAX_SIGNATURES) throw malformed('need 1 to 100 signers');
  const message = new TextEncoder().encode(text);
  let out = `${text}\n`;
  for (const signer of signers) {
    if (!isValidKeyName(signer.name)) throw malformed('invalid signer key name');
    const keyId = ed25519KeyId(signer.name, signer.publicKey);
    const sig = await signer.sign(message);
    // a faulty or misconfigured signer (e.g. an HSM returning the wrong key) must not yield a note
    const check = parseVerifierKey(formatVerifierKey(signer.name, signer.publicKey));
    if (!check.verify(message, sig)) {
      throw new NoteError('audit_note_bad_signature', `signer ${signer.name} produced an invalid signature`);
    }
    const raw = new Uint8Array(4 + sig.length);
    Buffer.from(raw.buffer).writeUInt32BE(keyId, 0);
    raw.set(sig, 4);
    out += `${SIG_PREFIX}${signer.name} ${Buffer.from(raw).toString('base64')}\n`;
  }
  if (Buffer.byteLength(out, 'utf8') > MAX_NOTE_BYTES) throw malformed('too large');
  return out;
}
