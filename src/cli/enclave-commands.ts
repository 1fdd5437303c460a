/**
 * CLI for the enclave boundary and the HSM: `custos init`, `custos hsm init|status|backup …`,
 * `custos enclave roots|allowlist|measure …`, `custos key-release serve`, and
 * `custos bench hsm|enclave`. Each command is a thin shell over src/enclave and src/hsm.
 *
 * Configuration (besides --data-dir / CUSTOS_DATA_DIR, default ./.custos):
 *   CUSTOS_HSM=pkcs11 with CUSTOS_HSM_LIBRARY, CUSTOS_HSM_TOKEN, CUSTOS_HSM_PIN (and CUSTOS_HSM_SO_PIN
 *   for token set-up and the backup trust step); otherwise the development HSM, whose passphrase is
 *   CUSTOS_DEV_HSM_PASSPHRASE or, for the no-set-up default, the file `custos init` writes
 *   (<dataDir>/development-hsm.passphrase, 0600 — beside the key file, so development only).
 *
 * @example
 *   registerEnclaveCommands(program, common); // in src/cli/main.ts
 */
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { enqueueAlert, type Alert } from '../alerts/outbox.js';
import { systemClock } from '../core/clock.js';
import { CustosError } from '../core/errors.js';
import { benchEnclave } from '../enclave/bench.js';
import {
  addDevelopmentMeasurement,
  enclaveDir,
  initDevelopmentTrust,
  loadDevelopmentRoots,
  loadReleasePolicy,
  readSignedAllowlist,
  rotateDevelopmentRoot,
} from '../enclave/development-trust.js';
import { keyReleaseDepsFromDataDir } from '../enclave/development-node.js';
import { keyReleaseDbHooks } from '../enclave/key-release-db.js';
import { benchKeyRelease } from '../enclave/key-release-bench.js';
import type { KeyReleaseDeps } from '../enclave/key-release.js';
import { createKeyReleaseServer } from '../enclave/key-release-server.js';
import { measureFiles } from '../enclave/measure.js';
import { verifyAllowlist, type SignedAllowlist } from '../enclave/measurement-allowlist.js';
import { benchHsmSigning, benchSoftHsmSigning, type HsmSignBenchResult } from '../hsm/bench.js';
import { describeHsmConfig, hsmConfigFromEnv, openHsm, type HsmConfig } from '../hsm/config.js';
import { DEVELOPMENT_HSM_FILE, DevelopmentHsm } from '../hsm/development-hsm.js';
import type { Hsm } from '../hsm/hsm.js';
import { hsmEventAlert, Pkcs11Hsm, receiverFingerprint, type HsmEvent, type KekBackup } from '../hsm/pkcs11-hsm.js';
import { initToken, installTrustedWrappingKey } from '../hsm/pkcs11-token.js';
import { softHsmStatus } from '../hsm/softhsm.js';
import { ensureStandardKeys, HSM_KEY_LABELS } from '../hsm/standard-keys.js';
import { writeResult } from './bench-results.js';
import { describeStore, openConfiguredDb } from './env.js';
import { stopSignal } from './stop-signal.js';

export const DEVELOPMENT_HSM_PASSPHRASE_FILE = 'development-hsm.passphrase';
const DEVELOPMENT = 'DEVELOPMENT';

export interface EnclaveCommandHooks {
  /** Where key-release refusals go (the lead connects the alerts outbox); default: one JSON line on stderr. */
  raiseAlert?: (alert: Alert) => void | Promise<void>;
  /** Where key releases are recorded (the lead connects the audit log); default: none. */
  recordRelease?: KeyReleaseDeps['recordRelease'];
  env?: NodeJS.ProcessEnv;
}

function resolveDataDir(common: () => { dataDir?: string }, env: NodeJS.ProcessEnv): string {
  return common().dataDir ?? env.CUSTOS_DATA_DIR ?? './.custos';
}

/**
 * The HSM configuration: PKCS#11 when CUSTOS_HSM=pkcs11; otherwise the development HSM in the data
 * directory, with CUSTOS_DEV_HSM_PASSPHRASE or the passphrase file `custos init` wrote.
 */
