/**
 * Value in the reference currency. The price source is data: the orchestrator passes the latest
 * quote it holds for the asset (from whatever feed the operator configured), and the policy says
 * how old a quote may be. Conversion rounds up, so a cap or an approval tier is never passed by
 * rounding. No floats: a quote is reference-currency base units per one whole asset unit.
 *
 * @example
 *   // 1 ETH = 3000.00 USD (2 decimals): refPerUnit = 300000n
 *   toReference(15n * 10n ** 17n, 18, { asset: 'ETH', refPerUnit: 300_000n, at: now }) === 450_000n
 */
export interface PriceQuote {
  asset: string;
  refPerUnit: bigint; // reference-currency base units for 1 whole unit (10^decimals base units)
  at: number; // ms since epoch when the quote was observed
}

export function toReference(amount: bigint, decimals: number, quote: PriceQuote): bigint {
  const scale = 10n ** BigInt(decimals);
  const product = amount * quote.refPerUnit;
  return (product + scale - 1n) / scale;
}

/** A quote is usable when it is for this asset, positive, not from the future and at most maxAge old. */
export function quoteUsable(quote: PriceQuote | null, asset: string, now: number, maxAgeSeconds: number): quote is PriceQuote {
  return quote !== null && quote.asset === asset && quote.refPerUnit > 0n && quote.at <= now && now - quote.at <= maxAgeSeconds * 1000;
}
