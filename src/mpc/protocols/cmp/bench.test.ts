import { describe, expect, it } from 'vitest';
import { benchModexp } from '../../bigint/index.js';
import { benchCmp } from './bench.js';
import { SAFE_PRIMES } from './testdata/fixtures.js';

describe.skipIf(!process.env.CUSTOS_BENCH)('benchCmp (set CUSTOS_BENCH=1: runs keygen, aux, presign and sign for 3-of-5)', () => {
  it('reports every phase', async () => {
    const fresh = process.env.CUSTOS_BENCH === 'fresh-primes';
    const cpu0 = process.cpuUsage();
    const r = await benchCmp({ parties: 5, threshold: 3, primes: fresh ? undefined : SAFE_PRIMES.slice(0, 10) });
    const cpu = process.cpuUsage(cpu0);
    console.log('BENCH', JSON.stringify({ ...r, ...benchModexp({ iterations: 3 }), process_cpu_s: (cpu.user + cpu.system) / 1e6 }));
    for (const v of Object.values(r)) expect(v).toBeGreaterThanOrEqual(0);
    expect(r.ecdsa_presign_s).toBeGreaterThan(0);
  }, 900_000);
});
