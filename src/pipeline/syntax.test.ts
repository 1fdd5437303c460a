/**
 * Stage 1, syntax, as a pure function: one table row per reason code, hostile amount strings,
 * fee bounds and default, nonce sequencing, and several failures collected at once.
 */
import { describe, expect, it } from 'vitest';
import type { Account, Asset } from '../store/accounts.js';
import { STARTER_ASSETS } from '../store/seed.js';
import { syntaxStage, type SyntaxContext, type WithdrawalRequest } from './syntax.js';

const asset = (symbol: string): Asset => {
  const a = STARTER_ASSETS.find((x) => x.symbol === symbol);
  if (!a) throw new Error(symbol);
  return a;
};
const ETH = asset('ETH'); // 18 decimals, fee 21000 gwei .. 0.01 ETH, default 630000 gwei
const USDC = asset('USDC'); // 6 decimals
const BTC = asset('BTC'); // 8 decimals, fee 150 .. 100000 sat, default 2000 sat
const SOL = asset('SOL');

const account = (a: Asset, balance: bigint, nextNonce = 0n, reserved = 0n): Account => ({
  id: `hot-${a.symbol.toLowerCase()}`,
  chain: a.chain,
  asset: a.symbol,
  address: 'x',
  balance,
  reserved,
  nextNonce,
});

const ctx = {
  eth: { asset: ETH, account: account(ETH, 10n * 10n ** 18n, 7n) },
  usdc: { asset: USDC, account: account(USDC, 1_000n * 10n ** 6n, 3n), feeAccount: account(ETH, 10n * 10n ** 18n, 7n) },
  btc: { asset: BTC, account: account(BTC, 2n * 10n ** 8n) },
  sol: { asset: SOL, account: account(SOL, 100n * 10n ** 9n) },
} satisfies Record<string, SyntaxContext>;

// Valid addresses: EIP-55 spec examples, BIP-173/BIP-350 vectors, a Solana on-curve key.
const ETH_TO = '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed';
const BTC_TO = 'bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4';
const SOL_TO = '83astBRguLMdt2h5U1Tpdq5tjFoJ6noeGwaY3mDLVcri';

const eth = (over: Partial<WithdrawalRequest> = {}): WithdrawalRequest => ({ chain: 'ethereum', asset: 'ETH', to: ETH_TO, amount: '1', ...over });
const btc = (over: Partial<WithdrawalRequest> = {}): WithdrawalRequest => ({ chain: 'bitcoin', asset: 'BTC', to: BTC_TO, amount: '0.1', ...over });
const sol = (over: Partial<WithdrawalRequest> = {}): WithdrawalRequest => ({ chain: 'solana', asset: 'SOL', to: SOL_TO, amount: '1', ...over });

const codes = (req: WithdrawalRequest, c: SyntaxContext) => {
  const r = syntaxStage(req, c);
  for (const reason of r.decision.reasons) expect(reason.message.length).toBeGreaterThan(10);
  return r.decision.outcome === 'pass' ? [] : r.decision.reasons.map((x) => x.code);
};

