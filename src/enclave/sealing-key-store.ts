import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { KeyReleaseError } from './key-release-errors.js';

/**
 * Where the key-release service keeps each node's sealing key, wrapped under the HSM's root KEK
 * (never in plaintext). Only the HSM that holds the KEK can turn a blob back into a key.
 */
export interface SealingKeyStore {
  get(nodeId: string): Promise<Uint8Array | undefined>;
  /** Stores `wrapped` unless the node already has a blob; returns the blob that is stored now. */
  putIfAbsent(nodeId: string, wrapped: Uint8Array, enrolledAt: number): Promise<{ wrapped: Uint8Array; created: boolean }>;
  /** Node ids with a sealing key, sorted. */
  list(): Promise<string[]>;
}

const FORMAT = 'custos-sealing-keys/1';
const MAX_FILE_BYTES = 16 * 1024 * 1024;

interface FileShape {
  format: typeof FORMAT;
  nodes: Record<string, { wrapped: string; enrolledAt: number }>;
}

/**
 * A JSON file of wrapped sealing keys (`<dataDir>/key-release/sealing-keys.json`, mode 0600),
 * rewritten atomically (temporary file + rename) and serialised inside the process. One
 * key-release service process owns the file; a second service needs its own store or PostgreSQL.
 *
 * @example
 *   const store = new JsonFileSealingKeyStore('.custos/key-release/sealing-keys.json');
 *   const { wrapped, created } = await store.putIfAbsent('node-1', await hsm.generateWrappedSecret(kek, 32), clock.now());
 */
export class JsonFileSealingKeyStore implements SealingKeyStore {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(readonly file: string) {}

  async get(nodeId: string): Promise<Uint8Array | undefined> {
    const entry = this.read().nodes[nodeId];
    return entry ? new Uint8Array(Buffer.from(entry.wrapped, 'base64')) : undefined;
  }

  async list(): Promise<string[]> {
    return Object.keys(this.read().nodes).sort();
  }

  putIfAbsent(nodeId: string, wrapped: Uint8Array, enrolledAt: number): Promise<{ wrapped: Uint8Array; created: boolean }> {
    const run = this.queue.then(() => {
      const data = this.read();
      const existing = data.nodes[nodeId];
      if (existing) return { wrapped: new Uint8Array(Buffer.from(existing.wrapped, 'base64')), created: false };
      data.nodes[nodeId] = { wrapped: Buffer.from(wrapped).toString('base64'), enrolledAt };
      this.write(data);
      return { wrapped: Uint8Array.from(wrapped), created: true };
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  private read(): FileShape {
    if (!existsSync(this.file)) return { format: FORMAT, nodes: {} };
    const text = readFileSync(this.file);
    if (text.length > MAX_FILE_BYTES) throw new KeyReleaseError('key_release_unavailable', 'the sealing-key store is larger than expected');
    let data: unknown;
    try {
      data = JSON.parse(text.toString('utf8'));
    } catch {
      throw new KeyReleaseError('key_release_unavailable', 'the sealing-key store is not valid JSON');
    }
    if (!isShape(data)) throw new KeyReleaseError('key_release_unavailable', 'the sealing-key store does not have the expected format');
    return data;
  }

  private write(data: FileShape): void {
    mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.${randomBytes(6).toString('hex')}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(data, null, 2)}\n`, { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, this.file);
  }
}

/** In-memory store (tests, single-run tools). */
export class MemorySealingKeyStore implements SealingKeyStore {
  private readonly nodes = new Map<string, Uint8Array>();

  async get(nodeId: string): Promise<Uint8Array | undefined> {
    const v = this.nodes.get(nodeId);
    return v ? Uint8Array.from(v) : undefined;
  }

  async list(): Promise<string[]> {
    return [...this.nodes.keys()].sort();
  }

  async putIfAbsent(nodeId: string, wrapped: Uint8Array, _enrolledAt?: number): Promise<{ wrapped: Uint8Array; created: boolean }> {
    const existing = this.nodes.get(nodeId);
    if (existing) return { wrapped: Uint8Array.from(existing), created: false };
    this.nodes.set(nodeId, Uint8Array.from(wrapped));
    return { wrapped: Uint8Array.from(wrapped), created: true };
  }
}

function isShape(v: unknown): v is FileShape {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  if (o.format !== FORMAT || typeof o.nodes !== 'object' || o.nodes === null || Array.isArray(o.nodes)) return false;
  return Object.values(o.nodes as Record<string, unknown>).every((e) => {
    const r = e as Record<string, unknown> | null;
    return typeof r === 'object' && r !== null && typeof r.wrapped === 'string' && Number.isSafeInteger(r.enrolledAt);
  });
}
