import { readFileSync } from 'node:fs';
import { bech32, bech32m } from '@scure/base';
import { describe, expect, it } from 'vitest';
import type { Network } from '../../core/chain.js';
import { CustosError } from '../../core/errors.js';
import { validateAddress } from '../address.js';
import { bitcoinScriptPubKey, decodeBitcoinAddress, validateBitcoinAddress } from './address.js';

const load = <T>(name: string): T => JSON.parse(readFileSync(new URL(`./testdata/${name}`, import.meta.url), 'utf8')) as T;
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const ALL_NETWORKS: Network[] = ['mainnet', 'testnet', 'regtest', 'devnet'];

type KeyIoValid = [string, string, { chain: string; isPrivkey: boolean; tryCaseFlip?: boolean }][];
const keyIoValid = load<KeyIoValid>('key_io_valid.json');
const keyIoInvalid = load<[string][]>('key_io_invalid.json');

interface SegwitSet {
  segwit_valid: [string, string][];
  segwit_invalid: [string, string][];
}
const bips = load<{
  bip173: SegwitSet & { bech32_valid: string[]; bech32_invalid: [string, string][] };
  bip350: SegwitSet & { bech32m_valid: string[]; bech32m_invalid: [string, string][] };
}>('bip173_bip350_vectors.json');

/**
 * Bitcoin Core names its test chains main, test, testnet4, signet and regtest. custos has one
 * `testnet` for every public test chain: testnet3, testnet4 and signet share the version bytes
 * 0x6f/0xc4 and the HRP tb, so the address format cannot tell them apart.
 */
function custosNetwork(coreChain: string): Network {
  switch (coreChain) {
    case 'main':
      return 'mainnet';
    case 'test':
    case 'testnet4':
    case 'signet':
      return 'testnet';
    case 'regtest':
      return 'regtest';
    default:
      throw new Error(`unknown chain ${coreChain} in vector file`);
  }
}

const networkOfHrp = (address: string): Network => {
  const l = address.toLowerCase();
  return l.startsWith('bcrt1') ? 'regtest' : l.startsWith('bc1') ? 'mainnet' : 'testnet';
};

const flipCase = (s: string): string =>
  [...s].map((c) => (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase())).join('');

describe('Bitcoin Core key_io_valid.json (address entries)', () => {
  // Entries with isPrivkey=true are WIF private keys, not addresses: they are not address vectors.
  // They are still fed to the validator below, which must refuse them without echoing them.
  const addresses = keyIoValid.filter(([, , meta]) => !meta.isPrivkey);
  const privkeys = keyIoValid.filter(([, , meta]) => meta.isPrivkey);

  it('has the expected number of entries', () => {
    expect(addresses.length).toBe(54);
    expect(privkeys.length).toBe(16);
  });

  it.each(addresses)('%s is valid on its own network and pays to the vector script', (address, script, meta) => {
    const network = custosNetwork(meta.chain);
    const r = decodeBitcoinAddress(network, address);
    expect(r).toMatchObject({ ok: true });
    if (!r.ok) return;
    expect(hex(r.destination.scriptPubKey)).toBe(script);
    expect(hex(bitcoinScriptPubKey(network, address))).toBe(script);
    expect(validateAddress('bitcoin', network, address)).toEqual({
      ok: true,
      normalized: address,
      kind: r.destination.kind,
    });
    if (meta.tryCaseFlip) {
      const flipped = flipCase(address);
      const f = validateBitcoinAddress(network, flipped);
      expect(f).toEqual({ ok: true, normalized: address.toLowerCase(), kind: r.destination.kind });
      expect(hex(bitcoinScriptPubKey(network, flipped))).toBe(script);
    }
  });

  it.each(addresses)('%s is refused on every other network', (address, _script, meta) => {
    const own = custosNetwork(meta.chain);
    const isBase58 = !/^(bc|tb|bcrt)1/i.test(address);
    for (const network of ALL_NETWORKS) {
      if (network === own) continue;
      const r = validateAddress('bitcoin', network, address);
      // Base58 version bytes are the same on testnet and regtest: such an address is valid on both.
      const sharedBase58 = isBase58 && own !== 'mainnet' && network !== 'mainnet' && network !== 'devnet';
      if (sharedBase58) expect(r.ok).toBe(true);
      else expect(r).toMatchObject({ ok: false, code: 'address_network' });
    }
  });

  it.each(addresses)('%s with one character substituted fails its checksum', (address) => {
    const at = Math.floor(address.length / 2);
    const alphabet = /^(bc|tb|bcrt)1/i.test(address)
      ? 'qpzry9x8gf2tvdw0s3jn54khce6mua7l'
      : '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
    const original = address[at]!.toLowerCase();
    const isUpper = address === address.toUpperCase();
    // Pick the next symbol of the alphabet, keeping the case style of bech32 strings.
    let sub = alphabet[(alphabet.indexOf(/^(bc|tb|bcrt)1/i.test(address) ? original : address[at]!) + 1) % alphabet.length]!;
    if (isUpper && /^(bc|tb|bcrt)1/i.test(address)) sub = sub.toUpperCase();
    const tampered = address.slice(0, at) + sub + address.slice(at + 1);
    expect(tampered).not.toBe(address);
    const network = custosNetwork(keyIoValid.find(([a]) => a === address)![2].chain);
    expect(validateAddress('bitcoin', network, tampered)).toMatchObject({ ok: false, code: 'address_checksum' });
  });

  it.each(privkeys)('WIF private key %s is refused as a destination and never echoed', (wif, secretHex, meta) => {
    for (const network of ALL_NETWORKS) {
      const r = validateAddress('bitcoin', network, wif);
      expect(r.ok).toBe(false);
      if (r.ok) continue;
      expect(r.message).not.toContain(wif);
      expect(r.message).not.toContain(secretHex);
      expect(r.message.toLowerCase()).not.toContain(wif.slice(0, 8).toLowerCase());
    }
    expect(() => bitcoinScriptPubKey(custosNetwork(meta.chain), wif)).toThrow(CustosError);
  });
});

