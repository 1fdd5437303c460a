import { describe, expect, it } from 'vitest';
import { benchModexp } from './bench.js';

describe('benchModexp', () => {
  it('reports a positive time for every path', () => {
    const r = benchModexp({ iterations: 1 });
    if (process.env.CUSTOS_PRINT_BENCH) console.log(JSON.stringify(r));
    for (const v of Object.values(r)) expect(v).toBeGreaterThan(0);
  });
});
