import { createPublicKey, randomBytes, verify as nodeVerify } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { aesKeyWrap } from './aes-kw.js';
import { DevelopmentHsm } from './development-hsm.js';
import { readKeystore } from './dev-keystore.js';

const PASS = 'correct horse battery staple';
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'custos-devhsm-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('DevelopmentHsm (development, not an HSM)', () => {
  it('labels itself and keeps key material out of the file in plaintext', async () => {
    const hsm = await DevelopmentHsm.open({ dataDir: dir, passphrase: PASS });
    expect(hsm.description).toMatch(/development, not an HSM/);
    await hsm.generateAesKek('root-kek');
    await hsm.generateSecp256k1('cold-eth');
    await hsm.generateEd25519('approval');
    await hsm.close();
    const raw = readFileSync(hsm.path);
    expect(statSync(hsm.path).mode & 0o777).toBe(0o600);
    expect(raw.toString()).toMatch(/not an HSM/);
    const { records } = await readKeystore(hsm.path, PASS);
    expect(records.map((r) => r.label).sort()).toEqual(['approval', 'cold-eth', 'root-kek']);
    for (const r of records) {
      const secret = Buffer.from(r.secret, 'base64');
      expect(secret.length).toBe(32);
      for (const form of [secret, Buffer.from(secret.toString('hex')), Buffer.from(r.secret), Buffer.from(secret.toString('base64url'))]) {
        expect(raw.includes(form)).toBe(false);
      }
    }
  });

  it('reopens with the passphrase and refuses a wrong one or an altered file', async () => {
    const hsm = await DevelopmentHsm.open({ dataDir: dir, passphrase: PASS });
    await hsm.generateAesKek('root-kek');
    await hsm.generateSecp256k1('k');
    const pub = await hsm.publicKey('k');
    const blob = await hsm.generateWrappedSecret('root-kek', 32);
    const secret = await hsm.unwrapSecret('root-kek', blob);
    await hsm.close();

    const again = await DevelopmentHsm.open({ dataDir: dir, passphrase: PASS });
    expect(toHex(await again.publicKey('k'))).toBe(toHex(pub));
    expect(toHex(await again.unwrapSecret('root-kek', blob))).toBe(toHex(secret));
    await again.close();

    await expect(DevelopmentHsm.open({ dataDir: dir, passphrase: 'not the passphrase' })).rejects.toMatchObject({ code: 'dev_hsm_passphrase_wrong' });
    await expect(DevelopmentHsm.open({ dataDir: dir, passphrase: 'short' })).rejects.toMatchObject({ code: 'dev_hsm_passphrase_missing' });

    const path = join(dir, 'development-hsm.json');
    const original = readFileSync(path, 'utf8');
    const file = JSON.parse(original) as Record<string, unknown>;
    const ct = Buffer.from(file.ciphertext as string, 'base64');
    ct[3] = (ct[3] as number) ^ 1;
    writeFileSync(path, JSON.stringify({ ...file, ciphertext: ct.toString('base64') }));
    await expect(DevelopmentHsm.open({ dataDir: dir, passphrase: PASS })).rejects.toMatchObject({ code: 'dev_hsm_passphrase_wrong' });
    // The header is authenticated: a changed notice or a weakened KDF does not open.
    writeFileSync(path, JSON.stringify({ ...file, notice: 'production HSM' }));
    await expect(DevelopmentHsm.open({ dataDir: dir, passphrase: PASS })).rejects.toMatchObject({ code: 'dev_hsm_passphrase_wrong' });
    writeFileSync(path, JSON.stringify({ ...file, kdf: { ...(file.kdf as object), N: 1024 } }));
    await expect(DevelopmentHsm.open({ dataDir: dir, passphrase: PASS })).rejects.toMatchObject({ code: 'dev_hsm_file_invalid' });
    writeFileSync(path, original.slice(0, 80));
    await expect(DevelopmentHsm.open({ dataDir: dir, passphrase: PASS })).rejects.toMatchObject({ code: 'dev_hsm_file_invalid' });
  });

  it('signs ECDSA (low S, recovery id) and Ed25519 like the PKCS#11 backend', async () => {
    const hsm = await DevelopmentHsm.open({ dataDir: dir, passphrase: PASS });
    await hsm.generateSecp256k1('k');
    await hsm.generateEd25519('e');
    const pub = await hsm.publicKey('k');
    expect((await hsm.publicKey('k', 'compressed')).length).toBe(33);
    for (let i = 0; i < 8; i++) {
      const digest = sha256(new Uint8Array([i]));
      const { signature, recovery } = await hsm.signSecp256k1Digest('k', digest);
      const sig = secp256k1.Signature.fromBytes(signature, 'compact');
      expect(sig.hasHighS()).toBe(false);
      expect(sig.addRecoveryBit(recovery).recoverPublicKey(digest).equals(secp256k1.Point.fromBytes(pub))).toBe(true);
    }
    const edPub = await hsm.publicKey('e');
    const key = createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), edPub]), format: 'der', type: 'spki' });
    const msg = new TextEncoder().encode('checkpoint');
    const edSig = await hsm.signEd25519('e', msg);
    expect(nodeVerify(null, msg, key, edSig)).toBe(true);
    expect(nodeVerify(null, new TextEncoder().encode('checkpoinT'), key, edSig)).toBe(false);
    await expect(hsm.signSecp256k1Digest('k', new Uint8Array(33))).rejects.toMatchObject({ code: 'hsm_invalid_input' });
    await expect(hsm.signSecp256k1Digest('e', new Uint8Array(32))).rejects.toMatchObject({ code: 'hsm_key_kind_mismatch' });
    await hsm.close();
  });

  it('wraps with RFC 3394/5649, refuses tampering and never exports a key', async () => {
    const hsm = await DevelopmentHsm.open({ dataDir: dir, passphrase: PASS });
    await hsm.generateAesKek('root-kek');
    await hsm.generateAesKek('other');
    for (const mech of ['aes-kw', 'aes-kwp'] as const) {
      for (const len of mech === 'aes-kw' ? [16, 32, 64] : [17, 20, 32, 63]) {
        const s = new Uint8Array(randomBytes(len));
        const w = await hsm.wrapSecret('root-kek', s, mech);
        expect(toHex(await hsm.unwrapSecret('root-kek', w, mech))).toBe(toHex(s));
        const t = new Uint8Array(w);
        t[t.length - 1] = (t[t.length - 1] as number) ^ 1;
        await expect(hsm.unwrapSecret('root-kek', t, mech)).rejects.toMatchObject({ code: 'hsm_unwrap_failed' });
        await expect(hsm.unwrapSecret('other', w, mech)).rejects.toMatchObject({ code: 'hsm_unwrap_failed' });
      }
    }
    // A blob made elsewhere under another key does not open.
    await expect(hsm.unwrapSecret('root-kek', aesKeyWrap(new Uint8Array(32), new Uint8Array(32)))).rejects.toMatchObject({ code: 'hsm_unwrap_failed' });
    await expect(hsm.wrapSecret('root-kek', new Uint8Array(20), 'aes-kw')).rejects.toMatchObject({ code: 'hsm_invalid_input' });
    await expect(hsm.tryExportKeyValue('root-kek')).rejects.toMatchObject({ code: 'hsm_key_not_extractable' });
    await expect(hsm.generateAesKek('root-kek')).rejects.toMatchObject({ code: 'hsm_key_exists' });
    expect(`${inspect(hsm, { showHidden: true })} ${JSON.stringify(hsm)}`).not.toContain(PASS);
    const info = await hsm.findKey('other');
    expect(await hsm.findKeyById(Buffer.from(info?.id ?? '', 'hex'))).toEqual(info);
    await hsm.deleteKey('other');
    expect(await hsm.findKey('other')).toBeUndefined();
    await hsm.close();
    await expect(hsm.findKey('root-kek')).rejects.toMatchObject({ code: 'hsm_closed' });
  });

  it('lets one opener at a time hold the file, and takes over a stale lock', async () => {
    const hsm = await DevelopmentHsm.open({ dataDir: dir, passphrase: PASS });
    await expect(DevelopmentHsm.open({ dataDir: dir, passphrase: PASS })).rejects.toMatchObject({ code: 'dev_hsm_locked' });
    await hsm.close();
    expect(existsSync(`${hsm.path}.lock`)).toBe(false);
    // A lock left by a process that no longer exists (pid far above pid_max) does not block.
    writeFileSync(`${hsm.path}.lock`, '2147483646');
    const again = await DevelopmentHsm.open({ dataDir: dir, passphrase: PASS });
    await again.close();
    // A failed open (wrong passphrase) does not leave the lock behind.
    await expect(DevelopmentHsm.open({ dataDir: dir, passphrase: 'wrong passphrase!' })).rejects.toMatchObject({ code: 'dev_hsm_passphrase_wrong' });
    expect(existsSync(`${hsm.path}.lock`)).toBe(false);
  });

  it('keeps secrets out of every error it throws', async () => {
    const hsm = await DevelopmentHsm.open({ dataDir: dir, passphrase: PASS });
    await hsm.generateAesKek('root-kek');
    const secret = new Uint8Array(randomBytes(32));
    const blob = await hsm.wrapSecret('root-kek', secret);
    const { records } = await readKeystore(hsm.path, PASS);
    const kek = Buffer.from(records[0]?.secret ?? '', 'base64');
    const errors: unknown[] = [];
    const t = new Uint8Array(blob);
    t[3] = (t[3] as number) ^ 1;
    for (const p of [
      hsm.unwrapSecret('root-kek', t),
      hsm.unwrapSecret('root-kek', blob, 'aes-kwp'),
      hsm.wrapSecret('root-kek', secret.subarray(0, 20)),
      hsm.tryExportKeyValue('root-kek'),
      hsm.signEd25519('root-kek', secret),
    ]) {
      errors.push(await p.catch((e: unknown) => e));
    }
    await hsm.close();
    errors.push(await DevelopmentHsm.open({ dataDir: dir, passphrase: 'wrong passphrase!' }).catch((e: unknown) => e));
    for (const e of errors) {
      expect(e).toBeInstanceOf(Error);
      const shown = `${String(e)} ${JSON.stringify(e)} ${inspect(e, { depth: 5, showHidden: true })}`;
      for (const needle of [Buffer.from(secret).toString('hex'), kek.toString('hex'), kek.toString('base64'), Buffer.from(secret).toString('base64'), PASS]) {
        expect(shown).not.toContain(needle);
      }
    }
  });
});
