import { describe, expect, it } from 'vitest';
import { CHAINS, NETWORKS, type Chain } from '../core/chain.js';
import { MAX_ADDRESS_LENGTH, screenAddressText, validateAddress } from './address.js';

// One valid address per chain (EIP-55 example, Bitcoin Core key_io vector, Solana cookbook key).
const GOOD: Record<Chain, string> = {
  ethereum: '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed',
  bitcoin: 'bc1qvyq0cc6rahyvsazfdje0twl7ez82ndmuac2lhv',
  solana: '5oNDL3swdJJF1g9DzJiZ4ynHXgszjAEpUkxVYejchzrY',
};

const cases = CHAINS.map((chain) => [chain, GOOD[chain]] as const);

describe('validateAddress dispatch', () => {
  it.each(cases)('%s: the reference address is valid on mainnet', (chain, address) => {
    expect(validateAddress(chain, 'mainnet', address).ok).toBe(true);
  });

  it('refuses an unknown chain, including inherited property names', () => {
    for (const chain of ['dogecoin', 'toString', '__proto__', 'constructor']) {
      expect(validateAddress(chain as Chain, 'mainnet', GOOD.bitcoin)).toMatchObject({ ok: false, code: 'address_chain' });
    }
  });

  it('does not accept one chain’s address for another', () => {
    for (const chain of CHAINS) {
      for (const other of CHAINS) {
        if (other === chain) continue;
        expect(validateAddress(chain, 'mainnet', GOOD[other]).ok).toBe(false);
      }
    }
  });
});

describe('adversarial text (every chain, every network)', () => {
  // Each look-alike is inserted into an otherwise valid address.
  const lookAlikes: [string, (a: string) => string][] = [
    ['Cyrillic а (U+0430) in place of a character', (a) => a.slice(0, 5) + '\u0430' + a.slice(6)],
    ['Cyrillic с (U+0441) in place of a character', (a) => a.slice(0, 7) + '\u0441' + a.slice(8)],
    ['Greek ο (U+03BF) in place of a character', (a) => a.slice(0, 5) + '\u03bf' + a.slice(6)],
    ['full-width digit ５ (U+FF15) in place of a character', (a) => a.slice(0, 3) + '\uff15' + a.slice(4)],
    ['zero-width space appended', (a) => a + '\u200b'],
    ['zero-width space inside', (a) => a.slice(0, 10) + '\u200b' + a.slice(10)],
    ['zero-width joiner inside', (a) => a.slice(0, 10) + '\u200d' + a.slice(10)],
    ['byte-order mark in front', (a) => '\ufeff' + a],
    ['right-to-left override in front', (a) => '\u202e' + a],
    ['non-breaking space at the end', (a) => a + '\u00a0'],
    ['lone surrogate', (a) => a + '\ud800'],
    ['emoji', (a) => a + '\u{1F4B0}'],
  ];

  for (const [chain, good] of cases) {
    it.each(lookAlikes)(`${chain}: %s is address_non_ascii`, (_name, mutate) => {
      const bad = mutate(good);
      expect(bad).not.toBe(good);
      for (const network of NETWORKS) {
        const r = validateAddress(chain, network, bad);
        expect(r).toMatchObject({ ok: false, code: 'address_non_ascii' });
        if (!r.ok) expect(r.message).toMatch(/U\+[0-9A-F]{4}/);
      }
    });
  }

  it.each(cases)('%s: whitespace anywhere is refused, nothing is trimmed', (chain, good) => {
    for (const bad of [' ' + good, good + ' ', good + '\n', '\t' + good, good.slice(0, 8) + ' ' + good.slice(8), good + '\r\n']) {
      expect(validateAddress(chain, 'mainnet', bad)).toMatchObject({ ok: false, code: 'address_whitespace' });
    }
  });

  it.each(cases)('%s: NUL and other control bytes are refused', (chain, good) => {
    for (const bad of [good + '\0', '\0' + good, good.slice(0, 8) + '\0' + good.slice(8), good + '\x1b', good + '\x7f']) {
      expect(validateAddress(chain, 'mainnet', bad)).toMatchObject({ ok: false, code: 'address_control_character' });
    }
  });

  it.each(cases)('%s: the empty string is address_empty', (chain) => {
    expect(validateAddress(chain, 'mainnet', '')).toMatchObject({ ok: false, code: 'address_empty' });
  });

  it.each(cases)('%s: 10 kB strings are refused without echoing them', (chain, good) => {
    const ascii = good.repeat(Math.ceil(10240 / good.length));
    const r = validateAddress(chain, 'mainnet', ascii);
    expect(r).toMatchObject({ ok: false, code: 'address_too_long' });
    if (!r.ok) expect(r.message.length).toBeLessThan(200);
    // Non-ASCII wins over length: the look-alike is the more useful diagnosis.
    const unicode = 'a'.repeat(10239) + '\u0430';
    expect(validateAddress(chain, 'mainnet', unicode)).toMatchObject({ ok: false, code: 'address_non_ascii' });
    // A valid address followed by padding is refused too.
    expect(validateAddress(chain, 'mainnet', good + 'q'.repeat(10240)).ok).toBe(false);
  });

  it.each(cases)('%s: non-string input is refused, not thrown', (chain) => {
    for (const bad of [undefined, null, 42, {}, ['x']]) {
      expect(validateAddress(chain, 'mainnet', bad as unknown as string)).toMatchObject({ ok: false, code: 'address_format' });
    }
  });

  it('never throws and never echoes its input, for random printable and binary strings', () => {
    // Deterministic xorshift so that a failure can be replayed.
    let s = 0x2545f491;
    const next = () => {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      return s >>> 0;
    };
    const pools = [
      '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz',
      'qpzry9x8gf2tvdw0s3jn54khce6mua7lbc1tbcrt',
      '0123456789abcdefABCDEFx',
    ];
    for (let i = 0; i < 600; i++) {
      const pool = pools[i % pools.length]!;
      const len = next() % 100;
      let str = '';
      for (let j = 0; j < len; j++) str += i % 7 === 0 ? String.fromCharCode(next() % 0x250) : pool[next() % pool.length];
      if (i % 3 === 0) str = 'bc1' + str;
      if (i % 3 === 1) str = '0x' + str;
      for (const chain of CHAINS) {
        for (const network of NETWORKS) {
          const r = validateAddress(chain, network, str);
          if (!r.ok) {
            expect(typeof r.code).toBe('string');
            if (str.length >= 12) expect(r.message).not.toContain(str);
          }
        }
      }
    }
  });
});

describe('screenAddressText', () => {
  it('passes plain printable ASCII within the limit', () => {
    expect(screenAddressText('abc', 3)).toBeUndefined();
    expect(screenAddressText('abcd', 3)).toMatchObject({ ok: false, code: 'address_too_long' });
  });

  it('limits follow the longest address of each chain', () => {
    expect(MAX_ADDRESS_LENGTH).toEqual({ ethereum: 42, bitcoin: 90, solana: 44 });
  });
});
