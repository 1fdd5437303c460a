import { AttestationError } from './errors.js';

/** One DER element: its tag byte and where its contents sit in the input. */
export interface DerElement {
  readonly tag: number;
  /** Offset of the first content byte. */
  readonly start: number;
  /** Offset just past the last content byte. */
  readonly end: number;
  /** Offset of the tag byte (start of the whole element). */
  readonly headerStart: number;
}

/**
 * Minimal strict DER (X.690) reader over a byte array: single-byte tags, definite lengths in the
 * shortest form, every length inside its parent. Enough to walk an X.509 certificate; it never
 * allocates beyond the elements it is asked for. Errors are `AttestationError` with the given code.
 *
 * @example
 *   const r = new DerReader(der, 'attestation_chain');
 *   const cert = r.read(r.root(), 0x30); // the Certificate SEQUENCE
 */
export class DerReader {
  constructor(
    readonly bytes: Uint8Array,
    private readonly code: 'attestation_chain' | 'attestation_format' = 'attestation_chain',
  ) {}

  /** The whole input as one element; it must be a single element with nothing after it. */
  root(): DerElement {
    const el = this.at(0, this.bytes.length);
    if (el.end !== this.bytes.length) throw this.fail('trailing bytes after the DER element');
    return el;
  }

  /** The element at `pos`, which must end by `limit`. */
  at(pos: number, limit: number): DerElement {
    if (pos + 2 > limit) throw this.fail('DER element truncated');
    const tag = this.bytes[pos]!;
    if ((tag & 0x1f) === 0x1f) throw this.fail('multi-byte DER tags are not supported');
    let len = this.bytes[pos + 1]!;
    let start = pos + 2;
    if (len & 0x80) {
      const n = len & 0x7f;
      if (n === 0) throw this.fail('indefinite DER length');
      if (n > 3) throw this.fail('DER length too large');
      if (start + n > limit) throw this.fail('DER length truncated');
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + this.bytes[start + i]!;
      if (this.bytes[start] === 0 || len < 0x80) throw this.fail('DER length not in shortest form');
      start += n;
    }
    const end = start + len;
    if (end > limit) throw this.fail('DER element runs past its container');
    return { tag, start, end, headerStart: pos };
  }

  /** The children of a constructed element, in order. */
  children(parent: DerElement): DerElement[] {
    const out: DerElement[] = [];
    let pos = parent.start;
    while (pos < parent.end) {
      const el = this.at(pos, parent.end);
      out.push(el);
      pos = el.end;
    }
    return out;
  }

  /** Check the tag of an element and return it. */
  expect(el: DerElement | undefined, tag: number, what: string): DerElement {
    if (!el || el.tag !== tag) throw this.fail(`${what}: expected DER tag 0x${tag.toString(16)}`);
    return el;
  }

  content(el: DerElement): Uint8Array {
    return this.bytes.subarray(el.start, el.end);
  }

  fail(message: string): AttestationError {
    return new AttestationError(this.code, `malformed DER: ${message}`);
  }
}
