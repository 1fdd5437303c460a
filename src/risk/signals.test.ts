import { describe, expect, it } from 'vitest';
import type { Withdrawal } from '../core/withdrawal.js';
import type { DestinationRecord, RiskContext } from './context.js';
import { evaluateRisk } from './evaluate.js';
import { emptyHistory, historyRecord, HOUR_MS, DAY_MS } from './history.js';
import { histogramQuantile } from './histogram.js';
import { historyView } from './history.js';
import { lookAlikeKey, looksAlike } from './lookalike.js';
import { parseSanctionsList, SanctionsIndex } from './sanctions.js';
import { DEFAULT_RISK_SETTINGS, type RiskSettings } from './settings.js';
import {
  balanceShare,
  dustAmount,
  lookalikeDestination,
  newDestination,
  recentSecurityChange,
  sanctionedDestination,
  unusualAmount,
  velocity,
} from './signals.js';

const NOW = Date.UTC(2026, 10, 24, 12, 0, 0);
const TO = '0x2222222222222222222222222222222222222222';
const SANCTIONED = '0x01e2919679362dFBC9ee1644Ba9C6da6D6245BB1';

function withdrawal(over: Partial<Withdrawal> = {}): Withdrawal {
  return {
    id: 'w1', customerId: 'c1', credentialId: 'k1', accountId: 'a1', chain: 'ethereum', asset: 'ETH', to: TO,
    amount: 1000n, fee: 1n, nonce: 0n, memo: null, status: 'received', decisions: [], idempotencyKey: 'i1',
    createdAt: NOW, updatedAt: NOW, ...over,
  };
}

const used = (address: string, over: Partial<DestinationRecord> = {}): DestinationRecord => ({
  address, firstUsedAt: NOW - 30 * DAY_MS, lastUsedAt: NOW - DAY_MS, useCount: 3, whitelistedAt: null, ...over,
});

function context(over: Partial<RiskContext> = {}): RiskContext {
  return {
    now: NOW,
    destination: used(TO),
    similarDestinations: [],
    history: emptyHistory(),
    lastHour: { count: 0, amount: 0n },
    balance: null,
    security: { credentialsChangedAt: null, whitelistChangedAt: null },
    sanctions: new SanctionsIndex(parseSanctionsList([SANCTIONED], 'ETH').entries),
    ...over,
  };
}

const S: RiskSettings = DEFAULT_RISK_SETTINGS;

/** A history of `n` withdrawals of the given amounts, one per day (each in its own hour). */
function historyOf(amounts: bigint[], start = NOW - 80 * DAY_MS) {
  let h = emptyHistory();
  amounts.forEach((a, i) => (h = historyRecord(h, a, start + i * (DAY_MS / 2))));
  return h;
}

describe('sanctioned_destination', () => {
  it('fires on a listed destination in any case, not on a neighbour', () => {
    expect(sanctionedDestination(withdrawal({ to: SANCTIONED.toUpperCase().replace('0X', '0x') }), context(), S)?.name).toBe('sanctioned_destination');
    expect(sanctionedDestination(withdrawal({ to: SANCTIONED.slice(0, -1) + '2' }), context(), S)).toBeNull();
  });

  it('blocks even when its weight and the total score are low', () => {
    const low: RiskSettings = { ...S, weights: { ...S.weights, sanctioned_destination: 1 }, thresholds: { review: 500, block: 1000 } };
    const d = evaluateRisk(withdrawal({ to: SANCTIONED }), context(), low);
    expect(d.score).toBe(1);
    expect(d.outcome).toBe('block');
    expect(d.reasons.map((r) => r.code)).toEqual(['sanctioned_destination']);
  });
});

describe('new_destination', () => {
  it('fires for a never-used destination, also when whitelisted', () => {
    expect(newDestination(withdrawal(), context({ destination: null }), S)?.message).toMatch(/never withdrawn/);
    expect(newDestination(withdrawal(), context({ destination: used(TO, { useCount: 0, whitelistedAt: NOW - 5 * DAY_MS }) }), S)?.message).toMatch(/whitelisted/);
  });

  it('fires when whitelisted less than 24 h ago, not at 24 h', () => {
    const recent = used(TO, { whitelistedAt: NOW - 24 * HOUR_MS + 1 });
    const old = used(TO, { whitelistedAt: NOW - 24 * HOUR_MS });
    expect(newDestination(withdrawal(), context({ destination: recent }), S)?.name).toBe('new_destination');
    expect(newDestination(withdrawal(), context({ destination: old }), S)).toBeNull();
    expect(newDestination(withdrawal(), context(), S)).toBeNull();
  });
});

