/**
 * `custos audit …` and `custos bench audit`: verify (database or an export), export, checkpoint,
 * seal, harden. Progress goes to stderr on a terminal; results to stdout; a failed verification
 * exits 2.
 *
 * @example
 *   registerAuditCommands(program, common);   // in main.ts, where the audit section was
 *   registerAuditBench(bench);                 // beside the other benchmarks
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { sealPending } from '../audit/chain.js';
import { auditConfigFromEnv, openCheckpointKey } from '../audit/checkpoint-key.js';
import { AuditCheckpointer } from '../audit/checkpointer.js';
import { exportAuditLog, verifyExport } from '../audit/export.js';
import { hardenAuditTables } from '../audit/harden.js';
import { parseVerifierKey, type NoteVerifier } from '../audit/note.js';
import { verifyAuditDb } from '../audit/verify-db.js';
import { writeResult } from './bench-results.js';
import { dataDir, openConfiguredDb, type CommonOptions } from './env.js';

const progress = (quiet: boolean | undefined) => (phase: string, n: number) => {
  if (!quiet && process.stderr.isTTY) process.stderr.write(`\r${phase}: ${n} entries`);
};
const endProgress = (quiet: boolean | undefined) => {
  if (!quiet && process.stderr.isTTY) process.stderr.write('\n');
};

async function trustedKeys(keyOption: string | undefined, common: CommonOptions): Promise<{ verifiers: NoteVerifier[]; origin: string }> {
  const origin = auditConfigFromEnv(process.env, dataDir(common)).origin;
  if (keyOption) return { verifiers: [parseVerifierKey(keyOption)], origin };
  const key = await openCheckpointKey({ dataDir: dataDir(common), origin });
  try {
    return { verifiers: [parseVerifierKey(key.verifierKey)], origin };
  } finally {
    await key.close();
  }
}

export function registerAuditCommands(program: Command, common: () => CommonOptions): void {
  const audit = program
    .command('audit')
    .description('audit log: hash chain + RFC 6962 Merkle tree with signed checkpoints (env CUSTOS_AUDIT_ORIGIN, CUSTOS_AUDIT_CHECKPOINT_FILE, CUSTOS_AUDIT_WITNESS_URL)');

  audit
    .command('verify')
    .description('recompute the chain, every leaf and root, check every checkpoint signature and their consistency; name the first bad entry')
    .option('--json', 'print JSON')
    .option('--export <dir>', 'verify an export offline (no database) instead')
    .option('--key <vkey>', 'trusted checkpoint verifier key (default: the configured checkpoint key; with --export: DIR/verifier.key)')
    .action(async (o: { json?: boolean; export?: string; key?: string }) => {
      if (o.export) {
        const r = await verifyExport(o.export, o.key ? { verifiers: [parseVerifierKey(o.key)] } : {});
        if (o.json) console.log(JSON.stringify({ ...r, ...(r.ok ? { root: Buffer.from(r.root).toString('base64') } : {}) }));
        else if (r.ok) console.log(`audit export intact: ${r.entries} entries, ${r.checkpoints} checkpoints, verified up to tree size ${r.verifiedSize} (${r.unverifiedTail} after the last checkpoint)${o.key ? '' : `; key taken from ${o.export}/verifier.key: compare it with the published key`}`);
        else console.log(`audit export BROKEN (${r.reason}): ${r.message}`);
        if (!r.ok) process.exitCode = 2;
        return;
      }
      const db = await openConfiguredDb(common());
      try {
        const { verifiers, origin } = await trustedKeys(o.key, common());
        const r = await verifyAuditDb(db, { verifiers, origin, onProgress: progress(o.json) });
        endProgress(o.json);
        const c = r.chain;
        if (o.json) {
          const log = r.log && r.log.ok ? { ...r.log, root: Buffer.from(r.log.root).toString('base64') } : r.log;
          console.log(JSON.stringify({ ...c, ok: r.ok, chainOk: c.ok, log, treeHead: r.treeHead, nodes: r.nodes, ...(r.firstBadSeq !== undefined ? { firstBadSeq: r.firstBadSeq } : {}), message: r.message }));
        } else {
          if (c.ok) console.log(`audit chain intact: ${c.entries} entries${c.pending ? `, ${c.pending} committed but not yet chained` : ''}`);
          else console.log(`audit chain BROKEN at seq ${c.brokenSeq} (entry ${c.entryId ?? '?'}): ${c.reason}`);
          const l = r.log;
          if (l?.ok) console.log(`Merkle log intact: ${l.entries} leaves, ${l.checkpoints} checkpoints verified (signed tree size ${l.verifiedSize}, ${l.unverifiedTail} entries after the last checkpoint)`);
          else if (l) console.log(`Merkle log BROKEN (${l.reason}): ${l.message}`);
          if (r.treeHead && !r.treeHead.ok) console.log(`tree head BROKEN: ${r.treeHead.message}`);
          if (r.nodes?.ok) console.log(`stored tree intact: ${r.nodes.checked} nodes re-derived from the entries`);
          else if (r.nodes) console.log(`stored tree BROKEN: ${r.nodes.message}`);
          if (!r.ok && r.firstBadSeq !== undefined) console.log(`first bad entry: seq ${r.firstBadSeq}`);
        }
        if (!r.ok) process.exitCode = 2;
      } finally {
        await db.close();
      }
    });

  audit
    .command('export <dir>')
    .description('write entries (JSONL, one canonical body per line from seq 1), checkpoints and the verifier key for an auditor')
    .action(async (dir: string) => {
      const db = await openConfiguredDb(common());
      try {
        const origin = auditConfigFromEnv(process.env, dataDir(common())).origin;
        const key = await openCheckpointKey({ dataDir: dataDir(common()), origin });
        await key.close();
        const m = await exportAuditLog(db, dir, { origin, verifierKey: key.verifierKey, onProgress: (n) => progress(false)('exported', n) });
        endProgress(false);
        console.log(`exported ${m.entries} entries and ${m.checkpoints} checkpoints to ${resolve(dir)} (verify: custos audit verify --export ${dir})`);
      } finally {
        await db.close();
      }
    });

  audit
    .command('checkpoint')
    .description('chain pending entries and sign a checkpoint of the tree now (stored, appended to the checkpoint file, sent to the witness)')
    .option('--force', 'sign even if the tree did not grow since the last checkpoint')
    .option('--json', 'print JSON')
    .action(async (o: { force?: boolean; json?: boolean }) => {
      const db = await openConfiguredDb(common());
      const cfg = auditConfigFromEnv(process.env, dataDir(common()));
      const key = await openCheckpointKey({ dataDir: dataDir(common()), origin: cfg.origin });
      try {
        while ((await sealPending(db)) > 0);
        const cp = new AuditCheckpointer(db, { origin: cfg.origin, signer: key.signer, file: cfg.file, witnessUrl: cfg.witnessUrl });
        const { checkpoint, created } = await cp.issue({ force: o.force ?? false, onError: (err) => console.error(`warning: checkpoint copy failed: ${err.message}`) });
        if (o.json) console.log(JSON.stringify({ created, size: checkpoint.size, root: Buffer.from(checkpoint.root).toString('base64'), note: checkpoint.note, verifierKey: key.verifierKey }));
        else {
          console.log(created ? `signed checkpoint at tree size ${checkpoint.size} (${key.description}):` : `tree did not grow; latest checkpoint (size ${checkpoint.size}):`);
          process.stdout.write(`\n${checkpoint.note}\nverifier key: ${key.verifierKey}\n`);
        }
      } finally {
        await key.close();
        await db.close();
      }
    });

  audit
    .command('seal')
    .description('chain committed entries and extend the Merkle tree now (the server does this every 200 ms)')
    .action(async () => {
      const db = await openConfiguredDb(common());
      try {
        let n = 0;
        for (let k = await sealPending(db); k > 0; k = await sealPending(db)) n += k;
        console.log(`chained ${n} entries`);
      } finally {
        await db.close();
      }
    });

  audit
    .command('harden')
    .description('PostgreSQL: give the log tables to a NOLOGIN owner role and leave the application role INSERT/SELECT only (run as a superuser)')
    .requiredOption('--app-role <role>', 'the role the application connects as')
    .option('--owner-role <role>', 'NOLOGIN owner of the log tables', 'custos_audit_owner')
    .action(async (o: { appRole: string; ownerRole: string }) => {
      const db = await openConfiguredDb(common());
      try {
        const r = await hardenAuditTables(db, { appRole: o.appRole, ownerRole: o.ownerRole });
        console.log(`audit log tables owned by ${r.ownerRole}${r.created ? ' (created, NOLOGIN)' : ''}; ${o.appRole} may INSERT and SELECT them`);
      } finally {
        await db.close();
      }
    });
}

export function registerAuditBench(bench: Command): void {
  bench
    .command('audit')
    .description('audit log into the database (DATABASE_URL, else PGlite): appends/s with the tree kept current, inclusion-proof p99 and offline verification on 1,000,000 entries (in-memory core)')
    .option('--json', 'print one JSON object')
    .option('--entries <n>', 'entries appended into the database', (v) => Number(v), 50_000)
    .option('--core-entries <n>', 'log size for the proof and verification timings (in-memory core)', (v) => Number(v), 1_000_000)
    .action(async (o: { json?: boolean; entries: number; coreEntries: number }) => {
      const { benchAuditDb, openBenchDb } = await import('../audit/bench-db.js');
      const { benchAuditCore } = await import('../audit/bench.js');
      const { db, drop } = await openBenchDb(process.env.DATABASE_URL);
      let dbResult;
      try {
        if (!o.json) process.stderr.write(`appending ${o.entries} entries into ${db.kind === 'postgres' ? 'PostgreSQL (throwaway schema)' : 'PGlite (in memory)'}…\n`);
        dbResult = await benchAuditDb(db, { entries: o.entries });
      } finally {
        await drop();
      }
      if (!o.json) process.stderr.write(`building and verifying a ${o.coreEntries}-entry log in memory…\n`);
      const core = await benchAuditCore({ entries: o.coreEntries });
      const r = {
        bench: 'audit',
        appends_per_s: dbResult.appends_per_s,
        inclusion_proof_p99_ms: core.inclusion_proof_p99_ms,
        verify_1m_s: core.verify_1m_s,
        notes:
          'appends_per_s: into the database with the sequencer chaining and extending the tree concurrently, writers committing entries_per_tx entries per transaction; ' +
          `inclusion_proof_p99_ms and verify_1m_s: in-memory core on ${core.entries} entries; db_inclusion_proof_*: from the stored nodes of the ${dbResult.entries * 1.5}-entry database log, as the gateway serves them (upper tree levels cached in the process, low levels read per proof)`,
        db: dbResult,
        core,
      };
      const path = writeResult('audit', r);
      console.log(o.json ? JSON.stringify(r) : `${JSON.stringify(r, null, 2)}\n→ ${path}`);
    });
}