describe('Bitcoin Core key_io_invalid.json', () => {
  it('has the expected number of entries', () => {
    expect(keyIoInvalid.length).toBe(79);
  });

  it.each(keyIoInvalid)('%s is refused on every network', (address) => {
    for (const network of ALL_NETWORKS) {
      expect(validateAddress('bitcoin', network, address).ok).toBe(false);
      expect(decodeBitcoinAddress(network, address).ok).toBe(false);
      expect(() => bitcoinScriptPubKey(network, address)).toThrow(CustosError);
    }
  });
});

describe('BIP-173 / BIP-350 Bech32 and Bech32m strings (checksum layer from @scure/base)', () => {
  it.each(bips.bip173.bech32_valid)('bech32 accepts %s', (s) => {
    expect(bech32.decodeUnsafe(s, 90)).toBeDefined();
    expect(bech32m.decodeUnsafe(s, 90)).toBeUndefined();
  });
  it.each(bips.bip350.bech32m_valid)('bech32m accepts %s', (s) => {
    expect(bech32m.decodeUnsafe(s, 90)).toBeDefined();
    expect(bech32.decodeUnsafe(s, 90)).toBeUndefined();
  });
  it.each(bips.bip173.bech32_invalid)('bech32 refuses %j (%s)', (s) => {
    expect(bech32.decodeUnsafe(s, 90)).toBeUndefined();
  });
  it.each(bips.bip350.bech32m_invalid)('bech32m refuses %j (%s)', (s) => {
    expect(bech32m.decodeUnsafe(s, 90)).toBeUndefined();
  });
  it('none of them is a Bitcoin address on any network', () => {
    const all = [
      ...bips.bip173.bech32_valid,
      ...bips.bip350.bech32m_valid,
      ...bips.bip173.bech32_invalid.map(([s]) => s),
      ...bips.bip350.bech32m_invalid.map(([s]) => s),
    ];
    for (const s of all) for (const n of ALL_NETWORKS) expect(validateAddress('bitcoin', n, s).ok).toBe(false);
  });
});

describe('BIP-350 segwit addresses', () => {
  it.each(bips.bip350.segwit_valid)('%s is valid and pays to %s', (address, script) => {
    const network = networkOfHrp(address);
    const r = decodeBitcoinAddress(network, address);
    expect(r).toMatchObject({ ok: true, destination: { normalized: address.toLowerCase() } });
    expect(hex(bitcoinScriptPubKey(network, address))).toBe(script);
  });

  // The BIP gives a reason in words; these are the codes custos answers for each.
  const expected: Record<string, string> = {
    'Invalid human-readable part': 'address_format',
    'Invalid checksum (Bech32 instead of Bech32m)': 'address_witness_version',
    'Invalid checksum (Bech32m instead of Bech32)': 'address_witness_version',
    'Invalid character in checksum': 'address_format',
    'Invalid witness version': 'address_witness_version',
    'Invalid program length (1 byte)': 'address_format',
    'Invalid program length (41 bytes)': 'address_format',
    'Invalid program length for witness version 0 (per BIP141)': 'address_format',
    'Mixed case': 'address_format',
    'zero padding of more than 4 bits': 'address_format',
    'Non-zero padding in 8-to-5 conversion': 'address_format',
    'Empty data section': 'address_format',
  };
  it.each(bips.bip350.segwit_invalid)('%s is refused on every network (%s)', (address, reason) => {
    const code = expected[reason];
    expect(code).toBeDefined();
    for (const network of ALL_NETWORKS.filter((n) => n !== 'devnet')) {
      expect(validateAddress('bitcoin', network, address)).toMatchObject({ ok: false, code });
    }
    expect(validateAddress('bitcoin', 'devnet', address).ok).toBe(false);
  });
});

