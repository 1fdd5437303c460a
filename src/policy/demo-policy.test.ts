import { describe, expect, it } from 'vitest';
import { bytesToHex } from '@noble/hashes/utils.js';
import { evaluateRisk } from '../risk/evaluate.js';
import { emptyHistory, historyRecord } from '../risk/history.js';
import { SanctionsIndex } from '../risk/sanctions.js';
import { demoPolicyDocument } from './demo-policy.js';
import { parsePolicy } from './document.js';
import { MemoryCounters } from './test-helpers/counters.js';
import { ADMINS, NOW, withdrawal } from './test-helpers/fixture.js';

const policy = parsePolicy(demoPolicyDocument({ admins: Object.fromEntries(ADMINS.slice(0, 3).map((a) => [a.id, bytesToHex(a.publicKey)])), approvers: ['alice', 'bob', 'carol'] }));
const eth = { asset: 'ETH', refPerUnit: 300_000n, at: NOW }; // 3000 USD

describe('demo policy', () => {
  it('a large transfer to a new address goes to review and needs 2 of 3 approvals', () => {
    let history = emptyHistory();
    for (let i = 0; i < 20; i++) history = historyRecord(history, 10n ** 17n, NOW - (30 - i) * 86_400_000); // 0.1 ETH usually
    const w = withdrawal({ amount: 5n * 10n ** 18n }); // 15,000 USD
    const risk = evaluateRisk(w, {
      now: NOW, destination: null, similarDestinations: [], history, lastHour: { count: 0, amount: 0n }, balance: null,
      security: { credentialsChangedAt: null, whitelistChangedAt: null }, sanctions: new SanctionsIndex(),
    }, policy.risk);
    expect(risk.outcome).toBe('review');
    expect(risk.reasons.map((r) => r.code)).toEqual(['new_destination', 'unusual_amount']);
    const rules = new MemoryCounters().submit(w, policy, NOW, eth);
    expect(rules.outcome).toBe('pass');
    expect(rules.approval).toMatchObject({ quorum: 2, eligible: ['alice', 'bob', 'carol'], requiresHsm: false });
  });

  it('a small transfer needs no approval', () => {
    expect(new MemoryCounters().submit(withdrawal({ amount: 10n ** 18n }), policy, NOW, eth).approval.quorum).toBe(0);
  });
});
