/**
 * HSM faults on a real SoftHSM2 token: a lost session, a token briefly (or longer) unreachable, a
 * PIN changed behind custos's back, and a locked PIN. SoftHSM2 has no PIN lockout and no removable
 * token, so those two answers are injected by a test binding (testdata/faulty-pkcs11.cjs: pkcs11js
 * over the same SoftHSM2 library, throwing the CKR_* a real HSM would); everything else is the token.
 */
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CK } from './pkcs11-api.js';
import { hsmEventAlert, Pkcs11Hsm, type HsmEvent } from './pkcs11-hsm.js';
import { acquirePkcs11Library, releasePkcs11Library } from './pkcs11-module.js';
import { findSlot, initToken } from './pkcs11-token.js';
import { softHsmStatus, useTemporarySoftHsm, type TemporarySoftHsm } from './softhsm.js';

const status = softHsmStatus();
const skip = !status.available && process.env.CI !== 'true';
if (skip) console.warn(`SoftHSM2 fault tests skipped: ${status.reason}`);

const SHIM = new URL('./testdata/faulty-pkcs11.cjs', import.meta.url).pathname;
const faults = createRequire(import.meta.url)(SHIM).faults as { login: string[]; openSession: string[]; calls: { login: number } };
const SO_PIN = 'so-pin-5521';
const PIN = 'user-pin-9043';

