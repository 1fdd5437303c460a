import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Alert } from '../alerts/outbox.js';
import { manualClock } from '../core/clock.js';
import { CustosError } from '../core/errors.js';
import { DevelopmentHsm } from '../hsm/development-hsm.js';
import { ensureStandardKeys } from '../hsm/standard-keys.js';
import { DevelopmentAttester } from './development-attester.js';
import { DevelopmentEnclave } from './development-enclave.js';
import { addDevelopmentMeasurement, developmentTrustSources, initDevelopmentTrust, loadDevelopmentCa, loadDevelopmentRoots, loadReleasePolicy, readSignedAllowlist } from './development-trust.js';
import { httpKeyReleaseTransport, obtainSealingKey, type KeyReleaseTransport } from './key-release-client.js';
import { generateEphemeralKeyPair, releaseUserData } from './key-release-hpke.js';
import { createKeyReleaseServer } from './key-release-server.js';
import { handleReleaseRequest, issueReleaseNonce, type KeyReleaseDeps } from './key-release.js';
import { measureEntries } from './measure.js';
import { NonceBook } from './nonce-book.js';
import { MemorySealingKeyStore } from './sealing-key-store.js';

const T0 = Date.UTC(2026, 10, 24, 4, 0, 0);
const clock = manualClock(T0);
let dir: string;
let hsm: DevelopmentHsm;
const good = measureEntries([{ name: 'node.js', content: new TextEncoder().encode('the node code') }]);

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'custos-key-release-'));
  initDevelopmentTrust(dir, { now: T0 });
  addDevelopmentMeasurement(dir, { name: 'custos node test', pcr0: good, now: T0 });
  hsm = await DevelopmentHsm.open({ dataDir: dir, passphrase: 'test passphrase', scrypt: { N: 2 ** 14, r: 8, p: 1 } });
  await ensureStandardKeys(hsm);
});

afterAll(async () => {
  await hsm?.close();
  rmSync(dir, { recursive: true, force: true });
});

function service(extra: Partial<KeyReleaseDeps> = {}): { deps: KeyReleaseDeps; alerts: Alert[] } {
  const alerts: Alert[] = [];
  const deps: KeyReleaseDeps = {
    clock,
    roots: () => loadDevelopmentRoots(dir),
    nonces: new NonceBook({ clock }),
    signedAllowlist: () => readSignedAllowlist(dir),
    releasePolicy: loadReleasePolicy(dir),
    allowlistFloor: { version: 0 },
    hsm,
    store: new MemorySealingKeyStore(),
    raiseAlert: (a) => {
      alerts.push(a);
    },
    ...extra,
  };
  return { deps, alerts };
}

function enclaveFor(measurement: Uint8Array, moduleId = 'node-1'): DevelopmentEnclave {
  return new DevelopmentEnclave({ attester: new DevelopmentAttester({ ca: loadDevelopmentCa(dir, clock.now()), moduleId, measurement, clock }) });
}

function inProcess(deps: KeyReleaseDeps): KeyReleaseTransport {
  return { nonce: async () => issueReleaseNonce(deps), release: (req) => handleReleaseRequest(req, deps) };
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return err instanceof CustosError ? err.code : `not a CustosError: ${String(err)}`;
  }
  return 'no error';
}

/** A correctly attested request the test can then alter. */
async function attestedRequest(deps: KeyReleaseDeps, enclave: DevelopmentEnclave, nodeId = 'node-1') {
  const eph = await generateEphemeralKeyPair();
  const nonce = issueReleaseNonce(deps);
  const document = await enclave.attest(releaseUserData(nodeId), eph.publicKey, nonce);
  return { nodeId, nonce, publicKey: eph.publicKey, document };
}

