// Test fixtures for src/policy: a valid policy document, admin keys derived from fixed seeds, and
// a withdrawal factory. Not part of the build (tsconfig.build.json excludes test-helpers).
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import type { Withdrawal } from '../../core/withdrawal.js';

export const NOW = Date.UTC(2026, 10, 24, 12, 0, 0);

/** Deterministic admin keys: seed i is 32 bytes of value i. */
export function adminKey(i: number): { id: string; secretKey: Uint8Array; publicKey: Uint8Array } {
  const secretKey = new Uint8Array(32).fill(i);
  return { id: `admin-${i}`, secretKey, publicKey: ed25519.getPublicKey(secretKey) };
}

export const ADMINS = [1, 2, 3, 4].map(adminKey);

/** A complete, valid document (plain JSON as an operator would write it). */
export function policyJSON(): Record<string, unknown> {
  return {
    version: 1,
    referenceCurrency: { code: 'USD', decimals: 2 },
    assets: {
      ETH: { chain: 'ethereum', decimals: 18 },
      BTC: { chain: 'bitcoin', decimals: 8 },
      USDC: { chain: 'ethereum', decimals: 6 },
    },
    prices: { maxAgeSeconds: 300 },
    risk: {
      weights: { new_destination: 20 },
      thresholds: { review: 40, block: 90 },
      params: { recentChangeHours: 48 },
      dust: { ETH: '0.00001', BTC: '0.00000546' },
    },
    limits: {
      default: {
        perAsset: {
          ETH: { perTransaction: '10', rolling24h: '20', calendarDay: '15', velocity: [{ windowMinutes: 60, maxCount: 3, maxAmount: '12' }] },
          BTC: { perTransaction: '1' },
        },
        perAssetReference: { ETH: { calendarDay: '50000' } },
        total: { rolling24h: '100000' },
      },
      customers: {
        vip: { perAsset: { ETH: { perTransaction: '100', rolling24h: '100', calendarDay: '100', velocity: [] } } },
        mid: { perAsset: { ETH: { perTransaction: '12' } } },
      },
    },
    whitelist: { coolingHours: 24, mode: 'any', customers: { strict: 'whitelisted_only' } },
    approvals: {
      approvers: ['alice', 'bob', 'carol'],
      tiers: [
        { fromReference: '0', quorum: 0 },
        { fromReference: '10000', quorum: 1 },
        { fromReference: '25000', quorum: 2 },
      ],
      hsmFromReference: '40000',
      expiryHours: 24,
    },
    governance: { quorum: 2, admins: Object.fromEntries(ADMINS.map((a) => [a.id, bytesToHex(a.publicKey)])) },
  };
}

export function withdrawal(over: Partial<Withdrawal> = {}): Withdrawal {
  return {
    id: 'w1',
    customerId: 'c1',
    credentialId: 'k1',
    accountId: 'a1',
    chain: 'ethereum',
    asset: 'ETH',
    to: '0x2222222222222222222222222222222222222222',
    amount: 10n ** 18n,
    fee: 1n,
    nonce: 0n,
    memo: null,
    status: 'received',
    decisions: [],
    idempotencyKey: 'i1',
    createdAt: NOW,
    updatedAt: NOW,
    ...over,
  };
}