describe('unusual_amount', () => {
  const amounts = Array.from({ length: 100 }, (_, i) => 1000n + BigInt(i) * 10n); // 1000..1990
  const h = historyOf(amounts);
  const p99 = histogramQuantile(historyView(h, NOW).amounts, 99)!;

  it('fires at the upper bound of the 99th-percentile bucket, not one below', () => {
    expect(p99.lower <= 1980n && 1980n < p99.upper).toBe(true); // true p99 is the 99th value, 1980
    expect(unusualAmount(withdrawal({ amount: p99.upper }), context({ history: h }), S)?.name).toBe('unusual_amount');
    expect(unusualAmount(withdrawal({ amount: p99.upper - 1n }), context({ history: h }), S)).toBeNull();
  });

  it('fires above a multiple of the median', () => {
    // 95 small and 5 large withdrawals: p99 is large, the median small.
    const skew = historyOf([...Array.from({ length: 95 }, () => 100n), ...Array.from({ length: 5 }, () => 1_000_000n)]);
    const med = histogramQuantile(historyView(skew, NOW).amounts, 50)!;
    const limit = (med.upper - 1n) * 10n;
    expect(unusualAmount(withdrawal({ amount: limit + 1n }), context({ history: skew }), S)?.message).toMatch(/median/);
    expect(unusualAmount(withdrawal({ amount: limit }), context({ history: skew }), S)).toBeNull();
  });

  it('stays silent with too little history and forgets withdrawals older than the window', () => {
    const thin = historyOf(amounts.slice(0, 9));
    expect(unusualAmount(withdrawal({ amount: 10n ** 30n }), context({ history: thin }), S)).toBeNull();
    const ancient = historyOf(amounts, NOW - 200 * DAY_MS); // all before the 90-100 day window
    expect(historyView(ancient, NOW).count).toBe(0);
    expect(unusualAmount(withdrawal({ amount: 10n ** 30n }), context({ history: ancient }), S)).toBeNull();
  });
});

describe('velocity', () => {
  it('without hourly history fires at the minimum count (5), not at 4', () => {
    expect(velocity(withdrawal(), context({ lastHour: { count: 4, amount: 0n } }), S)?.name).toBe('velocity');
    expect(velocity(withdrawal(), context({ lastHour: { count: 3, amount: 0n } }), S)).toBeNull();
  });

  it('against a customer who normally makes 4 withdrawals an hour, fires above 12', () => {
    let h = emptyHistory();
    const t0 = NOW - 20 * DAY_MS;
    for (let hour = 0; hour < 30; hour++) for (let k = 0; k < 4; k++) h = historyRecord(h, 100n, t0 + hour * DAY_MS + k * 60_000);
    expect(velocity(withdrawal({ amount: 100n }), context({ history: h, lastHour: { count: 12, amount: 1200n } }), S)?.name).toBe('velocity');
    expect(velocity(withdrawal({ amount: 100n }), context({ history: h, lastHour: { count: 11, amount: 1100n } }), S)).toBeNull();
  });

  it('fires on the value of the hour against the normal hourly value', () => {
    let h = emptyHistory();
    const t0 = NOW - 20 * DAY_MS;
    for (let hour = 0; hour < 30; hour++) h = historyRecord(h, 1000n, t0 + hour * DAY_MS);
    const med = histogramQuantile(historyView(h, NOW).hourAmounts, 50)!;
    const limit = (med.upper - 1n) * 3n;
    const ctx = (amount: bigint) => context({ history: h, lastHour: { count: 1, amount } });
    expect(velocity(withdrawal({ amount: 1000n }), ctx(limit - 1000n + 1n), S)?.message).toMatch(/value/);
    expect(velocity(withdrawal({ amount: 1000n }), ctx(limit - 1000n), S)).toBeNull();
  });
});

describe('balance_share', () => {
  it('fires at 50 % of the balance, not just below, and not when the balance is unknown', () => {
    expect(balanceShare(withdrawal({ amount: 500n }), context({ balance: 1000n }), S)?.name).toBe('balance_share');
    expect(balanceShare(withdrawal({ amount: 499n }), context({ balance: 1000n }), S)).toBeNull();
    expect(balanceShare(withdrawal({ amount: 1n }), context({ balance: 0n }), S)?.name).toBe('balance_share');
    expect(balanceShare(withdrawal({ amount: 10n ** 20n }), context({ balance: null }), S)).toBeNull();
  });
});

