import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { CK } from './pkcs11-api.js';
import { acquirePkcs11Library, loadPkcs11js, mapPkcs11Error } from './pkcs11-module.js';
import { hsmConfigFromEnv, describeHsmConfig } from './config.js';
import { softHsmStatus } from './softhsm.js';

const addon = softHsmStatus().available || process.env.CI === 'true';

describe('loading the optional PKCS#11 addon', () => {
  it('says what to install when pkcs11js is absent', () => {
    let err: unknown;
    try {
      loadPkcs11js('pkcs11js-absent-for-this-test');
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'hsm_unavailable', status: 503 });
    expect((err as Error).message).toMatch(/npm install pkcs11js/);
    expect((err as Error).message).toMatch(/development HSM/);
    expect(() => acquirePkcs11Library('/usr/lib/none.so', 'pkcs11js-absent-for-this-test')).toThrow(expect.objectContaining({ code: 'hsm_unavailable' }));
  });

  it('maps PKCS#11 return values to stable codes without echoing anything else', () => {
    const e = mapPkcs11Error(Object.assign(new Error('CKR_PIN_INCORRECT'), { code: 160 }), undefined, 'log in');
    expect(e).toMatchObject({ code: 'hsm_pin_incorrect', details: { ckr: 'CKR_PIN_INCORRECT' } });
    expect(mapPkcs11Error(new Error('CKR_PIN_LOCKED'), undefined, 'log in').code).toBe('hsm_token_locked');
    expect(mapPkcs11Error(new Error('CKR_FUNCTION_FAILED'), undefined, 'sign')).toMatchObject({ code: 'hsm_error', details: { ckr: 'CKR_FUNCTION_FAILED' } });
    const plain = mapPkcs11Error(new Error('secret-looking native text 1234'), undefined, 'sign');
    expect(plain.code).toBe('hsm_error');
    expect(plain.message).not.toContain('1234');
  });
});

describe('HSM configuration from the environment', () => {
  it('reads the backend, requires its secret and never describes it', () => {
    const c = hsmConfigFromEnv({ CUSTOS_HSM: 'pkcs11', CUSTOS_HSM_PIN: '98765432', CUSTOS_HSM_TOKEN: 'prod' }, { dataDir: '/d' });
    expect(c).toMatchObject({ backend: 'pkcs11', tokenLabel: 'prod', library: '/usr/lib/softhsm/libsofthsm2.so' });
    expect(JSON.stringify(describeHsmConfig(c))).not.toContain('98765432');
    expect(() => hsmConfigFromEnv({ CUSTOS_HSM: 'pkcs11' }, { dataDir: '/d' })).toThrow(expect.objectContaining({ code: 'hsm_pin_missing' }));
    const d = hsmConfigFromEnv({ CUSTOS_DEV_HSM_PASSPHRASE: 'long enough phrase' }, { dataDir: '/d' });
    expect(d.backend).toBe('development');
    expect(JSON.stringify(describeHsmConfig(d))).not.toContain('long enough phrase');
    expect(describeHsmConfig(d).backend).toMatch(/not an HSM/);
    expect(() => hsmConfigFromEnv({}, { dataDir: '/d' })).toThrow(expect.objectContaining({ code: 'dev_hsm_passphrase_missing' }));
    expect(() => hsmConfigFromEnv({ CUSTOS_HSM: 'cloud' }, { dataDir: '/d' })).toThrow(expect.objectContaining({ code: 'hsm_config_invalid' }));
  });
});

describe.skipIf(!addon)(`PKCS#11 constants${addon ? '' : ' (skipped: pkcs11js is not installed)'}`, () => {
  it('agree with every value pkcs11js exports under the same name', () => {
    const mod = createRequire(import.meta.url)('pkcs11js') as Record<string, unknown>;
    // pkcs11js 2.x predates PKCS#11 3.0 (EdDSA) and does not name these; every other value is compared.
    const absent = ['CKK_EC_EDWARDS', 'CKM_EC_EDWARDS_KEY_PAIR_GEN', 'CKM_EDDSA', 'CKZ_DATA_SPECIFIED', 'CKS_RW_PUBLIC_SESSION', 'CKS_RW_USER_FUNCTIONS'];
    for (const [name, value] of Object.entries(CK)) {
      if (absent.includes(name) && mod[name] === undefined) continue;
      expect([name, mod[name]]).toEqual([name, value]);
    }
  });
});
