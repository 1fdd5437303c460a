/**
 * Bitcoin address parsing: base58check P2PKH/P2SH and segwit (BIP-173 bech32 for v0, BIP-350
 * bech32m for v1..v16), per network, and the scriptPubKey each address pays to.
 *
 * Networks: `mainnet` (HRP `bc`, versions 0x00/0x05), `testnet` (HRP `tb`, versions 0x6f/0xc4; this
 * covers testnet3, testnet4 and signet, which share both), `regtest` (HRP `bcrt`, versions 0x6f/0xc4:
 * base58 addresses of regtest and testnet cannot be told apart). Bitcoin has no `devnet`.
 *
 * Segwit rules checked here (the checksums themselves come from @scure/base):
 * witness version 0..16; program 2..40 bytes, exactly 20 or 32 for v0; v0 encoded with bech32 and
 * v1+ with bech32m (else `address_witness_version`); padding of at most 4 zero bits; no mixed case;
 * at most 90 characters. Upper-case addresses are accepted and normalised to lower case.
 * Versions 2..16, and v1 with a program other than 32 bytes, are valid by BIP-350 and reported with
 * kind `witness_unknown`: nothing can spend them today, so policy should decide whether to allow them.
 *
 * @example
 *   const d = decodeBitcoinAddress('mainnet', 'BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4');
 *   // d.ok === true; d.destination.kind === 'p2wpkh';
 *   // d.destination.normalized === 'bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4'
 *   // d.destination.scriptPubKey is 0x0014751e76e8199196d454941c45d1b3a323f1433bd6
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bech32, bech32m, createBase58check } from '@scure/base';
import type { Network } from '../../core/chain.js';
import { CustosError } from '../../core/errors.js';
import type { AddressCheck } from '../address.js';

export type BitcoinAddressKind = 'p2pkh' | 'p2sh' | 'p2wpkh' | 'p2wsh' | 'p2tr' | 'witness_unknown';

export interface BitcoinDestination {
  /** Lower case for segwit addresses, unchanged for base58 ones. */
  normalized: string;
  kind: BitcoinAddressKind;
  /** The output script this address pays to. */
  scriptPubKey: Uint8Array;
}

export type BitcoinDecodeResult =
  | { ok: true; destination: BitcoinDestination }
  | { ok: false; code: string; message: string };

interface NetworkParams {
  hrp: string;
  p2pkh: number;
  p2sh: number;
}

type BitcoinNetwork = 'mainnet' | 'testnet' | 'regtest';

const PARAMS: Readonly<Record<BitcoinNetwork, NetworkParams>> = {
  mainnet: { hrp: 'bc', p2pkh: 0x00, p2sh: 0x05 },
  testnet: { hrp: 'tb', p2pkh: 0x6f, p2sh: 0xc4 },
  regtest: { hrp: 'bcrt', p2pkh: 0x6f, p2sh: 0xc4 },
};

const HRP_NETWORK: Readonly<Record<string, BitcoinNetwork>> = { bc: 'mainnet', tb: 'testnet', bcrt: 'regtest' };
const BASE58_ALPHABET = /^[1-9A-HJ-NP-Za-km-z]+$/;
const BECH32_DATA = /^[qpzry9x8gf2tvdw0s3jn54khce6mua7l]+$/;
const BECH32_LIMIT = 90;
const base58check = createBase58check(sha256);

const fail = (code: string, message: string): BitcoinDecodeResult => ({ ok: false, code, message });

function isBitcoinNetwork(network: Network): network is BitcoinNetwork {
  return network === 'mainnet' || network === 'testnet' || network === 'regtest';
}

/** Parses `address` for `network`; never throws. */
export function decodeBitcoinAddress(network: Network, address: string): BitcoinDecodeResult {
  if (typeof address !== 'string') return fail('address_format', 'The address must be a string.');
  if (!isBitcoinNetwork(network)) {
    return fail('address_network', `Bitcoin has no "${String(network)}" network; use mainnet, testnet or regtest.`);
  }
  if (address.length === 0) return fail('address_empty', 'The address is empty.');
  if (address.length > BECH32_LIMIT) {
    return fail('address_too_long', `The address is ${address.length} characters long; a Bitcoin address has at most 90.`);
  }
  const lower = address.toLowerCase();
  const sep = lower.lastIndexOf('1');
  const hrp = sep > 0 ? lower.slice(0, sep) : '';
  if (HRP_NETWORK[hrp] !== undefined) return decodeSegwit(network, address, lower, sep);
  if (BASE58_ALPHABET.test(address)) return decodeBase58(network, address);
  if (sep > 0 && /^[a-z0-9]+$/.test(lower)) {
    return fail('address_format', 'The part before the last "1" is not a Bitcoin address prefix (expected bc, tb or bcrt).');
  }
  return fail('address_format', 'This is neither a base58 nor a bech32 Bitcoin address.');
}

