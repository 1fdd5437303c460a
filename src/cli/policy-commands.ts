/**
 * CLI: `custos policy show | simulate FILE [--days N] | init FILE | propose FILE --admin ID |
 * approve ID --admin ID --key FILE | apply ID | admin-key FILE | price ASSET VALUE` and
 * `custos sanctions import FILE [--list NAME] | list`. Thin: the work is in src/pipeline and src/policy.
 *
 * @example
 *   registerPolicyCommands(program, common);
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import type { Command } from 'commander';
import { appendAudit } from '../audit/chain.js';
import { CustosError } from '../core/errors.js';
import { formatAmount, parseAmount } from '../core/money.js';
import { activePolicy, installInitialPolicy } from '../pipeline/active-policy.js';
import { applyChange, approveChange, getChange, proposeChange } from '../pipeline/policy-changes.js';
import { loadPastWithdrawals } from '../pipeline/simulate-history.js';
import { ensureStarterPolicy } from '../pipeline/active-policy.js';
import { policyChangeDigest, signPolicyChange, type PolicyChangeProposal } from '../policy/governance.js';
import { parsePolicyText } from '../policy/policy-text.js';
import { simulate } from '../policy/simulate.js';
import { DAY_MS } from '../policy/windows.js';
import { parseSanctionsList, sanctionsListName } from '../risk/sanctions.js';
import type { Db } from '../store/db.js';
import { listApproverKeys } from '../store/approvers.js';
import { listPrices, setPrice } from '../store/policies.js';
import { replaceSanctionsList, sanctionsCounts } from '../store/sanctions.js';
import { openConfiguredDb, table, type CommonOptions } from './env.js';

async function withDb<T>(common: () => CommonOptions, f: (db: Db) => Promise<T>): Promise<T> {
  const db = await openConfiguredDb(common());
  try {
    return await f(db);
  } finally {
    await db.close();
  }
}

function readPolicyFile(file: string): { document: unknown; version: number } {
  const { policy, document } = parsePolicyText(readFileSync(file, 'utf8'));
  return { document, version: policy.version };
}

/** An admin's Ed25519 secret key: a file holding 64 lowercase hex characters. */
function readSecretKey(file: string): Uint8Array {
  const text = readFileSync(file, 'utf8').trim();
  if (!/^[0-9a-f]{64}$/.test(text)) throw new CustosError('key_file_invalid', `${file} must hold a 32-byte Ed25519 secret key as 64 lowercase hex characters`, 400);
  return hexToBytes(text);
}