export function hsmConfigForDataDir(dataDir: string, env: NodeJS.ProcessEnv): HsmConfig {
  if ((env.CUSTOS_HSM ?? 'development') === 'development' && !env.CUSTOS_DEV_HSM_PASSPHRASE) {
    const file = path.join(dataDir, DEVELOPMENT_HSM_PASSPHRASE_FILE);
    if (!existsSync(file)) throw new CustosError('dev_hsm_passphrase_missing', `set CUSTOS_DEV_HSM_PASSPHRASE or run custos init (it writes ${file})`, 503);
    return { backend: 'development', dataDir, passphrase: readFileSync(file, 'utf8').trim() };
  }
  return hsmConfigFromEnv(env, { dataDir });
}

export interface InitReport {
  dataDir: string;
  development: true;
  created: string[];
  kept: string[];
  hsm: string;
  hsmKeysCreated: string[];
  attestationRootSha256: string;
  releasePolicy: { threshold: number; signers: readonly string[] };
  changed: boolean;
}

/**
 * `custos init`: the development attestation root (key 0600), the 2-of-3 development release
 * signers, and the HSM's standard keys (development HSM unless CUSTOS_HSM=pkcs11). Idempotent.
 */
export async function initDataDir(dataDir: string, env: NodeJS.ProcessEnv, now: number): Promise<InitReport> {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const trust = initDevelopmentTrust(dataDir, { now });
  const created = [...trust.created];
  const kept = [...trust.kept];
  if ((env.CUSTOS_HSM ?? 'development') === 'development' && !env.CUSTOS_DEV_HSM_PASSPHRASE) {
    const file = path.join(dataDir, DEVELOPMENT_HSM_PASSPHRASE_FILE);
    if (existsSync(file)) kept.push(file);
    else {
      writeFileSync(file, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
      created.push(file);
    }
  }
  const devHsmFile = path.join(dataDir, DEVELOPMENT_HSM_FILE);
  const devHsmExisted = existsSync(devHsmFile);
  const hsm = await openHsm(hsmConfigForDataDir(dataDir, env));
  try {
    const keys = await ensureStandardKeys(hsm);
    if (hsm.backend === 'development') (devHsmExisted ? kept : created).push(devHsmFile);
    return {
      dataDir,
      development: true,
      created,
      kept,
      hsm: hsm.description,
      hsmKeysCreated: keys.created,
      attestationRootSha256: trust.rootFingerprintSha256,
      releasePolicy: trust.releasePolicy,
      changed: created.length > 0 || keys.created.length > 0,
    };
  } finally {
    await hsm.close();
  }
}

async function withHsm<T>(dataDir: string, env: NodeJS.ProcessEnv, run: (hsm: Hsm) => Promise<T>): Promise<T> {
  const hsm = await openHsm(hsmConfigForDataDir(dataDir, env));
  try {
    return await run(hsm);
  } finally {
    await hsm.close();
  }
}

function requirePkcs11(hsm: Hsm, what: string): Pkcs11Hsm {
  if (!(hsm instanceof Pkcs11Hsm)) throw new CustosError('hsm_backend_unsupported', `${what} needs a PKCS#11 HSM (CUSTOS_HSM=pkcs11)`, 400);
  return hsm;
}

function b64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64');
}

