/**
 * TEST-ONLY provisioning of a node's safe-prime pool from a JSON file (`CUSTOS_NODE_TEST_SAFE_PRIMES`),
 * so that process-level tests of CGGMP21 key generation do not spend seconds of CPU generating
 * 1024-bit safe primes in every node. The file holds public fixture primes
 * (`src/mpc/protocols/cmp/testdata/safe-primes-1024.json`): a key made from them is not secret.
 * Without the variable a node generates its own primes (`NodeService.prepareSession`).
 *
 * File format: `{ "pairs": [["<p hex>", "<q hex>"], …] }`.
 *
 * @example
 *   CUSTOS_NODE_TEST_SAFE_PRIMES=/tmp/node-1-primes.json custos mpc-node --id node-1 …
 *   // prints: TEST-ONLY safe primes: 2 pairs added from /tmp/node-1-primes.json (public fixture material: never for real keys)
 */
import { readFileSync } from 'node:fs';
import { CustosError } from '../../core/errors.js';
import type { NodeService } from './service.js';

/** Parses the file and adds its pairs; returns the line the node prints. */
export function loadTestOnlySafePrimes(service: Pick<NodeService, 'addTestOnlyPrimes'>, path: string): string {
  let pairs: { p: bigint; q: bigint }[];
  try {
    const o = JSON.parse(readFileSync(path, 'utf8')) as { pairs?: unknown };
    if (!Array.isArray(o.pairs)) throw new Error('no pairs');
    pairs = o.pairs.map((x: unknown) => {
      if (!Array.isArray(x) || x.length !== 2 || !x.every((h) => typeof h === 'string' && /^[0-9a-f]{256}$/.test(h))) throw new Error('bad pair');
      return { p: BigInt(`0x${x[0] as string}`), q: BigInt(`0x${x[1] as string}`) };
    });
  } catch {
    throw new CustosError('node_bad_primes', `${path} must hold { "pairs": [[p, q], …] } with 1024-bit hex primes`);
  }
  const added = service.addTestOnlyPrimes(pairs);
  return `TEST-ONLY safe primes: ${added} pair(s) added from ${path} (public fixture material: never for real keys)`;
}
