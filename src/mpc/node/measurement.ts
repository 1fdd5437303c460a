/**
 * What a signing node's development enclave measures (its PCR0): the code the node process runs
 * (the static module graph of its entry script, `moduleGraphEntries`, own files byte for byte,
 * dependencies by their package.json) and its configuration (the node id, the provisioned
 * `node-config.json` when there is one, and a test hook when one is set). One changed byte in
 * any of them is another measurement, which the signed allowlist then does not list, so key
 * release refuses it. The cluster helper computes the same value to put on the allowlist.
 *
 * A node without `node-config.json` (enrolment: before its peers are pinned) has its own
 * measurement; it can obtain its key and create its identity but signs nothing (`node_not_provisioned`).
 *
 * @example
 *   const pcr0 = measureNodeImage({ entry: process.argv[1]!, nodeId: 'node-1', dataDir });
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { measureEntries, type MeasuredEntry } from '../../enclave/measure.js';
import { moduleGraphEntries, packageRoot } from '../../enclave/module-graph.js';

export interface NodeImage {
  /** The script the node process runs (`bin/custos.js` or `dist/mpc/node/bin.js`). */
  readonly entry: string;
  readonly nodeId: string;
  /** The node's data directory (where `node-config.json` lives). */
  readonly dataDir: string;
  /** `CUSTOS_NODE_TEST_HOOK` when set: a node that misbehaves on purpose is another image. */
  readonly testHook?: string | undefined;
  /** The install root the code is named relative to (default: the nearest package.json above the entry). */
  readonly root?: string;
}

/** The provisioned configuration file in a node's data directory (measured). */
export const CONFIG_FILE = 'node-config.json';

/** The measured entries of a node image (code, then configuration), see the module comment. */
export function nodeImageEntries(image: NodeImage): MeasuredEntry[] {
  const entry = resolve(image.entry);
  const root = image.root ?? packageRoot(dirname(entry));
  const code = moduleGraphEntries(entry, { root });
  const utf8 = new TextEncoder();
  const config = join(image.dataDir, CONFIG_FILE);
  return [
    ...code,
    { name: 'custos-node:id', content: utf8.encode(image.nodeId) },
    ...(existsSync(config) ? [{ name: `custos-node:${CONFIG_FILE}`, content: new Uint8Array(readFileSync(config)) }] : []),
    ...(image.testHook ? [{ name: 'custos-node:test-hook', content: utf8.encode(image.testHook) }] : []),
  ];
}

/** PCR0 of the node image: SHA-384 over `nodeImageEntries` (see `measureEntries`). */
export function measureNodeImage(image: NodeImage): Uint8Array {
  return measureEntries(nodeImageEntries(image));
}
