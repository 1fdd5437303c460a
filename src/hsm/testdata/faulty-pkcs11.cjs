// TEST ONLY. pkcs11js over the same PKCS#11 library, with faults injected on demand, so the tests
// can show what custos does when a real HSM answers in ways SoftHSM2 never does (SoftHSM2 has no
// PIN lockout, and its token cannot be made briefly absent). `faults.login` / `faults.openSession`
// are queues of CKR_* names: each call takes one and throws it as pkcs11js would; `calls` counts
// every C_Login that reached this binding.
/* global require, module */
'use strict';
// eslint-disable-next-line @typescript-eslint/no-require-imports -- a CommonJS binding loaded by require()
const pkcs11js = require('pkcs11js');

const faults = { login: [], openSession: [], calls: { login: 0 } };

// pkcs11js converts native errors only around its own methods; these overrides do it themselves.
function pass(call) {
  try {
    return call();
  } catch (e) {
    if (e instanceof pkcs11js.NativeError || !pkcs11js.Pkcs11Error.isPkcs11(String(e && e.message))) throw e;
    throw new pkcs11js.Pkcs11Error(e.message);
  }
}

class PKCS11 extends pkcs11js.PKCS11 {
  C_Login(...args) {
    faults.calls.login++;
    const fault = faults.login.shift();
    if (fault) throw new pkcs11js.Pkcs11Error(fault, 0, 'C_Login');
    return pass(() => super.C_Login(...args));
  }

  C_OpenSession(...args) {
    const fault = faults.openSession.shift();
    if (fault) throw new pkcs11js.Pkcs11Error(fault, 0, 'C_OpenSession');
    return pass(() => super.C_OpenSession(...args));
  }
}

module.exports = { ...pkcs11js, PKCS11, faults };
