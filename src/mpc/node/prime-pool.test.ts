/**
 * The real path of a node's safe primes (no test fixtures): a CGGMP21 key generation that finds the
 * pool empty makes one pair first (OpenSSL, off the event loop); TEST-ONLY fixture primes are
 * refused on a node that gets its sealing key through key release.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { afterAll, describe, expect, it } from 'vitest';
import { manualClock } from '../../core/clock.js';
import { isSafePrime } from '../bigint/index.js';
import { SAFE_PRIMES } from '../protocols/cmp/testdata/fixtures.js';
import { publicIdentity } from '../transport/identity.js';
import { rawMessageDigest } from './authorization.js';
import { mpcNodeMain } from './process.js';
import { NodeService } from './service.js';
import { NodeStore } from './store.js';

const rng = (n: number) => new Uint8Array(randomBytes(n));
const base = mkdtempSync(join(tmpdir(), 'custos-primes-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

describe('safe-prime pool', () => {
  it('generates a pair when a CGGMP21 key generation finds the pool empty, once, and hands each pair out once', async () => {
    const store = NodeStore.open({ dir: join(base, 'n1'), nodeId: 'n1', passphrase: 'test passphrase', rng, kdfCost: { N: 1 << 10, r: 8, p: 1 } });
    const node = new NodeService({
      store, clock: manualClock(1), rng, deriveDigest: rawMessageDigest,
      config: { peers: [publicIdentity(store.identity)], policyPublicKey: bytesToHex(ed25519.getPublicKey(rng(32))), minApprovals: 0 },
    });
    const body = { kind: 'dkg', session: bytesToHex(rng(32)), keyId: 'e', scheme: 'ecdsa', threshold: 2, parties: ['n1', 'n2'] };
    await node.prepareSession({ kind: 'dkg', scheme: 'ed25519' }); // FROST needs none
    expect(store.primePairs()).toEqual({ generated: 0, testFixture: 0 });
    await Promise.all([node.prepareSession(body), node.prepareSession(body)]); // concurrent starts share one generation
    expect(store.primePairs()).toEqual({ generated: 1, testFixture: 0 });
    const pair = store.takePrimePair();
    expect(pair?.source).toBe('generated');
    expect(isSafePrime(pair?.p as bigint) && isSafePrime(pair?.q as bigint)).toBe(true);
    expect(store.takePrimePair()).toBeUndefined();
    // a pair this node used before is never taken into the pool again
    expect(store.addPrimePairs([{ p: pair?.p as bigint, q: pair?.q as bigint }], 'generated')).toBe(0);
    expect(node.addTestOnlyPrimes([{ p: SAFE_PRIMES[0] as bigint, q: SAFE_PRIMES[1] as bigint }])).toBe(1);
    expect(() => node.addTestOnlyPrimes([{ p: (SAFE_PRIMES[2] as bigint) + 2n, q: SAFE_PRIMES[3] as bigint }])).toThrow(expect.objectContaining({ code: 'node_bad_primes' }));
  }, 60_000);

  it('refuses TEST-ONLY primes on a node that gets its sealing key through key release', async () => {
    const saved = { ...process.env };
    process.env.CUSTOS_NODE_TEST_SAFE_PRIMES = join(base, 'primes.json');
    process.env.CUSTOS_KEY_RELEASE_URL = 'http://127.0.0.1:9';
    try {
      await expect(mpcNodeMain({ id: 'n1', dataDir: join(base, 'n1'), port: 0 })).rejects.toMatchObject({ code: 'node_bad_config' });
    } finally {
      process.env.CUSTOS_NODE_TEST_SAFE_PRIMES = saved.CUSTOS_NODE_TEST_SAFE_PRIMES;
      process.env.CUSTOS_KEY_RELEASE_URL = saved.CUSTOS_KEY_RELEASE_URL;
      if (saved.CUSTOS_NODE_TEST_SAFE_PRIMES === undefined) delete process.env.CUSTOS_NODE_TEST_SAFE_PRIMES;
      if (saved.CUSTOS_KEY_RELEASE_URL === undefined) delete process.env.CUSTOS_KEY_RELEASE_URL;
    }
  });
});