describe('BIP-173 segwit addresses (as amended by BIP-350)', () => {
  const v0 = bips.bip173.segwit_valid.filter(([a]) => /^(bc|tb)1q/i.test(a));
  const v1plus = bips.bip173.segwit_valid.filter(([a]) => !/^(bc|tb)1q/i.test(a));

  it.each(v0)('v0 %s stays valid and pays to %s', (address, script) => {
    expect(hex(bitcoinScriptPubKey(networkOfHrp(address), address))).toBe(script);
  });

  // BIP-173 listed these v1+ addresses with a bech32 checksum; BIP-350 requires bech32m for v1+,
  // so they are invalid now (the same programs appear in BIP-350 re-encoded with bech32m).
  it.each(v1plus)('v1+ %s with a bech32 checksum is refused per BIP-350', (address) => {
    expect(v1plus.length).toBe(3);
    expect(validateAddress('bitcoin', networkOfHrp(address), address)).toMatchObject({
      ok: false,
      code: 'address_witness_version',
    });
  });

  const expected: Record<string, string> = {
    'Invalid human-readable part': 'address_format',
    'Invalid checksum': 'address_checksum',
    'Invalid witness version': 'address_witness_version',
    'Invalid program length': 'address_format',
    'Invalid program length for witness version 0 (per BIP141)': 'address_format',
    'Mixed case': 'address_format',
    'zero padding of more than 4 bits': 'address_format',
    'Non-zero padding in 8-to-5 conversion': 'address_format',
    'Empty data section': 'address_format',
  };
  it.each(bips.bip173.segwit_invalid)('%s is refused (%s)', (address, reason) => {
    const code = expected[reason];
    expect(code).toBeDefined();
    for (const network of ['mainnet', 'testnet', 'regtest'] as const) {
      expect(validateAddress('bitcoin', network, address)).toMatchObject({ ok: false, code });
    }
  });
});

describe('Bitcoin kinds and networks', () => {
  it('names the output types', () => {
    const kind = (n: Network, a: string) => {
      const r = validateBitcoinAddress(n, a);
      return r.ok ? r.kind : r.code;
    };
    expect(kind('mainnet', '1FsSia9rv4NeEwvJ2GvXrX7LyxYspbN2mo')).toBe('p2pkh');
    expect(kind('mainnet', '36j4NfKv6Akva9amjWrLG6MuSQym1GuEmm')).toBe('p2sh');
    expect(kind('mainnet', 'bc1qvyq0cc6rahyvsazfdje0twl7ez82ndmuac2lhv')).toBe('p2wpkh');
    expect(kind('mainnet', 'bc1qyucykdlhp62tezs0hagqury402qwhk589q80tqs5myh3rxq34nwqhkdhv7')).toBe('p2wsh');
    expect(kind('mainnet', 'bc1p83n3au0rjylefxq2nc2xh2y4jzz4pm6zxj4mw5pagdjjr2a9f36s6jjnnu')).toBe('p2tr');
    expect(kind('mainnet', 'bc1z2rksukkjr8')).toBe('witness_unknown');
  });

  it('has no devnet', () => {
    expect(validateAddress('bitcoin', 'devnet', '1FsSia9rv4NeEwvJ2GvXrX7LyxYspbN2mo')).toMatchObject({
      ok: false,
      code: 'address_network',
    });
  });

  it('reports a wrong base58check checksum as such', () => {
    expect(validateAddress('bitcoin', 'mainnet', '1FsSia9rv4NeEwvJ2GvXrX7LyxYspbN2mp')).toMatchObject({
      ok: false,
      code: 'address_checksum',
    });
  });

  it('does not take a Litecoin or Ethereum address for a Bitcoin one', () => {
    expect(validateAddress('bitcoin', 'mainnet', '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed').ok).toBe(false);
    expect(validateAddress('bitcoin', 'mainnet', 'ltc1qw508d6qejxtdg4y5r3zarvary0c5xw7kgmn4n9')).toMatchObject({
      ok: false,
      code: 'address_format',
    });
  });

  it('refuses more than 90 characters before decoding', () => {
    const long = 'bc1q' + 'q'.repeat(100);
    expect(decodeBitcoinAddress('mainnet', long)).toMatchObject({ ok: false, code: 'address_too_long' });
  });
});