describe.skipIf(skip)(`Pkcs11Hsm faults on SoftHSM2${skip ? ` (skipped: ${status.reason})` : ''}`, () => {
  let home: TemporarySoftHsm;
  let dir: string;
  let library: string;
  let counter = 0;
  const open: Pkcs11Hsm[] = [];

  beforeAll(() => {
    if (!status.available) throw new Error(`CI=true but SoftHSM2 is not usable: ${status.reason}`);
    home = useTemporarySoftHsm();
    // Its own path, so this file's library entry is loaded through the faulty binding.
    dir = mkdtempSync(join(tmpdir(), 'custos-hsm-faults-'));
    library = join(dir, 'libsofthsm2-faulty.so');
    symlinkSync(status.library, library);
  });
  afterEach(async () => {
    for (const h of open.splice(0)) await h.close();
    faults.login.length = 0;
    faults.openSession.length = 0;
  });
  afterAll(() => {
    home?.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  async function openToken(events: HsmEvent[], maxSessions = 4): Promise<{ hsm: Pkcs11Hsm; tokenLabel: string }> {
    const tokenLabel = `custos-faults-${process.pid}-${++counter}`;
    initToken({ library: status.library, tokenLabel, soPin: SO_PIN, userPin: PIN });
    const hsm = await Pkcs11Hsm.open({ library, tokenLabel, pin: PIN, moduleName: SHIM, onEvent: (e) => events.push(e), recoveryDelaysMs: [0, 20, 20], maxSessions });
    open.push(hsm);
    await hsm.generateEd25519('e');
    return { hsm, tokenLabel };
  }

  /** Drops every session of the token under the Hsm's feet (as a token reset does). */
  function dropSessions(tokenLabel: string): void {
    const lib = acquirePkcs11Library(library, SHIM);
    try {
      lib.pkcs11.C_CloseAllSessions(findSlot(lib, tokenLabel));
    } finally {
      releasePkcs11Library(lib);
    }
  }

  it('a token briefly unreachable: re-opening is retried and the call succeeds; unreachable longer: a clear error, a critical alert, then recovery', async () => {
    const events: HsmEvent[] = [];
    const { hsm, tokenLabel } = await openToken(events, 1); // one session: a second caller waits for it
    dropSessions(tokenLabel);
    faults.openSession.push('CKR_TOKEN_NOT_PRESENT');
    expect(await hsm.signEd25519('e', new Uint8Array([1]))).toHaveLength(64);
    expect(events.map((e) => e.type)).toEqual(['session_lost', 'session_recovered']);
    expect(events[1]).toMatchObject({ attempts: 2 });

    events.length = 0;
    dropSessions(tokenLabel);
    faults.openSession.push('CKR_TOKEN_NOT_PRESENT', 'CKR_DEVICE_REMOVED', 'CKR_TOKEN_NOT_PRESENT');
    const queued = [hsm.signEd25519('e', new Uint8Array([2])), hsm.signEd25519('e', new Uint8Array([3]))];
    for (const r of await Promise.allSettled(queued)) expect(r).toMatchObject({ status: 'rejected', reason: { code: 'hsm_unavailable', status: 503 } });
    expect(events.map((e) => e.type)).toEqual(['session_lost', 'recovery_failed']);
    const alert = hsmEventAlert(events[1]!, tokenLabel);
    expect(alert).toMatchObject({ kind: 'hsm.recovery_failed', severity: 'critical', details: { code: 'hsm_unavailable', attempts: 3 } });
    expect(alert.summary).toContain(tokenLabel);

    // the token is back: the next call opens a session again
    expect(await hsm.signEd25519('e', new Uint8Array([4]))).toHaveLength(64);
  });

  it('a locked PIN: one login attempt, the clear error hsm_token_locked, a critical alert, then fail fast without logging in again', async () => {
    const events: HsmEvent[] = [];
    const { hsm, tokenLabel } = await openToken(events);
    dropSessions(tokenLabel);
    faults.login.push('CKR_PIN_LOCKED');
    const logins = faults.calls.login;
    await expect(hsm.signEd25519('e', new Uint8Array([1]))).rejects.toMatchObject({ code: 'hsm_token_locked', status: 423 });
    expect(faults.calls.login - logins).toBe(1);
    expect(events.map((e) => e.type)).toEqual(['session_lost', 'token_locked']);
    expect(hsmEventAlert(events[1]!, tokenLabel)).toMatchObject({ kind: 'hsm.token_locked', severity: 'critical' });

    await expect(hsm.signEd25519('e', new Uint8Array([2]))).rejects.toMatchObject({ code: 'hsm_token_locked' });
    await expect(hsm.listKeys()).rejects.toMatchObject({ code: 'hsm_token_locked' });
    expect(faults.calls.login - logins).toBe(1);
  });

  it('a PIN changed behind its back (real SoftHSM2 answer): hsm_pin_incorrect after one login, no PIN in the error or the alert, fail fast after', async () => {
    const events: HsmEvent[] = [];
    const { hsm, tokenLabel } = await openToken(events);
    const lib = acquirePkcs11Library(library, SHIM);
    try {
      const session = lib.pkcs11.C_OpenSession(findSlot(lib, tokenLabel), CK.CKF_SERIAL_SESSION | CK.CKF_RW_SESSION);
      lib.pkcs11.C_SetPIN(session, PIN, 'rotated-pin-1188');
      lib.pkcs11.C_CloseAllSessions(findSlot(lib, tokenLabel));
    } finally {
      releasePkcs11Library(lib);
    }
    const logins = faults.calls.login;
    let err: unknown;
    try {
      await hsm.signEd25519('e', new Uint8Array([1]));
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'hsm_pin_incorrect', status: 401 });
    expect(faults.calls.login - logins).toBe(1);
    expect(events.map((e) => e.type)).toEqual(['session_lost', 'login_failed']);
    const alert = hsmEventAlert(events[1]!, tokenLabel);
    expect(alert).toMatchObject({ kind: 'hsm.login_failed', severity: 'critical', details: { ckr: 'CKR_PIN_INCORRECT' } });
    const text = JSON.stringify({ err, m: (err as Error).message, alert, events });
    expect(text).not.toContain(PIN);
    expect(text).not.toContain('rotated-pin-1188');
    await expect(hsm.signEd25519('e', new Uint8Array([2]))).rejects.toMatchObject({ code: 'hsm_pin_incorrect' });
    expect(faults.calls.login - logins).toBe(1);
  });
});
