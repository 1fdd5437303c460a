import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { NETWORKS } from '../../core/chain.js';
import { CustosError } from '../../core/errors.js';
import { validateAddress } from '../address.js';
import { toChecksumAddress, validateEthereumAddress } from './address.js';

const eip55 = JSON.parse(readFileSync(new URL('./testdata/eip55.json', import.meta.url), 'utf8')) as string[];

/** Flips the case of the `n`-th letter of the hex body: a one-character typo in a checksummed address. */
function flipLetter(address: string, n: number): string {
  let seen = 0;
  const chars = [...address];
  for (let i = 2; i < chars.length; i++) {
    const c = chars[i]!;
    if (/[a-fA-F]/.test(c) && seen++ === n) {
      chars[i] = c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase();
      return chars.join('');
    }
  }
  throw new Error('not enough letters');
}

describe('EIP-55 vectors', () => {
  it('has the four EIP addresses', () => expect(eip55).toHaveLength(4));

  it.each(eip55)('%s is its own checksum form and is accepted', (address) => {
    expect(toChecksumAddress(address.toLowerCase())).toBe(address);
    expect(toChecksumAddress('0x' + address.slice(2).toUpperCase())).toBe(address);
    expect(validateEthereumAddress(address)).toEqual({ ok: true, normalized: address, kind: 'account' });
  });

  it.each(eip55)('%s in all lower or all upper case is normalised to the checksum form', (address) => {
    const lower = address.toLowerCase();
    const upper = '0x' + address.slice(2).toUpperCase();
    expect(validateAddress('ethereum', 'mainnet', lower)).toEqual({ ok: true, normalized: address, kind: 'account' });
    expect(validateAddress('ethereum', 'mainnet', upper)).toEqual({ ok: true, normalized: address, kind: 'account' });
  });

  it.each(eip55)('%s with any single letter case-flipped fails the checksum', (address) => {
    const letters = address.slice(2).replace(/[0-9]/g, '').length;
    for (let n = 0; n < letters; n++) {
      const tampered = flipLetter(address, n);
      const r = validateAddress('ethereum', 'mainnet', tampered);
      // Flipping the only lower (or only upper) letter may yield an all-upper/all-lower string,
      // which carries no checksum by definition; every other flip must be caught.
      const body = tampered.slice(2);
      if (body === body.toLowerCase() || body === body.toUpperCase()) expect(r.ok).toBe(true);
      else expect(r).toMatchObject({ ok: false, code: 'address_checksum' });
    }
  });

  it.each(eip55)('%s with one hex digit changed fails the checksum', (address) => {
    // Replace a digit by another digit, keeping the case pattern: the hash changes and with it the
    // expected case of the letters (probability of surviving ~ 2^-15 per EIP-55; these are fixed cases).
    const i = address.slice(2).search(/[0-9]/) + 2;
    const d = address[i]!;
    const tampered = address.slice(0, i) + String((Number(d) + 1) % 10) + address.slice(i + 1);
    expect(validateEthereumAddress(tampered)).toMatchObject({ ok: false, code: 'address_checksum' });
  });
});

describe('Ethereum format', () => {
  const good = eip55[0]!;

  it('is the same on every network', () => {
    for (const network of NETWORKS) expect(validateAddress('ethereum', network, good).ok).toBe(true);
  });

  it.each([
    ['no prefix', good.slice(2), 'address_format'],
    ['0X prefix', '0X' + good.slice(2), 'address_format'],
    ['39 hex digits', good.slice(0, 41), 'address_format'],
    ['41 hex digits', good + 'a', 'address_too_long'],
    ['non-hex letter', good.slice(0, 10) + 'g' + good.slice(11), 'address_format'],
    ['bare 0x', '0x', 'address_format'],
    ['ICAP-style', 'XE7338O073KYGTWWZN0F2WZ0R8PX5ZPPZS', 'address_format'],
  ])('refuses %s', (_name, address, code) => {
    expect(validateAddress('ethereum', 'mainnet', address)).toMatchObject({ ok: false, code });
    expect(validateEthereumAddress(address)).toMatchObject({ ok: false, code });
  });

  it('refuses the zero address, which burns funds', () => {
    expect(validateEthereumAddress('0x' + '0'.repeat(40))).toMatchObject({ ok: false, code: 'address_zero' });
  });

  it('toChecksumAddress throws a typed error on malformed input', () => {
    expect(() => toChecksumAddress('0x1234')).toThrow(CustosError);
    expect(() => toChecksumAddress('5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed')).toThrow(CustosError);
  });

  it('does not take a Bitcoin or Solana address for an Ethereum one', () => {
    expect(validateEthereumAddress('bc1qvyq0cc6rahyvsazfdje0twl7ez82ndmuac2lhv').ok).toBe(false);
    expect(validateEthereumAddress('5oNDL3swdJJF1g9DzJiZ4ynHXgszjAEpUkxVYejchzrY').ok).toBe(false);
  });
});