export function registerPolicyCommands(program: Command, common: () => CommonOptions): void {
  const policy = program.command('policy').description('the versioned policy of stages 2 and 3 (risk and rules), changed by an admin quorum');

  policy
    .command('show')
    .description('the active policy: version, origin, hash, approvals, rules and prices')
    .option('--json', 'print the document as JSON')
    .action(async (o: { json?: boolean }) =>
      withDb(common, async (db) => {
        await ensureStarterPolicy(db, Date.now());
        const a = await activePolicy(db);
        if (o.json) return console.log(JSON.stringify(a.document, null, 2));
        const p = a.policy;
        const rc = p.referenceCurrency;
        console.log(`policy version ${a.version} (${a.source}), sha256 ${a.hash}`);
        if (a.source === 'starter') console.log('  the starter policy: install your own with `custos policy init FILE` (its admins then govern every change)');
        console.log(`  risk: review from ${p.risk.thresholds.review}, block from ${p.risk.thresholds.block}; sanctions always block`);
        console.log(`  approvals: ${p.approvals.tiers.map((t) => `${t.quorum} from ${formatAmount(t.fromReference, rc.decimals)} ${rc.code}`).join(', ')} of [${p.approvals.approvers.join(', ')}]; HSM from ${p.approvals.hsmFromReference === null ? 'never' : `${formatAmount(p.approvals.hsmFromReference, rc.decimals)} ${rc.code}`}; expiry ${p.approvals.expiryHours} h`);
        const registered = new Set((await listApproverKeys(db)).map((k) => k.approverId));
        const keyless = p.approvals.approvers.filter((a) => !registered.has(a));
        const maxQuorum = Math.max(0, ...p.approvals.tiers.map((t) => t.quorum));
        if (keyless.length > 0) {
          const left = p.approvals.approvers.length - keyless.length;
          console.log(`  approvers without a registered approval key (custos approvers add): ${keyless.join(', ')}${left < maxQuorum ? ` — only ${left} can sign, fewer than the highest quorum (${maxQuorum})` : ''}`);
        }
        console.log(`  governance: ${p.governance.quorum} of [${Object.keys(p.governance.admins).join(', ')}] (never the proposer)`);
        for (const r of p.rules) console.log(`  rule ${r.name}: ${JSON.stringify(r.when, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))} → ${r.then.action}`);
        const prices = await listPrices(db);
        console.log(
          table(
            ['asset', `price (${rc.code})`, 'source', 'observed'],
            prices.map((x) => [x.asset, formatAmount(x.refPerUnit, rc.decimals), x.source, x.observedAt === null ? 'fixed (configured)' : new Date(x.observedAt).toISOString()]),
          ),
        );
      }),
    );

  policy
    .command('simulate <file>')
    .description('replay the last days of withdrawals against a draft policy and print what would change')
    .option('--days <n>', 'days to replay', (v) => Number(v), 30)
    .option('--json', 'print the result as JSON')
    .action(async (file: string, o: { days: number; json?: boolean }) =>
      withDb(common, async (db) => {
        if (!Number.isInteger(o.days) || o.days < 1 || o.days > 366) throw new CustosError('days_invalid', '--days must be 1 to 366', 400);
        const { policy: draft } = parsePolicyText(readFileSync(file, 'utf8'));
        const now = Date.now();
        const past = await loadPastWithdrawals(db, now - o.days * DAY_MS, now);
        const r = simulate(draft, past, { replayCounters: true });
        if (o.json) return console.log(JSON.stringify(r));
        console.log(`${r.total} withdrawals of the last ${o.days} days replayed against ${basename(file)} (version ${draft.version})`);
        console.log(table(['outcome', 'recorded', 'with the draft'], (['approve', 'awaiting_approval', 'review', 'block'] as const).map((k) => [k, String(r.before[k]), String(r.after[k])])));
        console.log(`${r.changed.length} would change${r.changed.length ? ':' : ''}`);
        for (const c of r.changed.slice(0, 50)) console.log(`  ${c.id}: ${c.before} → ${c.after}  ${c.reasons.map((x) => x.code).join(', ')}`);
        if (r.changed.length > 50) console.log(`  … and ${r.changed.length - 50} more (--json for all)`);
      }),
    );

  policy
    .command('init <file>')
    .description('install the first own policy over the starter policy (operator; audited). Later changes need the admin quorum')
    .action(async (file: string) =>
      withDb(common, async (db) => {
        await ensureStarterPolicy(db, Date.now());
        const { document } = readPolicyFile(file);
        const a = await installInitialPolicy(db, document, 'operator', Date.now());
        console.log(`policy version ${a.version} installed (sha256 ${a.hash}); its ${Object.keys(a.policy.governance.admins).length} admins now govern changes (quorum ${a.policy.governance.quorum})`);
      }),
    );

  policy
    .command('propose <file>')
    .description('propose a new policy version; it applies once the admin quorum approved it')
    .requiredOption('--admin <id>', 'the proposing admin (an admin of the active policy)')
    .action(async (file: string, o: { admin: string }) =>
      withDb(common, async (db) => {
        const { document } = readPolicyFile(file);
        const { id, proposal } = await proposeChange(db, document, o.admin, Date.now());
        console.log(`proposal ${id}: version ${proposal.previousVersion} → ${proposal.version}, document sha256 ${proposal.documentHash}`);
        console.log(`digest to sign ${bytesToHex(policyChangeDigest(proposal))}`);
        console.log(`next: custos policy approve ${id} --admin ID --key FILE   (admins other than ${o.admin}), then custos policy apply ${id}`);
      }),
    );

  policy
    .command('approve <proposalId>')
    .description("sign a proposal with an admin's Ed25519 key and record the approval")
    .requiredOption('--admin <id>', 'the approving admin')
    .requiredOption('--key <file>', "file with the admin's secret key (64 hex characters)")
    .action(async (id: string, o: { admin: string; key: string }) =>
      withDb(common, async (db) => {
        const p = await getChange(db, id);
        const approval = signPolicyChange(p.proposal as unknown as PolicyChangeProposal, o.admin, readSecretKey(o.key));
        const r = await approveChange(db, id, approval, Date.now());
        console.log(`approval by ${o.admin} recorded: ${r.approvals} of ${r.quorum}${r.approvals >= r.quorum ? ` — ready: custos policy apply ${id}` : ''}`);
      }),
    );

  policy
    .command('apply <proposalId>')
    .description('make an approved proposal the active policy')
    .action(async (id: string) =>
      withDb(common, async (db) => {
        const r = await applyChange(db, id, 'operator', Date.now());
        console.log(`policy version ${r.version} is active (sha256 ${r.hash})`);
      }),
    );

  policy
    .command('admin-key <file>')
    .description('generate an admin Ed25519 key: the secret goes to FILE (mode 0600), the public key is printed for the policy document')
    .action((file: string) => {
      const sk = ed25519.utils.randomSecretKey();
      writeFileSync(file, `${bytesToHex(sk)}\n`, { mode: 0o600, flag: 'wx' });
      console.log(bytesToHex(ed25519.getPublicKey(sk)));
    });

  policy
    .command('price <asset> <value>')
    .description('set a fixed price of one whole ASSET in the reference currency (static price table; audited)')
    .action(async (asset: string, value: string) =>
      withDb(common, async (db) => {
        await ensureStarterPolicy(db, Date.now());
        const { policy: p } = await activePolicy(db);
        if (!Object.hasOwn(p.assets, asset)) throw new CustosError('asset_not_in_policy', `the active policy does not declare ${asset}`, 400);
        const refPerUnit = parseAmount(value, p.referenceCurrency.decimals, 'value');
        if (refPerUnit <= 0n) throw new CustosError('price_invalid', 'a price must be positive', 400);
        const now = Date.now();
        await db.tx(async (q) => {
          await setPrice(q, { asset, refCurrency: p.referenceCurrency.code, refPerUnit, observedAt: null, source: 'operator' });
          await appendAudit(q, { at: now, actor: 'operator', action: 'price.set', subject: `price:${asset}`, data: { refCurrency: p.referenceCurrency.code, refPerUnit: refPerUnit.toString(), source: 'operator' } });
        });
        console.log(`${asset} = ${formatAmount(refPerUnit, p.referenceCurrency.decimals)} ${p.referenceCurrency.code} (fixed)`);
      }),
    );

  const sanctions = program.command('sanctions').description('sanctions lists (OFAC SDN digital-currency addresses): bundled, plus imported ones');
  sanctions
    .command('import <file>')
    .description('import one list (JSON array of addresses, as sanctioned_addresses_ETH.json); replaces the earlier import of that list')
    .option('--list <name>', 'list name (default: from the file name sanctioned_addresses_NAME.json)')
    .action(async (file: string, o: { list?: string }) =>
      withDb(common, async (db) => {
        const name = o.list ?? sanctionsListName(file);
        if (!name) throw new CustosError('sanctions_list_name_missing', 'name the list with --list NAME (the file is not called sanctioned_addresses_NAME.json)', 400);
        let json: unknown;
        try {
          json = JSON.parse(readFileSync(file, 'utf8'));
        } catch {
          throw new CustosError('sanctions_list_invalid', `${file} is not JSON`, 400);
        }
        const { entries, skipped } = parseSanctionsList(json, name);
        const now = Date.now();
        const n = await db.tx(async (q) => {
          const count = await replaceSanctionsList(q, name, entries, now);
          await appendAudit(q, { at: now, actor: 'operator', action: 'sanctions.imported', subject: `sanctions:${name}`, data: { list: name, entries: count, skipped, file: basename(file) } });
          return count;
        });
        console.log(`sanctions list ${name}: ${n} addresses imported${skipped ? `, ${skipped} skipped (chains custos does not support)` : ''}`);
      }),
    );
  sanctions
    .command('list')
    .description('imported lists and their sizes')
    .action(async () =>
      withDb(common, async (db) => {
        const rows = await sanctionsCounts(db);
        console.log(rows.length ? table(['list', 'addresses', 'imported'], rows.map((r) => [r.list, String(r.entries), new Date(r.importedAt).toISOString()])) : 'no imported lists (the bundled OFAC lists always apply)');
      }),
    );
}
