import { describe, expect, it } from 'vitest';
import { benchChainTx } from './bench.js';

describe('benchChainTx', () => {
  it('runs every chain end to end and reports a time for each', () => {
    const r = benchChainTx({ iterations: 3 });
    expect(r.iterations).toBe(3);
    for (const v of [r.ethereum_tx_p50_ms, r.bitcoin_p2wpkh_tx_p50_ms, r.bitcoin_p2tr_tx_p50_ms, r.solana_tx_p50_ms]) {
      expect(Number.isFinite(v) && v > 0).toBe(true);
    }
  });
});