describe('syntaxStage: well-formed requests pass', () => {
  it.each([
    ['ethereum', eth(), ctx.eth],
    ['ethereum, all-lowercase address', eth({ to: ETH_TO.toLowerCase() }), ctx.eth],
    ['USDC at its 6 decimals', eth({ asset: 'USDC', amount: '999.999999' }), ctx.usdc],
    ['bitcoin bech32 upper case', btc({ to: BTC_TO.toUpperCase() }), ctx.btc],
    ['bitcoin P2PKH', btc({ to: '1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2' }), ctx.btc],
    ['bitcoin taproot (bech32m)', btc({ to: 'bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0' }), ctx.btc],
    ['solana', sol(), ctx.sol],
    ['trailing zeros beyond the decimals', eth({ amount: '1.000000000000000000000' }), ctx.eth],
    ['the whole balance less the default fee (the fee is paid in ETH too)', eth({ amount: '9.99937' }), ctx.eth],
    ['the whole balance of a token (its fee is paid from the ETH account)', eth({ asset: 'USDC', amount: '1000' }), ctx.usdc],
    ['exactly what withdrawals in flight left available', btc({ amount: '0.4999', fee: '0.0001' }), { asset: BTC, account: account(BTC, 2n * 10n ** 8n, 0n, 150_000_000n) }],
  ] as const)('%s', (_label, req, c) => {
    const r = syntaxStage(req, c);
    expect(r.decision).toEqual({ stage: 'syntax', outcome: 'pass', reasons: [expect.objectContaining({ code: 'syntax_ok' })] });
  });

  it('normalises the destination and the amount, and takes the next nonce on ethereum only', () => {
    const r = syntaxStage(eth({ to: ETH_TO.toLowerCase(), amount: '1.5' }), ctx.eth);
    expect(r.to).toBe(ETH_TO);
    expect(r.amount).toBe(15n * 10n ** 17n);
    expect(r.nonce).toBe(7n);
    const b = syntaxStage(btc({ to: BTC_TO.toUpperCase(), amount: '0.00000001' }), ctx.btc);
    expect(b.to).toBe(BTC_TO);
    expect(b.amount).toBe(1n);
    expect(b.nonce).toBeNull();
  });

  it('an absent fee is filled from the fee policy default; a supplied one is parsed exactly', () => {
    expect(syntaxStage(eth(), ctx.eth).fee).toBe(ETH.defaultFee);
    expect(syntaxStage(btc(), ctx.btc).fee).toBe(2_000n);
    expect(syntaxStage(sol(), ctx.sol).fee).toBe(5_000n);
    expect(syntaxStage(btc({ fee: '0.00002' }), ctx.btc).fee).toBe(2_000n);
    // USDC fees are paid in ETH (fee decimals 18), not in USDC's 6 decimals.
    expect(syntaxStage(eth({ asset: 'USDC', fee: '0.000065000000000001' }), ctx.usdc).fee).toBe(65_000n * 10n ** 9n + 1n);
  });

  it('fees exactly at the minimum and at the cap pass', () => {
    expect(codes(btc({ fee: '0.0000015' }), ctx.btc)).toEqual([]);
    expect(codes(btc({ fee: '0.001' }), ctx.btc)).toEqual([]);
    expect(codes(eth({ fee: '0.000021' }), ctx.eth)).toEqual([]);
    expect(codes(eth({ fee: '0.01' }), ctx.eth)).toEqual([]);
  });
});

