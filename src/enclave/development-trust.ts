import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ed25519 } from '@noble/curves/ed25519.js';
import { createDevelopmentRoot, pinDevelopmentRoot, type DevelopmentCa } from './development-ca.js';
import { signAllowlist, verifyAllowlist, type AllowedMeasurement, type ReleasePolicy, type SignedAllowlist } from './measurement-allowlist.js';
import type { PinnedRoot } from './pinned-root.js';

/**
 * The development trust material under `<dataDir>/enclave/` (all labelled development: the keys sit
 * in files on the same host as the nodes, so they prove which code asks, not that the host is honest):
 *
 *   attestation-roots.json       pinned development roots with their acceptance windows (public)
 *   root-<fp16>.key.pem          each root's P-384 key, mode 0600
 *   release-policy.json          { threshold: 2, signers: [3 Ed25519 public keys] }
 *   release-signer-<i>.key       each development release signer's Ed25519 secret key (hex), mode 0600
 *   measurement-allowlist.json   the signed allowlist (written by `addDevelopmentMeasurement`)
 *
 * @example
 *   const report = initDevelopmentTrust('.custos', { now: Date.now() });
 *   const roots = loadDevelopmentRoots('.custos');
 */
export const ENCLAVE_DIR = 'enclave';
const ROOTS_FILE = 'attestation-roots.json';
const POLICY_FILE = 'release-policy.json';
const ALLOWLIST_FILE = 'measurement-allowlist.json';
const ROOTS_FORMAT = 'custos-development-attestation-roots/1';
export const DEVELOPMENT_RELEASE_THRESHOLD = 2;
export const DEVELOPMENT_RELEASE_SIGNERS = 3;

interface RootRecord {
  name: string;
  certificatePem: string;
  fingerprintSha256: string;
  keyFile: string;
  createdAt: number;
  acceptFrom?: number;
  acceptUntil?: number;
}

interface RootsFile {
  format: typeof ROOTS_FORMAT;
  roots: RootRecord[];
}

export interface InitDevelopmentTrustResult {
  /** Paths created by this call (empty when everything existed). */
  created: string[];
  /** Paths that existed and were kept. */
  kept: string[];
  rootFingerprintSha256: string;
  releasePolicy: ReleasePolicy;
}

export function enclaveDir(dataDir: string): string {
  return path.join(dataDir, ENCLAVE_DIR);
}

/**
 * Create what is missing of the development attestation root and the 2-of-3 development release
 * signers; keep what exists (a second run creates nothing).
 */
