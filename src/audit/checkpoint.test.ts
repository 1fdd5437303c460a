import { describe, expect, it } from 'vitest';
import { CheckpointError, formatCheckpoint, openCheckpoint, parseCheckpoint, signCheckpoint } from './checkpoint.js';
import { hashLeaf, rootOfLeafHashes } from './merkle.js';
import { NoteError, formatVerifierKey, parseNote, parseVerifierKey } from './note.js';
import { ed25519SignerFromSeed } from './signer.js';

const ORIGIN = 'custos.test/audit';
const signer = ed25519SignerFromSeed(ORIGIN, new Uint8Array(32).fill(7));
const verifier = parseVerifierKey(formatVerifierKey(signer.name, signer.publicKey));
const other = ed25519SignerFromSeed(ORIGIN, new Uint8Array(32).fill(8));
const root = rootOfLeafHashes([hashLeaf(new Uint8Array([1])), hashLeaf(new Uint8Array([2]))]);

describe('checkpoint text', () => {
  it('parses the tlog-checkpoint example body from the C2SP spec', () => {
    // c2sp.org/tlog-checkpoint, "Transparency Log Checkpoints" example
    const cp = parseCheckpoint('example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n');
    expect(cp.origin).toBe('example.com/behind-the-sofa');
    expect(cp.size).toBe(20852163);
    expect(Buffer.from(cp.rootHash).toString('base64')).toBe('CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=');
    expect(cp.extensions).toEqual([]);
  });
  it('round-trips, with extension lines and the largest safe size', () => {
    for (const cp of [
      { origin: ORIGIN, size: 0, rootHash: root },
      { origin: ORIGIN, size: 2 ** 53 - 1, rootHash: root, extensions: ['ext one', 'ext two'] },
    ]) {
      const text = formatCheckpoint(cp);
      const back = parseCheckpoint(text);
      expect(back.size).toBe(cp.size);
      expect(Buffer.from(back.rootHash).equals(Buffer.from(root))).toBe(true);
      expect(formatCheckpoint(back)).toBe(text);
    }
  });
  const b64 = Buffer.from(root).toString('base64');
  const bad: Array<[string, string]> = [
    ['leading zero', `${ORIGIN}\n042\n${b64}\n`],
    ['plus sign', `${ORIGIN}\n+42\n${b64}\n`],
    ['exponent', `${ORIGIN}\n1e3\n${b64}\n`],
    ['space', `${ORIGIN}\n 42\n${b64}\n`],
    ['size beyond 2^53 - 1', `${ORIGIN}\n9007199254740992\n${b64}\n`],
    ['short root', `${ORIGIN}\n42\n${Buffer.from(root.slice(1)).toString('base64')}\n`],
    ['non-canonical root base64', `${ORIGIN}\n42\n${b64.slice(0, 42)}R=\n`],
    ['empty origin', `\n42\n${b64}\n`],
    ['missing root line', `${ORIGIN}\n42\n`],
    ['empty extension line', `${ORIGIN}\n42\n${b64}\n\n`],
    ['no final newline', `${ORIGIN}\n42\n${b64}`],
  ];
  for (const [what, text] of bad) {
    it(`rejects ${what}`, () => expect(() => parseCheckpoint(text)).toThrow(CheckpointError));
  }
  it('refuses to format an impossible checkpoint', () => {
    expect(() => formatCheckpoint({ origin: ORIGIN, size: -1, rootHash: root })).toThrow(CheckpointError);
    expect(() => formatCheckpoint({ origin: 'a\nb', size: 1, rootHash: root })).toThrow(CheckpointError);
    expect(() => formatCheckpoint({ origin: ORIGIN, size: 1, rootHash: root.slice(1) })).toThrow(CheckpointError);
  });
});

describe('signed checkpoints', () => {
  it('signs and opens', async () => {
    const note = await signCheckpoint({ origin: ORIGIN, size: 2, rootHash: root }, [signer]);
    const opened = openCheckpoint(note, [verifier], ORIGIN);
    expect(opened.checkpoint.size).toBe(2);
    expect(opened.verifiedBy).toEqual([ORIGIN]);
    expect(parseNote(note).text).toBe(opened.text);
  });
  it('rejects a checkpoint signed by another key with the same name', async () => {
    const note = await signCheckpoint({ origin: ORIGIN, size: 2, rootHash: root }, [other]);
    expect(() => openCheckpoint(note, [verifier], ORIGIN)).toThrow(NoteError);
  });
  it('rejects a changed tree size or root in a signed checkpoint', async () => {
    const note = await signCheckpoint({ origin: ORIGIN, size: 2, rootHash: root }, [signer]);
    expect(() => openCheckpoint(note.replace(`${ORIGIN}\n2\n`, `${ORIGIN}\n3\n`), [verifier], ORIGIN)).toThrow(
      /does not verify/,
    );
    const b64 = Buffer.from(root).toString('base64');
    const flipped = (b64[0] === 'A' ? 'B' : 'A') + b64.slice(1);
    expect(() => openCheckpoint(note.replace(b64, flipped), [verifier], ORIGIN)).toThrow(/does not verify/);
  });
  it('rejects a validly signed checkpoint of another log', async () => {
    const note = await signCheckpoint({ origin: 'other.test/log', size: 2, rootHash: root }, [signer]);
    expect(() => openCheckpoint(note, [verifier], ORIGIN)).toThrow(/not the expected log/);
  });
});
