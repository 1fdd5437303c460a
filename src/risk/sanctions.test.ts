import { describe, expect, it } from 'vitest';
import { parseSanctionsList, SanctionsIndex, sanctionsListName } from './sanctions.js';
import { BUNDLED_SANCTIONS_LISTS, bundledSanctionsIndex } from './bundled-sanctions.js';

describe('parseSanctionsList', () => {
  it('normalises mixed-case ETH entries to lowercase and maps ETH to ethereum', () => {
    const { entries, skipped } = parseSanctionsList(['0x01e2919679362dFBC9ee1644Ba9C6da6D6245BB1'], 'ETH');
    expect(skipped).toBe(0);
    expect(entries).toEqual([{ chain: 'ethereum', address: '0x01e2919679362dfbc9ee1644ba9c6da6d6245bb1', list: 'ETH' }]);
  });

  it('indexes Omni (Bitcoin-form) USDT entries under bitcoin and skips Tron entries', () => {
    const { entries, skipped } = parseSanctionsList(
      ['0x175d44451403Edf28469dF03A9280c1197ADb92c', '16iWn2J1McqjToYLHSsAyS6En3QA8YQ91H', 'TEAqwfMhXLaomXhZ8KeMhx3njGmQEDnsUR'],
      'USDT',
    );
    expect(entries.map((e) => e.chain)).toEqual(['ethereum', 'bitcoin']);
    expect(skipped).toBe(1);
  });

  it('rejects malformed lists and names', () => {
    expect(() => parseSanctionsList({ a: 1 }, 'ETH')).toThrow(expect.objectContaining({ code: 'sanctions_list_invalid' }));
    expect(() => parseSanctionsList([42], 'ETH')).toThrow(expect.objectContaining({ code: 'sanctions_list_invalid' }));
    expect(() => parseSanctionsList([' 0xabc'], 'ETH')).toThrow(expect.objectContaining({ code: 'sanctions_list_invalid' }));
    expect(() => parseSanctionsList(['x'.repeat(10_000)], 'ETH')).toThrow(expect.objectContaining({ code: 'sanctions_list_invalid' }));
    expect(() => parseSanctionsList([], '../etc')).toThrow(expect.objectContaining({ code: 'sanctions_list_name_invalid' }));
  });
});

describe('SanctionsIndex', () => {
  it('finds an address whatever its case, and only on its chain', () => {
    const index = new SanctionsIndex(parseSanctionsList(['0x983a81ca6FB1e441266D2FbcB7D8E530AC2E05A2'], 'USDC').entries);
    expect(index.lookup('ethereum', '0x983A81CA6FB1E441266D2FBCB7D8E530AC2E05A2')).toEqual(['USDC']);
    expect(index.has('ethereum', '0x983a81ca6fb1e441266d2fbcb7d8e530ac2e05a3')).toBe(false);
    expect(index.has('solana', '0x983a81ca6fb1e441266d2fbcb7d8e530ac2e05a2')).toBe(false);
  });

  it('records every list an address is on, once', () => {
    const index = new SanctionsIndex([
      ...parseSanctionsList(['0x983a81ca6FB1e441266D2FbcB7D8E530AC2E05A2'], 'USDC').entries,
      ...parseSanctionsList(['0x983a81ca6fb1e441266d2fbcb7d8e530ac2e05a2'], 'USDT').entries,
      ...parseSanctionsList(['0x983a81ca6fb1e441266d2fbcb7d8e530ac2e05a2'], 'USDT').entries,
    ]);
    expect(index.lookup('ethereum', '0x983a81ca6fb1e441266d2fbcb7d8e530ac2e05a2')).toEqual(['USDC', 'USDT']);
    expect(index.size).toBe(1);
  });

  it('bundled data: every ETH and XBT entry is found, bech32 entries case-insensitively', () => {
    const index = bundledSanctionsIndex();
    const eth = BUNDLED_SANCTIONS_LISTS.ETH ?? [];
    const xbt = BUNDLED_SANCTIONS_LISTS.XBT ?? [];
    expect(eth.length).toBeGreaterThan(100);
    expect(xbt.length).toBeGreaterThan(400);
    for (const a of eth) expect(index.has('ethereum', a.toUpperCase().replace('0X', '0x'))).toBe(true);
    for (const a of xbt) if (!a.startsWith('T')) expect(index.has('bitcoin', a)).toBe(true);
    expect(index.has('bitcoin', 'BC1Q05AKTDDF9CE4P7HH3STGSF253M4VWEU7NKHTMW')).toBe(true);
    // A legacy Base58 address differing only in case is another address.
    expect(index.has('bitcoin', '123wbudmsjv4gctdvez6qq6z8nxskrj4kx')).toBe(false);
  });
});

describe('sanctionsListName', () => {
  it('reads the list name from the OFAC file name only', () => {
    expect(sanctionsListName('/tmp/x/sanctioned_addresses_XBT.json')).toBe('XBT');
    expect(sanctionsListName('sanctioned_addresses_ETH.json')).toBe('ETH');
    expect(sanctionsListName('sanctioned_addresses_eth.json')).toBeNull();
    expect(sanctionsListName('evil_sanctioned_addresses_ETH.json')).toBeNull();
    expect(sanctionsListName('sanctioned_addresses_ETH.json.bak')).toBeNull();
  });
});
