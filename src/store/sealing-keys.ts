/**
 * The key-release service's wrapped sealing keys in the database (`enclave_sealing_keys`,
 * migration 007): one blob per node, wrapped under the HSM's root KEK, inserted once and never
 * updated. Implements the `SealingKeyStore` of src/enclave/sealing-key-store.ts, so several
 * key-release instances can share it (the JSON file belongs to one process).
 *
 * @example
 *   const store = new SqlSealingKeyStore(db);
 *   const { wrapped, created } = await store.putIfAbsent('node-1', await hsm.generateWrappedSecret(kek, 32), clock.now());
 */
import type { SealingKeyStore } from '../enclave/sealing-key-store.js';
import type { Queryable } from './db.js';

function bytes(v: unknown): Uint8Array {
  if (v instanceof Uint8Array) return Uint8Array.from(v);
  throw new TypeError('enclave_sealing_keys.wrapped is not bytes');
}

export class SqlSealingKeyStore implements SealingKeyStore {
  constructor(private readonly q: Queryable) {}

  async get(nodeId: string): Promise<Uint8Array | undefined> {
    const [row] = await this.q.query<{ wrapped: unknown }>('SELECT wrapped FROM enclave_sealing_keys WHERE node_id = $1', [nodeId]);
    return row ? bytes(row.wrapped) : undefined;
  }

  async list(): Promise<string[]> {
    const rows = await this.q.query<{ node_id: string }>('SELECT node_id FROM enclave_sealing_keys ORDER BY node_id COLLATE "C"');
    return rows.map((r) => r.node_id);
  }

  async putIfAbsent(nodeId: string, wrapped: Uint8Array, enrolledAt: number): Promise<{ wrapped: Uint8Array; created: boolean }> {
    const inserted = await this.q.query<{ wrapped: unknown }>(
      'INSERT INTO enclave_sealing_keys (node_id, wrapped, enrolled_at) VALUES ($1, $2, $3) ON CONFLICT (node_id) DO NOTHING RETURNING wrapped',
      [nodeId, Buffer.from(wrapped), new Date(enrolledAt).toISOString()],
    );
    if (inserted[0]) return { wrapped: bytes(inserted[0].wrapped), created: true };
    const existing = await this.get(nodeId);
    if (!existing) throw new Error(`the sealing key of ${nodeId} was neither inserted nor found`);
    return { wrapped: existing, created: false };
  }
}