describe('key release', () => {
  it('releases the same sealing key to the same node every time and enrols it once', async () => {
    const { deps, alerts } = service();
    const k1 = await obtainSealingKey({ transport: inProcess(deps), enclave: enclaveFor(good), nodeId: 'node-1' });
    const k2 = await obtainSealingKey({ transport: inProcess(deps), enclave: enclaveFor(good), nodeId: 'node-1' });
    const other = await obtainSealingKey({ transport: inProcess(deps), enclave: enclaveFor(good, 'node-2'), nodeId: 'node-2' });
    expect(k1).toHaveLength(32);
    expect(Buffer.from(k2).equals(Buffer.from(k1))).toBe(true);
    expect(Buffer.from(other).equals(Buffer.from(k1))).toBe(false);
    expect(await deps.store.list()).toEqual(['node-1', 'node-2']);
    expect(alerts).toEqual([]);
  });

  it('two concurrent first requests of one node enrol it once and get the same key', async () => {
    const { deps } = service();
    const [a, b] = await Promise.all([
      obtainSealingKey({ transport: inProcess(deps), enclave: enclaveFor(good), nodeId: 'node-7' }),
      obtainSealingKey({ transport: inProcess(deps), enclave: enclaveFor(good), nodeId: 'node-7' }),
    ]);
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    expect(await deps.store.list()).toEqual(['node-7']);
  });

  it('refuses a replayed request (the nonce is single-use) and alerts', async () => {
    const { deps, alerts } = service();
    const req = await attestedRequest(deps, enclaveFor(good));
    const first = await handleReleaseRequest(req, deps);
    expect(first.enrolled).toBe(true);
    expect(await codeOf(handleReleaseRequest(req, deps))).toBe('attestation_nonce');
    expect(alerts.map((a) => a.details.code)).toEqual(['attestation_nonce']);
    expect(alerts[0]!.severity).toBe('critical');
  });

  it('refuses a nonce the service never issued', async () => {
    const { deps } = service();
    const enclave = enclaveFor(good);
    const eph = await generateEphemeralKeyPair();
    const nonce = new Uint8Array(32).fill(7);
    const document = await enclave.attest(releaseUserData('node-1'), eph.publicKey, nonce);
    expect(await codeOf(handleReleaseRequest({ nodeId: 'node-1', nonce, publicKey: eph.publicKey, document }, deps))).toBe('attestation_nonce');
  });

  it('refuses a document attesting another public key than the one the answer would go to', async () => {
    const { deps, alerts } = service();
    const req = await attestedRequest(deps, enclaveFor(good));
    const attacker = await generateEphemeralKeyPair();
    expect(await codeOf(handleReleaseRequest({ ...req, publicKey: attacker.publicKey }, deps))).toBe('attestation_public_key');
    expect(alerts[0]!.details.code).toBe('attestation_public_key');
    // The nonce was not spent by the refused request, but the document still only binds the enclave's key.
    expect((await handleReleaseRequest(req, deps)).nodeId).toBe('node-1');
  });

  it("refuses a document made for another node's id (user data binding)", async () => {
    const { deps } = service();
    const req = await attestedRequest(deps, enclaveFor(good), 'node-1');
    expect(await codeOf(handleReleaseRequest({ ...req, nodeId: 'node-2' }, deps))).toBe('attestation_user_data');
  });

  it('refuses an allowlist signed by fewer than M release signers', async () => {
    const { deps, alerts } = service();
    const policy = loadReleasePolicy(dir);
    expect(policy.threshold).toBe(2);
    const signed = readSignedAllowlist(dir) as { allowlist: unknown; signatures: unknown[] };
    deps.signedAllowlist = () => ({ allowlist: signed.allowlist, signatures: signed.signatures.slice(0, 1) });
    expect(await codeOf(obtainSealingKey({ transport: inProcess(deps), enclave: enclaveFor(good), nodeId: 'node-1' }))).toBe('attestation_allowlist');
    // one signature repeated twice still counts once
    deps.signedAllowlist = () => ({ allowlist: signed.allowlist, signatures: [signed.signatures[0], signed.signatures[0]] });
    expect(await codeOf(obtainSealingKey({ transport: inProcess(deps), enclave: enclaveFor(good), nodeId: 'node-1' }))).toBe('attestation_allowlist');
    expect(alerts.map((a) => a.details.code)).toEqual(['attestation_allowlist', 'attestation_allowlist']);
    expect(await deps.store.list()).toEqual([]);
  });

  it('refuses an allowlist older than one it already accepted (rollback)', async () => {
    const { deps } = service();
    const v1 = readSignedAllowlist(dir);
    await obtainSealingKey({ transport: inProcess(deps), enclave: enclaveFor(good), nodeId: 'node-1' });
    deps.allowlistFloor!.version += 1; // as if a newer list had been accepted
    deps.signedAllowlist = () => v1;
    expect(await codeOf(obtainSealingKey({ transport: inProcess(deps), enclave: enclaveFor(good), nodeId: 'node-1' }))).toBe('attestation_allowlist');
  });

  it('refuses a debug enclave (PCR0 all zeros)', async () => {
    const { deps, alerts } = service();
    const debug = enclaveFor(new Uint8Array(48));
    expect(await codeOf(obtainSealingKey({ transport: inProcess(deps), enclave: debug, nodeId: 'node-1' }))).toBe('attestation_measurement');
    expect(alerts[0]!.details.pcr0).toBe('00'.repeat(48));
  });

  it('refuses a stale document, an unknown node and malformed input, each with its code', async () => {
    const { deps } = service({ nodeIds: ['node-1'] });
    const req = await attestedRequest(deps, enclaveFor(good));
    clock.advance(61_000);
    try {
      expect(await codeOf(handleReleaseRequest(req, deps))).toBe('attestation_expired');
    } finally {
      clock.set(T0);
    }
    expect(await codeOf(obtainSealingKey({ transport: inProcess(deps), enclave: enclaveFor(good, 'node-9'), nodeId: 'node-9' }))).toBe('key_release_unknown_node');
    expect(await codeOf(handleReleaseRequest({ ...req, nodeId: '../etc' }, deps))).toBe('key_release_invalid_request');
    expect(await codeOf(handleReleaseRequest({ ...req, nonce: new Uint8Array(31) }, deps))).toBe('key_release_invalid_request');
    expect(await codeOf(handleReleaseRequest({ ...req, document: new Uint8Array(17 * 1024) }, deps))).toBe('attestation_too_large');
    const flipped = Uint8Array.from(req.document);
    flipped[flipped.length - 5]! ^= 1;
    expect(await codeOf(handleReleaseRequest({ ...req, document: flipped }, deps))).toBe('attestation_signature');
  });

  it('with cached trust sources: a changed allowlist file takes effect, and expiry and rollback are still checked on every request', async () => {
    const own = mkdtempSync(path.join(tmpdir(), 'custos-key-release-src-'));
    try {
      initDevelopmentTrust(own, { now: T0 });
      addDevelopmentMeasurement(own, { name: 'first', pcr0: good, now: T0 });
      const sources = developmentTrustSources(own);
      const { deps } = service({ ...sources, releasePolicy: loadReleasePolicy(own) });
      const ownEnclave = (m: Uint8Array) => new DevelopmentEnclave({ attester: new DevelopmentAttester({ ca: loadDevelopmentCa(own, clock.now()), moduleId: 'n', measurement: m, clock }) });
      const next = measureEntries([{ name: 'node.js', content: new TextEncoder().encode('the next release') }]);
      await obtainSealingKey({ transport: inProcess(deps), enclave: ownEnclave(good), nodeId: 'node-1' });
      expect(Object.isFrozen(sources.signedAllowlist())).toBe(true);
      expect(await codeOf(obtainSealingKey({ transport: inProcess(deps), enclave: ownEnclave(next), nodeId: 'node-1' }))).toBe('attestation_measurement');
      addDevelopmentMeasurement(own, { name: 'second', pcr0: next, now: T0 });
      expect((await handleReleaseRequest(await attestedRequest(deps, ownEnclave(next)), deps)).allowlistVersion).toBe(2);
      expect(deps.allowlistFloor!.version).toBe(2);
      deps.allowlistFloor!.version = 3;
      expect(await codeOf(obtainSealingKey({ transport: inProcess(deps), enclave: ownEnclave(next), nodeId: 'node-1' }))).toBe('attestation_allowlist');
      deps.allowlistFloor!.version = 2;
      clock.set(T0 + 366 * 86_400_000);
      try {
        expect(await codeOf(obtainSealingKey({ transport: inProcess(deps), enclave: ownEnclave(next), nodeId: 'node-1' }))).toBe('attestation_allowlist');
      } finally {
        clock.set(T0);
      }
    } finally {
      rmSync(own, { recursive: true, force: true });
    }
  });

  it('records each release before answering, and refuses when it cannot record', async () => {
    const events: unknown[] = [];
    const { deps } = service({ recordRelease: (e) => void events.push(e) });
    await obtainSealingKey({ transport: inProcess(deps), enclave: enclaveFor(good), nodeId: 'node-1' });
    expect(events).toEqual([
      expect.objectContaining({ nodeId: 'node-1', measurement: 'custos node test', allowlistVersion: 1, enrolled: true, moduleId: 'node-1', pcr0: Buffer.from(good).toString('hex') }),
    ]);
    deps.recordRelease = () => {
      throw new Error('audit log down');
    };
    expect(await codeOf(obtainSealingKey({ transport: inProcess(deps), enclave: enclaveFor(good), nodeId: 'node-1' }))).toBe('key_release_unavailable');
  });

  it('reports an HSM failure as key_release_unavailable without the HSM detail', async () => {
    const { deps } = service({ kekLabel: 'no-such-kek' });
    expect(await codeOf(obtainSealingKey({ transport: inProcess(deps), enclave: enclaveFor(good), nodeId: 'node-1' }))).toBe('key_release_unavailable');
  });

  it('serves over HTTP with problem+json refusals, and no key ever reaches a log, alert or error', async () => {
    const logs: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _enc, cb) {
        logs.push(chunk.toString());
        cb();
      },
    });
    const { deps, alerts } = service();
    const app = createKeyReleaseServer(deps, { logger: { level: 'trace', stream } });
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const key = await obtainSealingKey({ url, enclave: enclaveFor(good), nodeId: 'node-1' });
      const errors: unknown[] = [];
      for (const bad of [enclaveFor(new Uint8Array(48)), enclaveFor(measureEntries([{ name: 'node.js', content: new Uint8Array([1]) }]))]) {
        try {
          await obtainSealingKey({ url, enclave: bad, nodeId: 'node-1' });
        } catch (err) {
          errors.push(err);
        }
      }
      expect(errors.map((e) => (e as CustosError).code)).toEqual(['attestation_measurement', 'attestation_measurement']);
      expect((errors[0] as CustosError).status).toBe(403);
      const transport = httpKeyReleaseTransport(url);
      const garbage = await fetch(`${url}/v1/key-release`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"nodeId":1}' });
      expect(garbage.status).toBe(400);
      expect(garbage.headers.get('content-type')).toContain('application/problem+json');
      expect(((await garbage.json()) as { code: string }).code).toBe('key_release_invalid_request');
      const huge = await fetch(`${url}/v1/key-release`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ x: 'a'.repeat(100_000) }) });
      expect(huge.status).toBe(400);
      expect((await transport.nonce()).length).toBe(32);

      const haystack = [
        ...logs,
        JSON.stringify(alerts),
        ...errors.map((e) => `${String(e)} ${JSON.stringify(e)} ${(e as Error).stack ?? ''}`),
        JSON.stringify(await deps.store.get('node-1').then((b) => Buffer.from(b!).toString('hex'))),
      ].join('\n');
      expect(logs.length).toBeGreaterThan(0);
      for (const needle of [Buffer.from(key).toString('hex'), Buffer.from(key).toString('base64'), Buffer.from(key).toString('base64url')]) {
        expect(haystack.includes(needle)).toBe(false);
      }
    } finally {
      await app.close();
    }
  });
});