describe('syntaxStage: each reason code', () => {
  it.each([
    ['asset_unknown', eth({ asset: 'DOGE' }), { asset: null, account: null }, ['asset_unknown']],
    ['account_unknown', eth(), { asset: ETH, account: null }, ['account_unknown']],
    ['address_checksum (EIP-55 mixed case, one letter flipped)', eth({ to: '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD' }), ctx.eth, ['address_checksum']],
    ['address_format (no 0x)', eth({ to: '5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed' }), ctx.eth, ['address_format']],
    ['address_format (39 hex digits)', eth({ to: ETH_TO.slice(0, 41) }), ctx.eth, ['address_format']],
    ['address_zero', eth({ to: '0x0000000000000000000000000000000000000000' }), ctx.eth, ['address_zero']],
    ['address_too_long', eth({ to: `${ETH_TO}0` }), ctx.eth, ['address_too_long']],
    ['address_empty', eth({ to: '' }), ctx.eth, ['address_empty']],
    ['address_whitespace (leading space)', eth({ to: ` ${ETH_TO}` }), ctx.eth, ['address_whitespace']],
    ['address_whitespace (trailing newline)', btc({ to: `${BTC_TO}\n` }), ctx.btc, ['address_whitespace']],
    ['address_control_character', sol({ to: `${SOL_TO.slice(0, 20)}\u0000${SOL_TO.slice(21)}` }), ctx.sol, ['address_control_character']],
    ['address_non_ascii (Cyrillic а in bech32)', btc({ to: 'bc1qаr0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq' }), ctx.btc, ['address_non_ascii']],
    ['address_non_ascii (Greek Α in hex)', eth({ to: '0x5\u0391Aeb6053F3E94C9b9A09f33669435E7Ef1BeAed' }), ctx.eth, ['address_non_ascii']],
    ['address_non_ascii (zero-width space)', sol({ to: `${SOL_TO.slice(0, 10)}\u200b${SOL_TO.slice(10, 43)}` }), ctx.sol, ['address_non_ascii']],
    ['address_non_ascii (full-width digit)', eth({ to: '0x５aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed' }), ctx.eth, ['address_non_ascii']],
    ['address_checksum (bech32 typo)', btc({ to: 'bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5' }), ctx.btc, ['address_checksum']],
    ['address_network (testnet address on mainnet)', btc({ to: 'tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx' }), ctx.btc, ['address_network']],
    ['address_witness_version (v1 in bech32, BIP-350 invalid vector)', btc({ to: 'bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd' }), ctx.btc, ['address_witness_version']],
    ['address_format (ethereum address on solana)', sol({ to: ETH_TO }), ctx.sol, ['address_format']],
    ['amount_invalid (negative)', eth({ amount: '-1' }), ctx.eth, ['amount_invalid']],
    ['amount_invalid (exponent 1e5)', eth({ amount: '1e5' }), ctx.eth, ['amount_invalid']],
    ['amount_invalid (leading space)', eth({ amount: ' 1' }), ctx.eth, ['amount_invalid']],
    ['amount_invalid (trailing space)', eth({ amount: '1 ' }), ctx.eth, ['amount_invalid']],
    ['amount_invalid (hex 0x10)', eth({ amount: '0x10' }), ctx.eth, ['amount_invalid']],
    ['amount_invalid (empty)', eth({ amount: '' }), ctx.eth, ['amount_invalid']],
    ['amount_invalid (plus sign)', eth({ amount: '+1' }), ctx.eth, ['amount_invalid']],
    ['amount_invalid (leading zero 01)', eth({ amount: '01' }), ctx.eth, ['amount_invalid']],
    ['amount_invalid (bare point .5)', eth({ amount: '.5' }), ctx.eth, ['amount_invalid']],
    ['amount_invalid (trailing point 1.)', eth({ amount: '1.' }), ctx.eth, ['amount_invalid']],
    ['amount_invalid (decimal comma)', eth({ amount: '1,5' }), ctx.eth, ['amount_invalid']],
    ['amount_invalid (thousands separator)', eth({ amount: '1_000' }), ctx.eth, ['amount_invalid']],
    ['amount_invalid (Arabic-Indic digit)', eth({ amount: '\u0661' }), ctx.eth, ['amount_invalid']],
    ['amount_invalid (full-width digit)', eth({ amount: '\uff11' }), ctx.eth, ['amount_invalid']],
    ['amount_invalid (Infinity)', eth({ amount: 'Infinity' }), ctx.eth, ['amount_invalid']],
    ['amount_invalid (NaN)', eth({ amount: 'NaN' }), ctx.eth, ['amount_invalid']],
    ['amount_invalid (101 characters)', eth({ amount: `0.${'0'.repeat(98)}1` }), ctx.eth, ['amount_invalid']],
    ['amount_invalid (101 digits, huge)', eth({ amount: '9'.repeat(101) }), ctx.eth, ['amount_invalid']],
    ['amount_too_precise (19 decimals of ETH)', eth({ amount: '0.0000000000000000001' }), ctx.eth, ['amount_too_precise']],
    ['amount_too_precise (7 decimals of USDC)', eth({ asset: 'USDC', amount: '10.0000001' }), ctx.usdc, ['amount_too_precise']],
    ['amount_too_precise (9 decimals of BTC)', btc({ amount: '0.000000001' }), ctx.btc, ['amount_too_precise']],
    ['amount_zero', eth({ amount: '0' }), ctx.eth, ['amount_zero']],
    ['amount_zero (0.000)', btc({ amount: '0.000' }), ctx.btc, ['amount_zero']],
    ['amount_exceeds_balance (one wei over)', eth({ amount: '10.000000000000000001' }), ctx.eth, ['amount_exceeds_balance']],
    ['amount_exceeds_balance (100 digits)', eth({ amount: '9'.repeat(100) }), ctx.eth, ['amount_exceeds_balance']],
    ['amount_exceeds_balance (the whole ETH balance leaves nothing for the fee)', eth({ amount: '10' }), ctx.eth, ['amount_exceeds_balance']],
    ['amount_exceeds_balance (one satoshi over what withdrawals in flight left)', btc({ amount: '0.4999', fee: '0.00010001' }), { asset: BTC, account: account(BTC, 2n * 10n ** 8n, 0n, 150_000_000n) }, ['amount_exceeds_balance']],
    ['fee_exceeds_balance (a token\'s fee, paid from the ETH wallet, all of whose ETH is held)', eth({ asset: 'USDC', amount: '1' }), { ...ctx.usdc, feeAccount: account(ETH, 10n ** 18n, 7n, 10n ** 18n - 1n) }, ['fee_exceeds_balance']],
    ['fee_account_unknown (a token without a native wallet to pay its fee)', eth({ asset: 'USDC', amount: '1' }), { asset: USDC, account: ctx.usdc.account }, ['fee_account_unknown']],
    ['amount_exceeds_balance (all of it held)', sol({ amount: '0.000000001' }), { asset: SOL, account: account(SOL, 10n ** 9n, 0n, 10n ** 9n) }, ['amount_exceeds_balance']],
    ['fee_too_low', btc({ fee: '0.00000149' }), ctx.btc, ['fee_too_low']],
    ['fee_too_low (zero)', eth({ fee: '0' }), ctx.eth, ['fee_too_low']],
    ['fee_too_high (fee drain)', btc({ fee: '0.5' }), ctx.btc, ['fee_too_high']],
    ['fee_too_high (one unit over the cap)', eth({ fee: '0.010000000000000001' }), ctx.eth, ['fee_too_high']],
    ['fee_invalid', btc({ fee: '-0.0001' }), ctx.btc, ['fee_invalid']],
    ['fee_invalid (exponent)', btc({ fee: '2e-5' }), ctx.btc, ['fee_invalid']],
    ['fee_too_precise', btc({ fee: '0.000020001' }), ctx.btc, ['fee_too_precise']],
    ['nonce_out_of_sequence (ahead)', eth({ nonce: 8 }), ctx.eth, ['nonce_out_of_sequence']],
    ['nonce_out_of_sequence (behind)', eth({ nonce: 6 }), ctx.eth, ['nonce_out_of_sequence']],
    ['nonce_out_of_sequence (zero)', eth({ nonce: 0 }), ctx.eth, ['nonce_out_of_sequence']],
    ['nonce_not_applicable (bitcoin)', btc({ nonce: 0 }), ctx.btc, ['nonce_not_applicable']],
    ['nonce_not_applicable (solana)', sol({ nonce: 3 }), ctx.sol, ['nonce_not_applicable']],
  ] as [string, WithdrawalRequest, SyntaxContext, string[]][])('%s', (_label, req, c, expected) => {
    const r = syntaxStage(req, c);
    expect(r.decision.stage).toBe('syntax');
    expect(r.decision.outcome).toBe('reject');
    expect(r.decision.reasons.map((x) => x.code)).toEqual(expected);
    expect(r.nonce).toBeNull(); // a rejected withdrawal takes no nonce
  });

  it('the next nonce, supplied by the client, passes', () => {
    const r = syntaxStage(eth({ nonce: 7 }), ctx.eth);
    expect(r.decision.outcome).toBe('pass');
    expect(r.nonce).toBe(7n);
  });

  it('collects every failure, in a stable order', () => {
    const r = syntaxStage(
      eth({ to: '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD', amount: '0', fee: '1', nonce: 99 }),
      ctx.eth,
    );
    expect(r.decision.reasons.map((x) => x.code)).toEqual(['address_checksum', 'amount_zero', 'fee_too_high', 'nonce_out_of_sequence']);
    const b = syntaxStage(btc({ to: 'tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx', amount: '3', fee: '0.0000000001', nonce: 1 }), ctx.btc);
    expect(b.decision.reasons.map((x) => x.code)).toEqual(['address_network', 'amount_exceeds_balance', 'fee_too_precise', 'nonce_not_applicable']);
    const c = syntaxStage(eth({ amount: '1e5', fee: '0x10' }), { asset: ETH, account: null });
    expect(c.decision.reasons.map((x) => x.code)).toEqual(['amount_invalid', 'account_unknown', 'fee_invalid']);
  });

  it('messages name the problem without echoing hostile input at length', () => {
    const r = syntaxStage(eth({ amount: '9'.repeat(101) }), ctx.eth);
    const message = r.decision.reasons[0]?.message ?? '';
    expect(message).not.toContain('9'.repeat(101));
    expect(message.length).toBeLessThan(200);
  });

  it('is pure: the same input gives the same output and the context is not changed', () => {
    const c = { asset: { ...ETH }, account: account(ETH, 5n * 10n ** 18n, 3n) };
    const snapshot = JSON.stringify(c, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
    const a = syntaxStage(eth({ amount: '2' }), c);
    const b = syntaxStage(eth({ amount: '2' }), c);
    expect(a).toEqual(b);
    expect(JSON.stringify(c, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))).toBe(snapshot);
  });
});