function parseTime(text: string, now: number): number {
  const rel = /^\+(\d+)([smhd])$/.exec(text);
  if (rel) return now + Number(rel[1]) * { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[rel[2] as 's' | 'm' | 'h' | 'd'];
  const t = Date.parse(text);
  if (!Number.isFinite(t)) throw new CustosError('invalid_time', `${text} is neither an ISO time nor +<n>[smhd]`, 400);
  return t;
}

function print(json: boolean | undefined, value: unknown, text: string): void {
  console.log(json ? JSON.stringify(value) : text);
}

export function registerEnclaveCommands(program: Command, common: () => { dataDir?: string }, hooks: EnclaveCommandHooks = {}): void {
  const env = () => hooks.env ?? process.env;
  const dir = () => resolveDataDir(common, env());

  program
    .command('init')
    .description('create the DEVELOPMENT trust material in the data dir: attestation root, 2-of-3 release signers, HSM standard keys (idempotent)')
    .option('--json', 'print one JSON object')
    .action(async (o: { json?: boolean }) => {
      const r = await initDataDir(dir(), env(), systemClock.now());
      const lines = [
        `custos init in ${r.dataDir} — ${DEVELOPMENT} setup: these keys live in files on this host; do not protect real funds with them.`,
        `  HSM: ${r.hsm}${r.hsmKeysCreated.length ? ` (created keys: ${r.hsmKeysCreated.join(', ')})` : ' (standard keys already present)'}`,
        `  ${DEVELOPMENT} attestation root SHA-256: ${r.attestationRootSha256}`,
        `  ${DEVELOPMENT} release policy: ${r.releasePolicy.threshold}-of-${r.releasePolicy.signers.length} signers`,
        ...r.created.map((f) => `  created ${f}`),
        r.changed ? `  (${r.kept.length} existing item(s) kept)` : '  nothing changed: everything already exists',
      ];
      print(o.json, r, lines.join('\n'));
    });

  // ---- HSM ------------------------------------------------------------------------------------
  const hsmCmd = program.command('hsm').description('root keys in the HSM (PKCS#11 with CUSTOS_HSM=pkcs11, otherwise the DEVELOPMENT software backend)');
  hsmCmd
    .command('init')
    .description('set up the token if needed (PKCS#11: needs CUSTOS_HSM_SO_PIN) and create the missing standard keys')
    .option('--backupable-kek', 'make a new root KEK exportable only under an SO-trusted wrapping key (backup ceremony)')
    .option('--json', 'print one JSON object')
    .action(async (o: { backupableKek?: boolean; json?: boolean }) => {
      const config = hsmConfigForDataDir(dir(), env());
      let tokenCreated = false;
      if (config.backend === 'pkcs11') {
        try {
          await openHsm(config).then((h) => h.close());
        } catch (err) {
          if (!(err instanceof CustosError) || err.code !== 'hsm_token_not_found') throw err;
          const soPin = env().CUSTOS_HSM_SO_PIN;
          if (!soPin) throw new CustosError('hsm_so_pin_missing', `token "${config.tokenLabel}" does not exist; set CUSTOS_HSM_SO_PIN to create it`, 400);
          initToken({ library: config.library, tokenLabel: config.tokenLabel, soPin, userPin: config.pin });
          tokenCreated = true;
        }
      }
      const r = await withHsm(dir(), env(), async (hsm) => {
        const keys = await ensureStandardKeys(hsm, { backupableRootKek: o.backupableKek === true });
        return { hsm: hsm.description, tokenCreated, created: keys.created, approvalPublicKey: Buffer.from(keys.approval.publicKey).toString('hex'), checkpointPublicKey: Buffer.from(keys.checkpoint.publicKey).toString('hex') };
      });
      print(
        o.json,
        r,
        [
          `${r.hsm}${tokenCreated ? ' (token created)' : ''}`,
          r.created.length ? `created: ${r.created.join(', ')}` : 'standard keys already present: nothing changed',
          `approval public key (pin in every MPC node): ${r.approvalPublicKey}`,
          `audit checkpoint public key: ${r.checkpointPublicKey}`,
        ].join('\n'),
      );
    });

  hsmCmd
    .command('status')
    .description('which HSM is configured, and its keys with their protection attributes')
    .option('--json', 'print one JSON object')
    .action(async (o: { json?: boolean }) => {
      const config = hsmConfigForDataDir(dir(), env());
      const r = await withHsm(dir(), env(), async (hsm) => ({ config: describeHsmConfig(config), description: hsm.description, keys: await hsm.listKeys() }));
      const rows = r.keys.map((k) => `  ${k.label.padEnd(28)} ${k.kind.padEnd(10)} extractable=${k.extractable} sensitive=${k.sensitive} neverExtractable=${k.neverExtractable}`);
      const missing = Object.values(HSM_KEY_LABELS).filter((l) => !r.keys.some((k) => k.label === l));
      print(o.json, { ...r, missingStandardKeys: missing }, [r.description, ...rows, missing.length ? `missing standard keys: ${missing.join(', ')} (run custos hsm init)` : 'all standard keys present'].join('\n'));
    });

  const backup = hsmCmd.command('backup').description('root KEK backup ceremony (PKCS#11), or a copy of the encrypted DEVELOPMENT key file');
  backup
    .command('receiver')
    .description('target HSM: make the RSA-3072 receiver key pair and write its public half')
    .requiredOption('--label <label>', 'receiver key label')
    .requiredOption('--out <file>', 'where to write the receiver public key (JSON)')
    .action(async (o: { label: string; out: string }) => {
      await withHsm(dir(), env(), async (hsm) => {
        const pk = await requirePkcs11(hsm, 'a backup receiver').createBackupReceiver(o.label);
        writeFileSync(o.out, `${JSON.stringify({ format: 'custos-backup-receiver/1', modulus: b64(pk.modulus), publicExponent: b64(pk.publicExponent), fingerprint: pk.fingerprint })}\n`, { flag: 'wx' });
        console.log(`receiver ${o.label} written to ${o.out}\nfingerprint (read it aloud to the source HSM's security officer): ${pk.fingerprint}`);
      });
    });
  backup
    .command('trust')
    .description('source HSM, security officer (CUSTOS_HSM_SO_PIN): install the receiver public key as a trusted wrapping key')
    .requiredOption('--receiver <file>', 'receiver public key file from `hsm backup receiver`')
    .requiredOption('--fingerprint <hex>', 'the fingerprint confirmed out of band')
    .requiredOption('--label <label>', 'label of the trusted wrapping key')
    .action((o: { receiver: string; fingerprint: string; label: string }) => {
      const config = hsmConfigForDataDir(dir(), env());
      if (config.backend !== 'pkcs11') throw new CustosError('hsm_backend_unsupported', 'the trust step needs a PKCS#11 HSM (CUSTOS_HSM=pkcs11)', 400);
      const soPin = env().CUSTOS_HSM_SO_PIN;
      if (!soPin) throw new CustosError('hsm_so_pin_missing', 'the trust step needs CUSTOS_HSM_SO_PIN', 400);
      const f = JSON.parse(readFileSync(o.receiver, 'utf8')) as { modulus: string; publicExponent: string };
      const modulus = new Uint8Array(Buffer.from(f.modulus, 'base64'));
      const publicExponent = new Uint8Array(Buffer.from(f.publicExponent, 'base64'));
      const fingerprint = receiverFingerprint(modulus, publicExponent);
      if (fingerprint !== o.fingerprint.replace(/:/g, '').toLowerCase()) throw new CustosError('hsm_backup_wrong_receiver', 'the receiver key does not have the confirmed fingerprint', 400);
      installTrustedWrappingKey({ library: config.library, tokenLabel: config.tokenLabel, soPin }, o.label, { modulus, publicExponent, fingerprint });
      console.log(`trusted wrapping key ${o.label} installed (fingerprint ${fingerprint})`);
    });
  backup
    .command('export')
    .description('source HSM: export the root KEK wrapped for the trusted receiver (PKCS#11), or copy the encrypted DEVELOPMENT key file')
    .option('--trusted-label <label>', 'PKCS#11: label of the trusted wrapping key')
    .requiredOption('--out <file>', 'backup file to write')
    .action(async (o: { trustedLabel?: string; out: string }) => {
      const config = hsmConfigForDataDir(dir(), env());
      if (config.backend === 'development') {
        copyFileSync(path.join(dir(), DEVELOPMENT_HSM_FILE), o.out);
        console.log(`${DEVELOPMENT}: copied the encrypted key file to ${o.out} (restore by copying it back; it opens with the same passphrase)`);
        return;
      }
      if (!o.trustedLabel) throw new CustosError('invalid_arguments', '--trusted-label is required for a PKCS#11 backup', 400);
      await withHsm(dir(), env(), async (hsm) => {
        const b = await requirePkcs11(hsm, 'a KEK backup').exportKekBackup(HSM_KEY_LABELS.rootKek, o.trustedLabel!);
        writeFileSync(o.out, `${JSON.stringify({ ...b, wrapped: b64(b.wrapped) })}\n`, { flag: 'wx', mode: 0o600 });
        console.log(`root KEK backup for receiver ${b.receiverFingerprint} written to ${o.out} (check value ${b.checkValue})`);
      });
    });
  backup
    .command('restore')
    .description('target HSM: restore a root KEK backup with the receiver private key (PKCS#11)')
    .requiredOption('--in <file>', 'backup file from `hsm backup export`')
    .requiredOption('--receiver-label <label>', 'the receiver key label on this HSM')
    .action(async (o: { in: string; receiverLabel: string }) => {
      const raw = JSON.parse(readFileSync(o.in, 'utf8')) as Omit<KekBackup, 'wrapped'> & { wrapped: string };
      await withHsm(dir(), env(), async (hsm) => {
        const info = await requirePkcs11(hsm, 'a KEK restore').restoreKekBackup({ ...raw, wrapped: new Uint8Array(Buffer.from(raw.wrapped, 'base64')) }, o.receiverLabel);
        console.log(`restored ${info.label} (extractable=${info.extractable}, check value verified)`);
      });
    });

  // ---- enclave trust material ----------------------------------------------------------------
  const enclave = program.command('enclave').description('attestation roots, measurement allowlist and measurements (DEVELOPMENT trust material in the data dir)');
  const roots = enclave.command('roots').description('pinned attestation roots');
  roots
    .command('list')
    .option('--json', 'print one JSON object')
    .action((o: { json?: boolean }) => {
      const list = loadDevelopmentRoots(dir()).map((r) => ({
        name: r.name,
        sha256: r.certificate.fingerprintSha256,
        acceptFrom: Number.isFinite(r.acceptFrom) ? new Date(r.acceptFrom).toISOString() : null,
        acceptUntil: Number.isFinite(r.acceptUntil) ? new Date(r.acceptUntil).toISOString() : null,
      }));
      print(o.json, list, list.map((r) => `${DEVELOPMENT} ${r.name}  ${r.sha256}  from ${r.acceptFrom ?? '-'} until ${r.acceptUntil ?? '-'}`).join('\n'));
    });
  roots
    .command('rotate')
    .description('add a new DEVELOPMENT root and retire the current one at the cut-over')
    .option('--cutover <time>', 'ISO time or +<n>[smhd] from now when the old root stops being accepted', '+24h')
    .option('--accept-new-from <time>', 'when the new root starts being accepted (default now: overlap until the cut-over)')
    .action((o: { cutover: string; acceptNewFrom?: string }) => {
      const now = systemClock.now();
      const r = rotateDevelopmentRoot(dir(), { now, cutover: parseTime(o.cutover, now), ...(o.acceptNewFrom ? { acceptNewFrom: parseTime(o.acceptNewFrom, now) } : {}) });
      console.log(
        [`added ${DEVELOPMENT} root ${r.added}`, ...r.retired.map((f) => `retiring ${f} at ${new Date(r.cutover).toISOString()}`), ...r.deletedKeys.map((k) => `deleted expired root key ${k}`)].join('\n'),
      );
    });

  enclave
    .command('measure')
    .description('SHA-384 measurement (PCR0 of the development runtime) of files under a root')
    .requiredOption('--root <dir>', 'install directory the paths are relative to')
    .argument('<files...>', 'code and configuration files')
    .action(async (files: string[], o: { root: string }) => {
      console.log(Buffer.from(await measureFiles(files, { root: o.root })).toString('hex'));
    });

  const allowlist = enclave.command('allowlist').description('measurement allowlist signed by M-of-N release signers');
  allowlist
    .command('add')
    .description('add a measurement and re-sign the list with the DEVELOPMENT release signers (version + 1)')
    .requiredOption('--name <name>', 'name of the release / node')
    .option('--pcr0 <hex>', 'measurement (96 hex characters)')
    .option('--root <dir>', 'measure these files instead: install directory')
    .argument('[files...]', 'files to measure under --root')
    .option('--valid-days <n>', 'validity of the list', (v) => Number(v), 365)
    .action(async (files: string[], o: { name: string; pcr0?: string; root?: string; validDays: number }) => {
      let pcr0: Uint8Array;
      if (o.pcr0) {
        if (!/^[0-9a-f]{96}$/.test(o.pcr0)) throw new CustosError('invalid_arguments', '--pcr0 must be 96 lower-case hex characters', 400);
        pcr0 = new Uint8Array(Buffer.from(o.pcr0, 'hex'));
      } else if (o.root && files.length > 0) pcr0 = await measureFiles(files, { root: o.root });
      else throw new CustosError('invalid_arguments', 'give --pcr0 or --root with files', 400);
      const signed = addDevelopmentMeasurement(dir(), { name: o.name, pcr0, now: systemClock.now(), validityMs: o.validDays * 86_400_000 });
      console.log(`${DEVELOPMENT} allowlist version ${signed.allowlist.version}: ${signed.allowlist.measurements.map((m) => m.name).join(', ')} (${signed.signatures.length} signatures)`);
    });
  allowlist
    .command('show')
    .option('--json', 'print one JSON object')
    .action((o: { json?: boolean }) => {
      const signed = readSignedAllowlist(dir()) as SignedAllowlist | undefined;
      if (!signed) throw new CustosError('allowlist_missing', 'no measurement allowlist yet (custos enclave allowlist add)', 404);
      const list = verifyAllowlist(signed, loadReleasePolicy(dir()), { at: systemClock.now() });
      print(o.json, signed, [`allowlist version ${list.version}, valid until ${new Date(list.expiresAt).toISOString()}`, ...list.measurements.map((m) => `  ${m.name}  PCR0 ${m.pcrs['0']}`)].join('\n'));
    });

  // ---- key release ----------------------------------------------------------------------------
  program
    .command('key-release')
    .description('the key-release service')
    .command('serve')
    .description('release sealing keys to attested enclaves whose measurement is on the allowlist')
    .option('--port <port>', 'port (env CUSTOS_KEY_RELEASE_PORT, default 7400)', (v) => Number(v))
    .option('--host <host>', 'address (default 127.0.0.1)', '127.0.0.1')
    .option('--aws-root', 'also accept documents chaining to the AWS Nitro root')
    .option('--nodes <ids>', 'comma-separated node ids to serve (default any)')
    .option('--log', 'request log on stdout (bodies are never logged)')
    .option('--no-db', 'DEVELOPMENT: wrapped keys in <data-dir>/key-release/sealing-keys.json, refusals on stderr, no audit entries (when the embedded database is held by another process)')
    .action(async (o: { port?: number; host: string; awsRoot?: boolean; nodes?: string; log?: boolean; db: boolean }) => {
      const dataDir = dir();
      const db = o.db ? await openConfiguredDb({ dataDir }) : undefined;
      const dbHooks = db ? keyReleaseDbHooks(db) : undefined;
      const raiseAlert = hooks.raiseAlert ?? dbHooks?.raiseAlert ?? ((a: Alert) => void process.stderr.write(`${JSON.stringify({ alert: a })}\n`));
      const recordRelease = hooks.recordRelease ?? dbHooks?.recordRelease;
      const hsmConfig = hsmConfigForDataDir(dataDir, env());
      // Session loss, recovery, a refused or locked PIN: alerts (outbox with a database, else stderr).
      const onEvent = (e: HsmEvent) => {
        const alert = hsmEventAlert(e, hsmConfig.backend === 'pkcs11' ? hsmConfig.tokenLabel : 'development');
        if (db) void enqueueAlert(db, alert).catch(() => process.stderr.write(`${JSON.stringify({ alert })}\n`));
        else process.stderr.write(`${JSON.stringify({ alert })}\n`);
      };
      const hsm = await openHsm(hsmConfig, { onEvent }).catch(async (err: unknown) => {
        await db?.close();
        throw err;
      });
      const deps = keyReleaseDepsFromDataDir(dataDir, {
        hsm, raiseAlert, ...(recordRelease ? { recordRelease } : {}), ...(dbHooks ? { store: dbHooks.store } : {}),
        ...(o.awsRoot ? { awsRoot: true } : {}), ...(o.nodes ? { nodeIds: o.nodes.split(',').map((s) => s.trim()) } : {}),
      });
      const app = createKeyReleaseServer(deps, o.log ? { logger: { level: 'info' } } : {});
      const url = await app.listen({ port: o.port ?? Number(env().CUSTOS_KEY_RELEASE_PORT ?? 7400), host: o.host });
      const store = db ? `wrapped keys, audit entries and alerts in ${describeStore(db, { dataDir })}` : `${DEVELOPMENT} JSON key file, alerts on stderr, no audit entries`;
      const stopped = stopSignal();
      console.log(`custos key-release listening on ${url} (HSM: ${hsm.description}; roots in ${enclaveDir(dataDir)}${o.awsRoot ? ' + AWS Nitro' : ''}; ${store})`);
      await stopped;
      await app.close();
      await hsm.close();
      await db?.close();
    });

  // ---- benchmarks -----------------------------------------------------------------------------
  const bench = program.commands.find((c) => c.name() === 'bench') ?? program.command('bench').description('benchmarks; results under bench/results/');
  bench
    .command('hsm')
    .description('HSM ECDSA secp256k1 and Ed25519 signatures per second: SoftHSM2 (throw-away token) and the DEVELOPMENT backend')
    .option('--json', 'print one JSON object')
    .option('--seconds <n>', 'seconds per algorithm', (v) => Number(v), 2)
    .action(async (o: { json?: boolean; seconds: number }) => {
      const r = await benchHsm(o.seconds * 1000);
      const file = writeResult('hsm', { bench: 'hsm', ...r });
      print(o.json, r, `${hsmLine(r)} → ${file}`);
    });
  bench
    .command('enclave')
    .description('attestation verifications per second, key release end to end, HSM signatures per second')
    .option('--json', 'print one JSON object')
    .action(async (o: { json?: boolean }) => {
      const att = benchEnclave({ iterations: 200 });
      const release = await benchKeyRelease({ iterations: 50 });
      const hsm = await benchHsm(2000);
      const r = { ...att, ...release, hsm_ecdsa_sign_per_s: hsm.hsm_ecdsa_sign_per_s, hsm_ed25519_sign_per_s: hsm.hsm_ed25519_sign_per_s, hsm_backend: hsm.hsm_backend, hsm_details: hsm };
      const file = writeResult('enclave', { bench: 'enclave', ...r });
      print(
        o.json,
        r,
        `attestation verify ${r.attestation_verify_per_s}/s (cold ${r.attestation_verify_cold_ms} ms); key release median ${r.key_release_ms} ms (p95 ${r.key_release_p95_ms}); ${hsmLine(hsm)} → ${file}`,
      );
    });
}

interface HsmBench {
  hsm_ecdsa_sign_per_s: number;
  hsm_ed25519_sign_per_s: number;
  hsm_backend: string;
  softhsm: HsmSignBenchResult | { unavailable: string };
  development: HsmSignBenchResult;
}

/** SoftHSM2 when it is installed (its rates are the headline), and the development backend beside it. */
async function benchHsm(durationMs: number): Promise<HsmBench> {
  const status = softHsmStatus();
  const softhsm = status.available ? await benchSoftHsmSigning({ durationMs }) : { unavailable: status.reason };
  const tmp = mkdtempSync(path.join(tmpdir(), 'custos-bench-devhsm-'));
  let development: HsmSignBenchResult;
  try {
    const dev = await DevelopmentHsm.open({ dataDir: tmp, passphrase: 'benchmark only', scrypt: { N: 2 ** 14, r: 8, p: 1 } });
    try {
      development = await benchHsmSigning(dev, { durationMs });
    } finally {
      await dev.close();
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  const head = 'hsm_ecdsa_sign_per_s' in softhsm ? softhsm : development;
  return { hsm_ecdsa_sign_per_s: head.hsm_ecdsa_sign_per_s, hsm_ed25519_sign_per_s: head.hsm_ed25519_sign_per_s, hsm_backend: head.backend, softhsm, development };
}

function hsmLine(r: HsmBench): string {
  return `HSM (${r.hsm_backend}) ECDSA ${r.hsm_ecdsa_sign_per_s}/s, Ed25519 ${r.hsm_ed25519_sign_per_s}/s; development backend ECDSA ${r.development.hsm_ecdsa_sign_per_s}/s, Ed25519 ${r.development.hsm_ed25519_sign_per_s}/s`;
}
