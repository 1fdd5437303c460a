import { describe, expect, it } from 'vitest';
import { recordDestinationUse, recordWhitelistAdd, recordWhitelistRemove } from './destination.js';
import { newDestination } from './signals.js';
import { DEFAULT_RISK_SETTINGS } from './settings.js';
import { emptyHistory } from './history.js';
import { SanctionsIndex } from './sanctions.js';

const A = '0xAbCdEf0000000000000000000000000000000001';

describe('destination records', () => {
  it('counts uses under the normalised address and keeps the first use', () => {
    let r = recordDestinationUse(null, 'ethereum', A, 1000);
    r = recordDestinationUse(r, 'ethereum', A.toLowerCase(), 2000);
    expect(r).toEqual({ address: A.toLowerCase(), firstUsedAt: 1000, lastUsedAt: 2000, useCount: 2, whitelistedAt: null });
    expect(() => recordDestinationUse(r, 'ethereum', '0x' + '1'.repeat(40), 3000)).toThrow();
  });

  it('whitelisting starts the new-destination period; removal clears it', () => {
    const used = recordDestinationUse(null, 'ethereum', A, 0);
    const wl = recordWhitelistAdd(used, 'ethereum', A, 10 * 3_600_000);
    const w = { chain: 'ethereum', to: A, amount: 1n, asset: 'ETH' } as Parameters<typeof newDestination>[0];
    const ctx = (destination: typeof wl, now: number) => ({
      now, destination, similarDestinations: [], history: emptyHistory(), lastHour: { count: 0, amount: 0n }, balance: null,
      security: { credentialsChangedAt: null, whitelistChangedAt: null }, sanctions: new SanctionsIndex(),
    });
    expect(newDestination(w, ctx(wl, 20 * 3_600_000), DEFAULT_RISK_SETTINGS)?.name).toBe('new_destination');
    expect(newDestination(w, ctx(wl, 34 * 3_600_000), DEFAULT_RISK_SETTINGS)).toBeNull();
    expect(recordWhitelistRemove(wl).whitelistedAt).toBeNull();
  });
});