export function initDevelopmentTrust(dataDir: string, options: { now: number }): InitDevelopmentTrustResult {
  const dir = enclaveDir(dataDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const created: string[] = [];
  const kept: string[] = [];
  const rootsPath = path.join(dir, ROOTS_FILE);
  if (existsSync(rootsPath)) kept.push(rootsPath);
  else {
    const rec = writeNewRoot(dir, options.now, {});
    writeJson(rootsPath, { format: ROOTS_FORMAT, roots: [rec] } satisfies RootsFile, 0o644);
    created.push(rootsPath, path.join(dir, rec.keyFile));
  }
  const policyPath = path.join(dir, POLICY_FILE);
  if (existsSync(policyPath)) kept.push(policyPath);
  else {
    const signers: string[] = [];
    for (let i = 1; i <= DEVELOPMENT_RELEASE_SIGNERS; i++) {
      const file = path.join(dir, `release-signer-${i}.key`);
      let secret: Uint8Array;
      if (existsSync(file)) secret = readSignerKey(file);
      else {
        secret = ed25519.utils.randomSecretKey();
        writePrivate(file, `${Buffer.from(secret).toString('hex')}\n`);
        created.push(file);
      }
      signers.push(Buffer.from(ed25519.getPublicKey(secret)).toString('hex'));
    }
    writeJson(policyPath, { threshold: DEVELOPMENT_RELEASE_THRESHOLD, signers } satisfies ReleasePolicy, 0o644);
    created.push(policyPath);
  }
  const roots = readRoots(dataDir);
  return { created, kept, rootFingerprintSha256: roots.roots[roots.roots.length - 1]!.fingerprintSha256, releasePolicy: loadReleasePolicy(dataDir) };
}

/** The pinned development roots with their acceptance windows, for `verifyAttestation`. */
export function loadDevelopmentRoots(dataDir: string): PinnedRoot[] {
  return readRoots(dataDir).roots.map((r) =>
    pinDevelopmentRoot(r, { ...(r.acceptFrom !== undefined ? { acceptFrom: r.acceptFrom } : {}), ...(r.acceptUntil !== undefined ? { acceptUntil: r.acceptUntil } : {}) }),
  );
}

/**
 * The development CA a development enclave should attest with at time `at`: among the roots
 * accepted at `at` whose key is still on disk, the newest. Secret (holds the root key).
 */
export function loadDevelopmentCa(dataDir: string, at: number): DevelopmentCa {
  const usable = readRoots(dataDir)
    .roots.filter((r) => (r.acceptFrom ?? -Infinity) <= at && at < (r.acceptUntil ?? Infinity) && existsSync(path.join(enclaveDir(dataDir), r.keyFile)))
    .sort((a, b) => b.createdAt - a.createdAt);
  const r = usable[0];
  if (!r) throw new Error(`no development attestation root is accepted at ${new Date(at).toISOString()}: run custos init or custos enclave roots rotate`);
  return {
    name: r.name,
    certificatePem: r.certificatePem,
    privateKeyPem: readFileSync(path.join(enclaveDir(dataDir), r.keyFile), 'utf8'),
    chainPem: [r.certificatePem],
    fingerprintSha256: r.fingerprintSha256,
  };
}

export interface RotateRootResult {
  added: string;
  retired: string[];
  cutover: number;
  /** Key files of roots no longer accepted at `now`, deleted by this call. */
  deletedKeys: string[];
}

/**
 * Root rotation as an operation: add a new development root accepted from `acceptNewFrom`
 * (default `now`, i.e. overlapping) and retire every currently open-ended root at `cutover`
 * (documents chaining to it are refused from then on, `attestation_root`). Keys of roots whose
 * window ended before `now` are deleted. `cutover` must not be before `now`.
 *
 * @example
 *   rotateDevelopmentRoot('.custos', { now: Date.now(), cutover: Date.now() + 86_400_000 });
 */
export function rotateDevelopmentRoot(dataDir: string, options: { now: number; cutover: number; acceptNewFrom?: number }): RotateRootResult {
  if (!(options.cutover >= options.now)) throw new RangeError('the cut-over must not be in the past');
  const acceptNewFrom = options.acceptNewFrom ?? options.now;
  if (acceptNewFrom > options.cutover) throw new RangeError('the new root must be accepted no later than the cut-over, or no root would be accepted in between');
  const dir = enclaveDir(dataDir);
  const file = readRoots(dataDir);
  const retired: string[] = [];
  for (const r of file.roots) {
    if (r.acceptUntil === undefined || r.acceptUntil > options.cutover) {
      r.acceptUntil = options.cutover;
      retired.push(r.fingerprintSha256);
    }
  }
  const rec = writeNewRoot(dir, options.now, { acceptFrom: acceptNewFrom });
  file.roots.push(rec);
  const deletedKeys: string[] = [];
  for (const r of file.roots) {
    const keyPath = path.join(dir, r.keyFile);
    if (r.acceptUntil !== undefined && r.acceptUntil <= options.now && existsSync(keyPath)) {
      rmSync(keyPath);
      deletedKeys.push(keyPath);
    }
  }
  writeJson(path.join(dir, ROOTS_FILE), file, 0o644);
  return { added: rec.fingerprintSha256, retired, cutover: options.cutover, deletedKeys };
}

export function loadReleasePolicy(dataDir: string): ReleasePolicy {
  const p = JSON.parse(readFileSync(path.join(enclaveDir(dataDir), POLICY_FILE), 'utf8')) as ReleasePolicy;
  if (!Number.isSafeInteger(p.threshold) || !Array.isArray(p.signers)) throw new Error('release-policy.json must be { threshold, signers[] }');
  return { threshold: p.threshold, signers: p.signers };
}

/**
 * Readers for a long-running service: the pinned roots and the signed allowlist, re-read only when
 * their file changes (size, mtime or inode), so a rotation or a new allowlist takes effect on the
 * next request without parsing and checking certificates on every one. The allowlist comes back
 * deep-frozen, which lets `handleReleaseRequest` reuse its signature check (see there).
 *
 * @example
 *   const src = developmentTrustSources('.custos'); deps.roots = src.roots; deps.signedAllowlist = src.signedAllowlist;
 */
export function developmentTrustSources(dataDir: string): { roots: () => PinnedRoot[]; signedAllowlist: () => unknown } {
  const rootsFile = path.join(enclaveDir(dataDir), ROOTS_FILE);
  const allowlistFile = path.join(enclaveDir(dataDir), ALLOWLIST_FILE);
  return {
    roots: cachedByStat(rootsFile, () => loadDevelopmentRoots(dataDir)),
    signedAllowlist: cachedByStat(allowlistFile, () => deepFreeze(readSignedAllowlist(dataDir))),
  };
}

function cachedByStat<T>(file: string, load: () => T): () => T {
  let key: string | undefined;
  let value: T;
  return () => {
    let k = 'missing';
    try {
      const st = statSync(file);
      k = `${st.ino}:${st.size}:${st.mtimeMs}`;
    } catch {
      // a missing file is a state too; load() reports it
    }
    if (k !== key) {
      value = load();
      key = k;
    }
    return value;
  };
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** The stored signed allowlist as JSON (verified by the caller with `verifyAllowlist`), or undefined. */
export function readSignedAllowlist(dataDir: string): unknown {
  const file = path.join(enclaveDir(dataDir), ALLOWLIST_FILE);
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as unknown) : undefined;
}

/**
 * Add (or replace by name) a measurement on the development allowlist and re-sign it with
 * `signers` of the development release signers (default the policy's threshold), bumping the
 * version. Fewer signers than the threshold writes a list that verifiers refuse, which is what a
 * test of the M-of-N rule needs and nothing else should do.
 *
 * @example
 *   addDevelopmentMeasurement('.custos', { name: 'node-1', pcr0: await measureFiles(files, { root }), now: Date.now() });
 */
export function addDevelopmentMeasurement(
  dataDir: string,
  options: { name: string; pcr0: Uint8Array; now: number; validityMs?: number; signers?: number },
): SignedAllowlist {
  const { name, pcr0, ...rest } = options;
  return updateDevelopmentAllowlist(dataDir, { ...rest, set: [{ name, pcr0 }] });
}

/**
 * Several allowlist changes in one signed version: `set` adds or replaces entries by name,
 * `remove` drops entries by name (e.g. a node's enrolment measurement once it is provisioned).
 * Signed by `signers` of the development release signers (default the policy's threshold).
 *
 * @example
 *   updateDevelopmentAllowlist('.custos', { set: [{ name: 'node-1', pcr0 }], remove: ['node-1/enrol'], now: Date.now() });
 */
export function updateDevelopmentAllowlist(
  dataDir: string,
  options: { set?: readonly { name: string; pcr0: Uint8Array }[]; remove?: readonly string[]; now: number; validityMs?: number; signers?: number },
): SignedAllowlist {
  const policy = loadReleasePolicy(dataDir);
  const previous = readSignedAllowlist(dataDir) as SignedAllowlist | undefined;
  const set = options.set ?? [];
  const drop = new Set([...(options.remove ?? []), ...set.map((e) => e.name)]);
  const entries: AllowedMeasurement[] = set.map((e) => ({ name: e.name, pcrs: { '0': Buffer.from(e.pcr0).toString('hex') } }));
  const kept = (previous?.allowlist.measurements ?? []).filter((m) => !drop.has(m.name));
  const allowlist = {
    version: (previous?.allowlist.version ?? 0) + 1,
    issuedAt: options.now,
    expiresAt: options.now + (options.validityMs ?? 365 * 86_400_000),
    measurements: [...kept, ...entries],
  };
  const count = options.signers ?? policy.threshold;
  const signatures = [];
  for (let i = 1; i <= count; i++) signatures.push(signAllowlist(allowlist, readSignerKey(path.join(enclaveDir(dataDir), `release-signer-${i}.key`))));
  const signed: SignedAllowlist = { allowlist, signatures };
  if (count >= policy.threshold) verifyAllowlist(signed, policy, { at: options.now });
  writeJson(path.join(enclaveDir(dataDir), ALLOWLIST_FILE), signed, 0o644);
  return signed;
}

function writeNewRoot(dir: string, now: number, window: { acceptFrom?: number }): RootRecord {
  const tag = randomBytes(4).toString('hex');
  const root = createDevelopmentRoot({ now: now - 60_000, name: `custos development attestation root ${new Date(now).toISOString().slice(0, 10)} ${tag}` });
  const keyFile = `root-${root.fingerprintSha256.slice(0, 16)}.key.pem`;
  writePrivate(path.join(dir, keyFile), root.privateKeyPem);
  return { name: root.name, certificatePem: root.certificatePem, fingerprintSha256: root.fingerprintSha256, keyFile, createdAt: now, ...window };
}

function readRoots(dataDir: string): RootsFile {
  const file = path.join(enclaveDir(dataDir), ROOTS_FILE);
  if (!existsSync(file)) throw new Error(`${file} is missing: run custos init`);
  const data = JSON.parse(readFileSync(file, 'utf8')) as RootsFile;
  if (data.format !== ROOTS_FORMAT || !Array.isArray(data.roots) || data.roots.length === 0) throw new Error(`${file} is not a development roots file`);
  return data;
}

function readSignerKey(file: string): Uint8Array {
  const hex = readFileSync(file, 'utf8').trim();
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new Error(`${file} is not a 32-byte Ed25519 secret key in hex`);
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

function writePrivate(file: string, text: string): void {
  writeFileSync(file, text, { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600);
}

function writeJson(file: string, value: unknown, mode: number): void {
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`, { mode });
  renameSync(tmp, file);
}