describe('recent_security_change', () => {
  it('fires within 48 h of a credential or whitelist change, not at 48 h', () => {
    const at = (c: number | null, l: number | null) => context({ security: { credentialsChangedAt: c, whitelistChangedAt: l } });
    expect(recentSecurityChange(withdrawal(), at(NOW - 48 * HOUR_MS + 1, null), S)?.message).toMatch(/credentials/);
    expect(recentSecurityChange(withdrawal(), at(null, NOW - 48 * HOUR_MS + 1), S)?.message).toMatch(/whitelist/);
    expect(recentSecurityChange(withdrawal(), at(NOW - 48 * HOUR_MS, NOW - 48 * HOUR_MS), S)).toBeNull();
  });
});

describe('lookalike_destination (address poisoning)', () => {
  const real = '0xabcd5a1c8e2b7f00112233445566778899001234';
  const poison = '0xABCD000000000000000000000000000000001234';
  it('fires for a different address with the same first 4 and last 4 characters', () => {
    expect(looksAlike('ethereum', real, poison, 4, 4)).toBe(true);
    expect(lookAlikeKey('ethereum', real, 4, 4)).toBe(lookAlikeKey('ethereum', poison, 4, 4));
    const ctx = context({ destination: null, similarDestinations: [used(real)] });
    expect(lookalikeDestination(withdrawal({ to: poison }), ctx, S)?.message).toMatch(/starts and ends like/);
  });

  it('does not fire for the same address (any case) or when only 3 leading characters match', () => {
    expect(lookalikeDestination(withdrawal({ to: real.toUpperCase().replace('0X', '0x') }), context({ similarDestinations: [used(real)] }), S)).toBeNull();
    const near = '0xabce000000000000000000000000000000001234';
    expect(lookalikeDestination(withdrawal({ to: near }), context({ similarDestinations: [used(real)] }), S)).toBeNull();
    const tail = '0xabcd000000000000000000000000000000001235';
    expect(lookalikeDestination(withdrawal({ to: tail }), context({ similarDestinations: [used(real)] }), S)).toBeNull();
  });

  it('compares bech32 addresses after the shared bc1q prefix', () => {
    const a = 'bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4';
    const b = 'bc1qw508xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxv8f3t4';
    expect(looksAlike('bitcoin', a, b, 4, 4)).toBe(true);
    expect(looksAlike('bitcoin', 'bc1qAAAA' + 'x'.repeat(30) + 'zzzz', 'bc1qAAAB' + 'y'.repeat(30) + 'zzzz', 4, 4)).toBe(false);
  });
});

describe('dust_amount', () => {
  const dusty: RiskSettings = { ...S, dust: { ETH: 1000n } };
  it('fires strictly below the dust limit, only for assets with a limit', () => {
    expect(dustAmount(withdrawal({ amount: 999n }), context(), dusty)?.name).toBe('dust_amount');
    expect(dustAmount(withdrawal({ amount: 1000n }), context(), dusty)).toBeNull();
    expect(dustAmount(withdrawal({ amount: 1n, asset: 'USDC' }), context(), dusty)).toBeNull();
  });
});

describe('evaluateRisk routing', () => {
  it('passes a routine withdrawal with no reasons', () => {
    const d = evaluateRisk(withdrawal(), context(), S);
    expect(d).toMatchObject({ stage: 'risk', outcome: 'pass', score: 0, route: 'approve', reasons: [] });
  });

  it('sums weights: new destination (20) + recent change (25) = 45 → review; reasons carry weights', () => {
    const d = evaluateRisk(withdrawal(), context({ destination: null, security: { credentialsChangedAt: NOW - 1, whitelistChangedAt: null } }), S);
    expect(d.score).toBe(45);
    expect(d.outcome).toBe('review');
    expect(d.reasons.map((r) => [r.code, r.weight])).toEqual([['new_destination', 20], ['recent_security_change', 25]]);
    expect(d.reasons.every((r) => r.message.endsWith('.'))).toBe(true);
  });

  it('score at the block threshold blocks; one below reviews', () => {
    const ctx = context({ destination: null, similarDestinations: [used('0x2222000000000000000000000000000000002222')] });
    expect(evaluateRisk(withdrawal(), ctx, S).score).toBe(80); // 20 + 60
    expect(evaluateRisk(withdrawal(), ctx, { ...S, thresholds: { review: 40, block: 80 } }).outcome).toBe('block');
    expect(evaluateRisk(withdrawal(), ctx, { ...S, thresholds: { review: 40, block: 81 } }).outcome).toBe('review');
  });
});
