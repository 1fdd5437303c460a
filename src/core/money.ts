/**
 * Money is a bigint count of base units (wei, satoshi, lamport). Decimal strings are parsed
 * exactly; there are no floats on the money path.
 *
 * @example
 *   parseAmount('1.5', 18) === 1_500_000_000_000_000_000n
 *   formatAmount(150_000_000n, 8) === '1.5'
 */
import { CustosError } from './errors.js';

const DECIMAL = /^(0|[1-9][0-9]*)(\.[0-9]+)?$/;
/** Longest decimal string accepted; keeps BigInt parsing bounded on hostile input. */
export const MAX_AMOUNT_CHARS = 100;

export function parseAmount(text: string, decimals: number, field = 'amount'): bigint {
  if (typeof text !== 'string' || text.length === 0 || text.length > MAX_AMOUNT_CHARS || !DECIMAL.test(text)) {
    throw new CustosError(`${field}_invalid`, `${field} must be a plain decimal string such as "1.25"`, 422);
  }
  const [whole = '0', frac0 = ''] = text.split('.');
  const frac = frac0.replace(/0+$/, '');
  if (frac.length > decimals) {
    throw new CustosError(`${field}_too_precise`, `${field} has more than ${decimals} decimal places`, 422);
  }
  return BigInt(whole) * 10n ** BigInt(decimals) + BigInt(frac.padEnd(decimals, '0') || '0');
}

export function formatAmount(units: bigint, decimals: number): string {
  const neg = units < 0n;
  const abs = neg ? -units : units;
  const scale = 10n ** BigInt(decimals);
  const whole = abs / scale;
  const frac = (abs % scale).toString().padStart(decimals, '0').replace(/0+$/, '');
  return `${neg ? '-' : ''}${whole}${frac ? `.${frac}` : ''}`;
}