function decodeBase58(network: BitcoinNetwork, address: string): BitcoinDecodeResult {
  // 21-byte payload + 4-byte checksum: 26 to 35 base58 characters.
  if (address.length < 26 || address.length > 35) {
    return fail('address_format', 'A base58 Bitcoin address is 26 to 35 characters long.');
  }
  let payload: Uint8Array;
  try {
    payload = base58check.decode(address);
  } catch {
    return fail('address_checksum', 'The base58check checksum of the address is wrong; it was probably mistyped.');
  }
  if (payload.length !== 21) {
    return fail('address_format', 'The address does not carry a 20-byte hash.');
  }
  const version = payload[0] as number;
  const hash = payload.subarray(1);
  const params = PARAMS[network];
  if (version === params.p2pkh) {
    return ok(address, 'p2pkh', concat([0x76, 0xa9, 0x14], hash, [0x88, 0xac]));
  }
  if (version === params.p2sh) return ok(address, 'p2sh', concat([0xa9, 0x14], hash, [0x87]));
  for (const other of Object.keys(PARAMS) as BitcoinNetwork[]) {
    const p = PARAMS[other];
    if (version === p.p2pkh || version === p.p2sh) {
      return fail('address_network', `This is a Bitcoin ${other} address, not a ${network} one.`);
    }
  }
  return fail('address_format', `Version byte 0x${version.toString(16).padStart(2, '0')} is not a Bitcoin address type.`);
}

function decodeSegwit(network: BitcoinNetwork, address: string, lower: string, sep: number): BitcoinDecodeResult {
  if (address !== lower && address !== address.toUpperCase()) {
    return fail('address_format', 'A bech32 address must be all lower case or all upper case, not mixed.');
  }
  const data = lower.slice(sep + 1);
  if (!BECH32_DATA.test(data)) {
    return fail('address_format', 'The address contains a character that bech32 does not use (1, b, i or o).');
  }
  if (data.length < 6) return fail('address_format', 'The address is too short to hold a bech32 checksum.');
  const asBech32 = bech32.decodeUnsafe(lower, BECH32_LIMIT);
  const asBech32m = asBech32 ? undefined : bech32m.decodeUnsafe(lower, BECH32_LIMIT);
  const decoded = asBech32 ?? asBech32m;
  if (!decoded) {
    return fail('address_checksum', 'The bech32 checksum of the address is wrong; it was probably mistyped.');
  }
  const [version, ...programWords] = decoded.words;
  if (version === undefined) return fail('address_format', 'The address has no witness version or program.');
  if (version > 16) {
    return fail('address_witness_version', `Witness version ${version} does not exist; versions run from 0 to 16.`);
  }
  const program = bech32.fromWordsUnsafe(programWords);
  if (!program) {
    return fail('address_format', 'The address has invalid padding in its witness program.');
  }
  if (program.length < 2 || program.length > 40) {
    return fail('address_format', `A witness program is 2 to 40 bytes long, not ${program.length}.`);
  }
  if (version === 0 && program.length !== 20 && program.length !== 32) {
    return fail('address_format', `A version 0 witness program is 20 or 32 bytes long, not ${program.length}.`);
  }
  if (version === 0 && !asBech32) {
    return fail('address_witness_version', 'A version 0 segwit address must use bech32 (BIP-173), not bech32m.');
  }
  if (version !== 0 && !asBech32m) {
    return fail('address_witness_version', `A version ${version} segwit address must use bech32m (BIP-350), not bech32.`);
  }
  const hrpNetwork = HRP_NETWORK[decoded.prefix];
  if (hrpNetwork !== network) {
    return fail('address_network', `This is a Bitcoin ${hrpNetwork ?? 'unknown'} address, not a ${network} one.`);
  }
  const kind: BitcoinAddressKind =
    version === 0
      ? program.length === 20
        ? 'p2wpkh'
        : 'p2wsh'
      : version === 1 && program.length === 32
        ? 'p2tr'
        : 'witness_unknown';
  // OP_0 is 0x00; OP_1..OP_16 are 0x51..0x60.
  const opVersion = version === 0 ? 0x00 : 0x50 + version;
  return ok(lower, kind, concat([opVersion, program.length], program));
}

function ok(normalized: string, kind: BitcoinAddressKind, scriptPubKey: Uint8Array): BitcoinDecodeResult {
  return { ok: true, destination: { normalized, kind, scriptPubKey } };
}

function concat(...parts: ArrayLike<number>[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Validates a Bitcoin address for `network`; see the module comment for the rules. */
export function validateBitcoinAddress(network: Network, address: string): AddressCheck {
  const r = decodeBitcoinAddress(network, address);
  return r.ok ? { ok: true, normalized: r.destination.normalized, kind: r.destination.kind } : r;
}

/**
 * The scriptPubKey that `address` pays to on `network`, for building outputs.
 * Throws `CustosError` with the same code as `validateBitcoinAddress` when the address is invalid.
 */
export function bitcoinScriptPubKey(network: Network, address: string): Uint8Array {
  const r = decodeBitcoinAddress(network, address);
  if (!r.ok) throw new CustosError(r.code, r.message, 422);
  return r.destination.scriptPubKey;
}
