/**
 * The part of the PKCS#11 interface custos uses, typed here so that compiling custos never needs
 * the optional `pkcs11js` package (nor its types): the module is loaded at run time only. Constant
 * values are those of the PKCS#11 v2.40 / v3.0 headers (pkcs11t.h); a test checks each against the
 * values pkcs11js exports.
 *
 * @example
 *   pkcs11.C_FindObjectsInit(session, [{ type: CK.CKA_LABEL, value: 'custos-root-kek' }]);
 */
export type Handle = Buffer;

export interface Attribute {
  type: number;
  value?: number | boolean | string | Buffer;
}

export interface AttributeResult {
  type: number;
  value: Buffer;
}

export interface Mechanism {
  mechanism: number;
  parameter?: Buffer | number | { type: number; [field: string]: unknown };
}

export interface TokenInfo {
  label: string;
  manufacturerID: string;
  model: string;
  serialNumber: string;
  flags: number;
}

/** Methods of pkcs11js' PKCS11 class that custos calls. */
export interface Pkcs11 {
  load(path: string): void;
  close(): void;
  C_Initialize(options?: { flags?: number; libraryParameters?: string }): void;
  C_Finalize(): void;
  C_GetSlotList(tokenPresent?: boolean): Handle[];
  C_GetTokenInfo(slot: Handle): TokenInfo;
  C_InitToken(slot: Handle, pin?: string, label?: string): string;
  C_InitPIN(session: Handle, pin?: string): void;
  C_SetPIN(session: Handle, oldPin: string, newPin: string): void;
  C_OpenSession(slot: Handle, flags: number): Handle;
  C_CloseSession(session: Handle): void;
  C_CloseAllSessions(slot: Handle): void;
  C_GetSessionInfo(session: Handle): { state: number; flags: number };
  C_Login(session: Handle, userType: number, pin?: string): void;
  C_Logout(session: Handle): void;
  C_CreateObject(session: Handle, template: Attribute[]): Handle;
  C_DestroyObject(session: Handle, object: Handle): void;
  C_FindObjectsInit(session: Handle, template: Attribute[]): void;
  C_FindObjects(session: Handle, maxObjectCount: number): Handle[];
  C_FindObjectsFinal(session: Handle): void;
  C_GetAttributeValue(session: Handle, object: Handle, template: Attribute[]): AttributeResult[];
  C_SetAttributeValue(session: Handle, object: Handle, template: Attribute[]): void;
  C_SignInit(session: Handle, mechanism: Mechanism, key: Handle): void;
  C_Sign(session: Handle, data: Buffer, out: Buffer): Buffer;
  C_SignAsync(session: Handle, data: Buffer, out: Buffer): Promise<Buffer>;
  C_GenerateKey(session: Handle, mechanism: Mechanism, template: Attribute[]): Handle;
  C_GenerateKeyPair(session: Handle, mechanism: Mechanism, publicTemplate: Attribute[], privateTemplate: Attribute[]): { publicKey: Handle; privateKey: Handle };
  C_WrapKey(session: Handle, mechanism: Mechanism, wrappingKey: Handle, key: Handle, out: Buffer): Buffer;
  C_UnwrapKey(session: Handle, mechanism: Mechanism, unwrappingKey: Handle, wrapped: Buffer, template: Attribute[]): Handle;
}

/** What custos takes from the loaded pkcs11js module. */
export interface Pkcs11Module {
  PKCS11: new () => Pkcs11;
  Pkcs11Error: abstract new (...args: never[]) => Error;
  NativeError: abstract new (...args: never[]) => Error;
  /** pkcs11js' own tag for CK_RSA_PKCS_OAEP_PARAMS (not a PKCS#11 constant). */
  CK_PARAMS_RSA_OAEP: number;
}

/** PKCS#11 constants (pkcs11t.h). */
export const CK = {
  CKA_CLASS: 0x0,
  CKA_TOKEN: 0x1,
  CKA_PRIVATE: 0x2,
  CKA_LABEL: 0x3,
  CKA_VALUE: 0x11,
  CKA_TRUSTED: 0x86,
  CKA_KEY_TYPE: 0x100,
  CKA_ID: 0x102,
  CKA_SENSITIVE: 0x103,
  CKA_ENCRYPT: 0x104,
  CKA_DECRYPT: 0x105,
  CKA_WRAP: 0x106,
  CKA_UNWRAP: 0x107,
  CKA_SIGN: 0x108,
  CKA_VERIFY: 0x10a,
  CKA_DERIVE: 0x10c,
  CKA_MODULUS: 0x120,
  CKA_MODULUS_BITS: 0x121,
  CKA_PUBLIC_EXPONENT: 0x122,
  CKA_VALUE_LEN: 0x161,
  CKA_EXTRACTABLE: 0x162,
  CKA_NEVER_EXTRACTABLE: 0x164,
  CKA_MODIFIABLE: 0x170,
  CKA_EC_PARAMS: 0x180,
  CKA_EC_POINT: 0x181,
  CKA_WRAP_WITH_TRUSTED: 0x210,
  /** C_Initialize flag. */
  CKF_OS_LOCKING_OK: 0x2,
  CKF_RW_SESSION: 0x2,
  CKF_SERIAL_SESSION: 0x4,
  CKF_TOKEN_INITIALIZED: 0x400,
  CKG_MGF1_SHA1: 0x1,
  CKK_RSA: 0x0,
  CKK_EC: 0x3,
  CKK_GENERIC_SECRET: 0x10,
  CKK_AES: 0x1f,
  CKK_EC_EDWARDS: 0x40,
  CKM_RSA_PKCS_KEY_PAIR_GEN: 0x0,
  CKM_RSA_PKCS_OAEP: 0x9,
  CKM_SHA_1: 0x220,
  CKM_GENERIC_SECRET_KEY_GEN: 0x350,
  CKM_EC_KEY_PAIR_GEN: 0x1040,
  CKM_ECDSA: 0x1041,
  CKM_EC_EDWARDS_KEY_PAIR_GEN: 0x1055,
  CKM_EDDSA: 0x1057,
  CKM_AES_KEY_GEN: 0x1080,
  CKM_AES_KEY_WRAP: 0x2109,
  CKM_AES_KEY_WRAP_PAD: 0x210a,
  CKO_PUBLIC_KEY: 0x2,
  CKO_PRIVATE_KEY: 0x3,
  CKO_SECRET_KEY: 0x4,
  CKU_SO: 0,
  CKU_USER: 1,
  CKZ_DATA_SPECIFIED: 0x1,
  CKS_RW_PUBLIC_SESSION: 2,
  CKS_RW_USER_FUNCTIONS: 3,
} as const;
