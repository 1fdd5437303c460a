import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { manualClock } from '../core/clock.js';
import { CustosError } from '../core/errors.js';
import { DevelopmentAttester } from './development-attester.js';
import { addDevelopmentMeasurement, enclaveDir, initDevelopmentTrust, loadDevelopmentCa, loadDevelopmentRoots, loadReleasePolicy, readSignedAllowlist, rotateDevelopmentRoot } from './development-trust.js';
import { measureEntries } from './measure.js';
import { verifyAllowlist } from './measurement-allowlist.js';
import { verifyAttestation } from './verify-attestation.js';

const T0 = Date.UTC(2026, 10, 24, 4, 0, 0);
const HOUR = 3_600_000;
let dir: string;

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'custos-dev-trust-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function codeOf(run: () => unknown): string {
  try {
    run();
  } catch (err) {
    return err instanceof CustosError ? err.code : String(err);
  }
  return 'no error';
}

describe('development trust material', () => {
  it('is created once with private files at 0600 and a 2-of-3 release policy; a second run keeps everything', () => {
    const first = initDevelopmentTrust(dir, { now: T0 });
    expect(first.created.length).toBe(6); // roots file, root key, 3 signer keys, policy
    expect(first.kept).toEqual([]);
    expect(first.releasePolicy.threshold).toBe(2);
    expect(first.releasePolicy.signers).toHaveLength(3);
    const files = readdirSync(enclaveDir(dir));
    const privateFiles = files.filter((f) => f.endsWith('.key') || f.endsWith('.key.pem'));
    expect(privateFiles).toHaveLength(4);
    for (const f of privateFiles) expect(statSync(path.join(enclaveDir(dir), f)).mode & 0o777).toBe(0o600);
    const before = files.map((f) => readFileSync(path.join(enclaveDir(dir), f), 'utf8'));

    const second = initDevelopmentTrust(dir, { now: T0 + HOUR });
    expect(second.created).toEqual([]);
    expect(second.rootFingerprintSha256).toBe(first.rootFingerprintSha256);
    expect(readdirSync(enclaveDir(dir)).map((f) => readFileSync(path.join(enclaveDir(dir), f), 'utf8'))).toEqual(before);
  });

  it('signs the allowlist with M of the N development signers and bumps its version', () => {
    initDevelopmentTrust(dir, { now: T0 });
    const a = measureEntries([{ name: 'a', content: new Uint8Array([1]) }]);
    const b = measureEntries([{ name: 'b', content: new Uint8Array([2]) }]);
    addDevelopmentMeasurement(dir, { name: 'node-a', pcr0: a, now: T0 });
    addDevelopmentMeasurement(dir, { name: 'node-b', pcr0: b, now: T0 });
    const list = verifyAllowlist(readSignedAllowlist(dir), loadReleasePolicy(dir), { at: T0, minVersion: 2 });
    expect(list.version).toBe(2);
    expect(list.measurements.map((m) => m.name)).toEqual(['node-a', 'node-b']);
    addDevelopmentMeasurement(dir, { name: 'node-c', pcr0: a, now: T0, signers: 1 });
    expect(codeOf(() => verifyAllowlist(readSignedAllowlist(dir), loadReleasePolicy(dir), { at: T0 }))).toBe('attestation_allowlist');
  });

  it('rotates the root: the old root is accepted until the cut-over, the new one after it, and retired keys are deleted', () => {
    initDevelopmentTrust(dir, { now: T0 });
    const clock = manualClock(T0);
    const measurement = measureEntries([{ name: 'node', content: new Uint8Array([9]) }]);
    const oldAttester = new DevelopmentAttester({ ca: loadDevelopmentCa(dir, T0), moduleId: 'n', measurement, clock });
    const cutover = T0 + 2 * HOUR;

    const r = rotateDevelopmentRoot(dir, { now: T0, cutover, acceptNewFrom: cutover });
    expect(r.retired).toHaveLength(1);
    expect(r.added).not.toBe(r.retired[0]);
    const newCa = () => loadDevelopmentCa(dir, clock.now());
    expect(newCa().fingerprintSha256).toBe(r.retired[0]); // before the cut-over attesters still use the old root

    const verify = (doc: Uint8Array) => () => verifyAttestation(doc, { roots: loadDevelopmentRoots(dir), at: clock.now(), maxAgeMs: 60_000 });
    clock.set(cutover - 1);
    expect(verify(oldAttester.attest({}))).not.toThrow();
    const earlyNew = new DevelopmentAttester({ ca: loadDevelopmentCa(dir, cutover), moduleId: 'n', measurement, clock });
    expect(codeOf(verify(earlyNew.attest({})))).toBe('attestation_root'); // new root not accepted before its window

    clock.set(cutover);
    expect(codeOf(verify(oldAttester.attest({})))).toBe('attestation_root');
    expect(newCa().fingerprintSha256).toBe(r.added);
    const newAttester = new DevelopmentAttester({ ca: newCa(), moduleId: 'n', measurement, clock });
    expect(verify(newAttester.attest({}))).not.toThrow();

    // A later rotation, after the first cut-over, deletes the retired root's key file.
    const oldKey = path.join(enclaveDir(dir), `root-${r.retired[0]!.slice(0, 16)}.key.pem`);
    expect(existsSync(oldKey)).toBe(true);
    const r2 = rotateDevelopmentRoot(dir, { now: cutover + HOUR, cutover: cutover + 3 * HOUR });
    expect(r2.deletedKeys).toEqual([oldKey]);
    expect(existsSync(oldKey)).toBe(false);
    expect(r2.retired).toEqual([r.added]);
    expect(loadDevelopmentRoots(dir)).toHaveLength(3);
    expect(() => rotateDevelopmentRoot(dir, { now: T0 + 10 * HOUR, cutover: T0 })).toThrow(RangeError);
  });
});
