/**
 * Export of the audit log for an auditor, and its offline verification.
 *
 * DIR/entries.jsonl    one entry per line, in seq order from seq 1: the exact canonical JSON body;
 *                      leaf = SHA-256(0x00 || UTF-8 bytes of the line without its newline)
 * DIR/checkpoints.jsonl one stored checkpoint per line: {"size": n, "note": "<signed note>"}
 * DIR/verifier.key     the checkpoint verifier key (`<name>+<id>+<base64>`); an auditor should
 *                      compare it with the key published out of band (or pass their own)
 * DIR/manifest.json    {format, origin, firstSeq, entries, checkpoints}
 *
 * @example
 *   await exportAuditLog(db, 'audit-2026-11', { origin, verifierKey: key.verifierKey });
 *   const report = await verifyExport('audit-2026-11'); // offline, no database
 */
import { createReadStream, createWriteStream, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { CustosError } from '../core/errors.js';
import type { Queryable } from '../store/db.js';
import { listCheckpoints } from './checkpointer.js';
import { parseVerifierKey, type NoteVerifier } from './note.js';
import { chainedBodies } from './verify-db.js';
import { verifyLog, type VerifyReport } from './verify.js';

export const EXPORT_FORMAT = 'custos-audit-export-v1';

export interface ExportManifest {
  format: string;
  origin: string;
  firstSeq: number;
  entries: number;
  checkpoints: number;
}

export async function exportAuditLog(
  q: Queryable,
  dir: string,
  opts: { origin: string; verifierKey: string; onProgress?: (n: number) => void },
): Promise<ExportManifest> {
  mkdirSync(dir, { recursive: true });
  const out = createWriteStream(join(dir, 'entries.jsonl'));
  let entries = 0;
  const dec = new TextDecoder();
  for await (const body of chainedBodies(q, 10_000, opts.onProgress)) {
    if (!out.write(`${dec.decode(body)}\n`)) await once(out, 'drain');
    entries++;
  }
  out.end();
  await once(out, 'finish');
  const cps = await listCheckpoints(q);
  writeFileSync(join(dir, 'checkpoints.jsonl'), cps.map((c) => `${JSON.stringify({ size: c.size, note: c.note })}\n`).join(''));
  writeFileSync(join(dir, 'verifier.key'), `${opts.verifierKey}\n`);
  const manifest: ExportManifest = { format: EXPORT_FORMAT, origin: opts.origin, firstSeq: 1, entries, checkpoints: cps.length };
  writeFileSync(join(dir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

async function* lines(path: string): AsyncGenerator<Uint8Array> {
  const enc = new TextEncoder();
  const rl = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
  for await (const line of rl) yield enc.encode(line);
}

/** Verifies an export without a database. `verifiers` default to DIR/verifier.key. */
export async function verifyExport(dir: string, opts: { verifiers?: readonly NoteVerifier[] } = {}): Promise<VerifyReport & { manifest: ExportManifest }> {
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as ExportManifest;
  if (manifest.format !== EXPORT_FORMAT || typeof manifest.origin !== 'string') {
    throw new CustosError('audit_export_invalid', `${dir} is not a ${EXPORT_FORMAT} export`, 400);
  }
  const verifiers = opts.verifiers ?? [parseVerifierKey(readFileSync(join(dir, 'verifier.key'), 'utf8').trim())];
  const checkpoints = readFileSync(join(dir, 'checkpoints.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => {
      const note = (JSON.parse(l) as { note?: unknown }).note;
      if (typeof note !== 'string') throw new CustosError('audit_export_invalid', 'checkpoints.jsonl line without a note', 400);
      return note;
    });
  const report = await verifyLog({ entries: lines(join(dir, 'entries.jsonl')), checkpoints, verifiers, origin: manifest.origin, firstSeq: manifest.firstSeq ?? 1 });
  return { ...report, manifest };
}
