/**
 * The CGGMP21 driver through the node service in one process (no HTTP): three nodes, 2-of-3, the
 * test plays the relay. Safe primes come from the public test fixtures (TEST-ONLY provisioning).
 */
import { createPublicKey, randomBytes, verify as osslVerify } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { ed25519 } from '@noble/curves/ed25519.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../../core/clock.js';
import { SAFE_PRIMES } from '../protocols/cmp/testdata/fixtures.js';
import type { Envelope } from '../transport/envelope.js';
import { publicIdentity } from '../transport/identity.js';
import { rawMessageDigest, signAuthorization } from './authorization.js';
import { LOCK_FILE } from './dir-lock.js';
import { NodeService, type SessionStep } from './service.js';
import { JOURNAL_FILE, NodeStore, STORE_FILE } from './store.js';
import { thrownCode as code } from '../../core/test-helpers/thrown-code.js';

const rng = (n: number) => new Uint8Array(randomBytes(n));
const kdfCost = { N: 1 << 10, r: 8, p: 1 };
const policySecret = rng(32);
const clock = manualClock(1_000_000);
const ids = ['n1', 'n2', 'n3'];
let base: string;
let nodes: Map<string, NodeService>;
let stores: Map<string, NodeStore>;
let publicKey: string;
const session = () => bytesToHex(rng(32));

function service(id: string, store: NodeStore): NodeService {
  return new NodeService({
    store, clock, rng, deriveDigest: rawMessageDigest,
    config: { peers: [...stores.values()].map((s) => publicIdentity(s.identity)), policyPublicKey: bytesToHex(ed25519.getPublicKey(policySecret)), minApprovals: 0 },
  });
}

function relay(parts: string[], body: (id: string) => unknown): Map<string, SessionStep> {
  let answers = new Map(parts.map((id) => [id, (nodes.get(id) as NodeService).startSession(body(id))]));
  const sid = (body(parts[0] as string) as { session: string }).session;
  const last = new Map<string, SessionStep>();
  for (let i = 0; i < 10; i++) {
    const wire: Envelope[] = [...answers.values()].flatMap((a) => a.envelopes);
    for (const [id, a] of answers) if (a.done) last.set(id, a);
    const pending = parts.filter((p) => !last.has(p));
    if (pending.length === 0) return last;
    answers = new Map(pending.map((id) => [id, (nodes.get(id) as NodeService).advance(sid, { envelopes: wire.filter((e) => e.from !== id && (e.to === null || e.to === id)) })]));
  }
  throw new Error('did not finish');
}

/** A policy-signed authorization with no approvals (these nodes require none: minApprovals 0). */
function authorization(digest: Uint8Array, withdrawalId: string) {
  const a = {
    withdrawalId, keyId: 'e', chain: 'ethereum', unsignedTx: bytesToHex(digest), digest: bytesToHex(digest), to: 'x', amount: '1',
    policyVersion: 1, approvals: [], expiresAt: clock.now() + 60_000,
    withdrawal: { id: withdrawalId, customerId: 'c', chain: 'ethereum', asset: 'ETH', to: 'x', amount: '1', fee: null, memo: null, createdAt: 1 },
  };
  return signAuthorization(a as Parameters<typeof signAuthorization>[0], policySecret);
}

function presign(signers: string[]): string {
  const s = session();
  const done = relay(signers, () => ({ kind: 'presign', session: s, keyId: 'e', signers }));
  const rs = new Set([...done.values()].map((d) => d.result?.R));
  expect(rs.size).toBe(1);
  return s;
}


/** OpenSSL (node:crypto) verifies the signature over sha256(message) under the threshold key. */
function opensslVerify(publicKeyHex: string, message: Uint8Array, compact: Uint8Array): boolean {
  const p = secp256k1.Point.fromHex(publicKeyHex).toAffine();
  const b64 = (x: bigint) => Buffer.from(x.toString(16).padStart(64, '0'), 'hex').toString('base64url');
  const key = createPublicKey({ key: { kty: 'EC', crv: 'secp256k1', x: b64(p.x), y: b64(p.y) }, format: 'jwk' });
  return osslVerify('sha256', message, { key, dsaEncoding: 'ieee-p1363' }, compact);
}

beforeAll(async () => {
  base = mkdtempSync(join(tmpdir(), 'custos-node-cmp-'));
  stores = new Map(ids.map((id) => [id, NodeStore.open({ dir: join(base, id), nodeId: id, passphrase: 'test passphrase', rng, kdfCost })]));
  nodes = new Map(ids.map((id) => [id, service(id, stores.get(id) as NodeStore)]));
  // TEST-ONLY: two fixture pairs per node (keygen + one refresh)
  ids.forEach((id, i) => {
    const pair = (k: number) => ({ p: SAFE_PRIMES[2 * k] as bigint, q: SAFE_PRIMES[2 * k + 1] as bigint });
    expect((nodes.get(id) as NodeService).addTestOnlyPrimes([pair(i), pair(i + 3)])).toBe(2);
  });
  const s = session();
  const body = { kind: 'dkg', session: s, keyId: 'e', scheme: 'ecdsa', threshold: 2, parties: ids };
  for (const id of ids) await (nodes.get(id) as NodeService).prepareSession(body); // the pool holds primes: nothing to generate
  const done = relay(ids, () => body);
  const keys = new Set([...done.values()].map((d) => d.result?.publicKey));
  expect(keys.size).toBe(1);
  publicKey = [...keys][0] as string;
}, 120_000);
afterAll(() => rmSync(base, { recursive: true, force: true }));

describe('CGGMP21 through the node service', () => {
  it('generates a 2-of-3 key with aux info in one session; the record is a secp256k1 key, the share is sealed', () => {
    expect(publicKey).toMatch(/^0[23][0-9a-f]{64}$/);
    const rec = (nodes.get('n1') as NodeService).key('e');
    expect(rec).toMatchObject({ protocol: 'cmp', suite: 'secp256k1', threshold: 2, generation: 0, parties: ids });
    const share = ((stores.get('n1') as NodeStore).keyShare('e') as { share: { share: string; aux: { p: string } } }).share;
    const file = readFileSync(join(base, 'n1', STORE_FILE), 'utf8');
    expect(file).not.toContain(share.share);
    expect(file).not.toContain(share.aux.p);
    expect((stores.get('n1') as NodeStore).primePairs()).toEqual({ generated: 0, testFixture: 1 });
  });

  it('presigns, then signs in one round from the presignature: noble and OpenSSL verify; the presignature is spent on disk first', () => {
    const pre = presign(['n1', 'n3']);
    expect((stores.get('n1') as NodeStore).listPresignatures('e').map((p) => p.id)).toEqual([pre]);
    const message = rng(100);
    const digest = sha256(message);
    const s = session();
    const body = { kind: 'sign', session: s, keyId: 'e', signers: ['n1', 'n3'], authorization: authorization(digest, 'wd-1'), presignature: pre };
    const a1 = (nodes.get('n1') as NodeService).startSession(body);
    // σ_1 is out: the spend is already on disk (the store's journal, fdatasync'd), and a node
    // opened from the files right now no longer has the presignature
    const journal = readFileSync(join(base, 'n1', JOURNAL_FILE), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { spent?: string[]; dropPresignature?: string });
    expect(journal.some((e) => e.spent?.includes(`presig:${pre}`) && e.dropPresignature === pre)).toBe(true);
    const copy = mkdtempSync(join(tmpdir(), 'custos-node-cmp-copy-'));
    // (not the lock this process holds on n1: a crashed node's lock names a dead process)
    cpSync(join(base, 'n1'), copy, { recursive: true, filter: (f) => !basename(f).startsWith(LOCK_FILE) });
    const crashed = NodeStore.open({ dir: copy, nodeId: 'n1', passphrase: 'test passphrase', rng });
    expect(crashed.getPresignature(pre)).toBeUndefined();
    expect(crashed.isNonceSpent(`presig:${pre}`)).toBe(true);
    crashed.close();
    rmSync(copy, { recursive: true, force: true });
    expect(a1.envelopes).toHaveLength(1);
    const a3 = (nodes.get('n3') as NodeService).startSession(body);
    const r1 = (nodes.get('n1') as NodeService).advance(s, { envelopes: a3.envelopes });
    const r3 = (nodes.get('n3') as NodeService).advance(s, { envelopes: a1.envelopes });
    expect(r1.done && r3.done).toBe(true);
    const sig = r1.result as { signature: string; publicKey: string; recovery: number };
    expect(r3.result?.signature).toBe(sig.signature);
    expect(sig.publicKey).toBe(publicKey);
    const compact = hexToBytes(sig.signature);
    expect(secp256k1.verify(compact, digest, hexToBytes(publicKey), { prehash: false, lowS: true })).toBe(true);
    expect(opensslVerify(publicKey, message, compact)).toBe(true);
    const recovered = secp256k1.Signature.fromBytes(compact, 'compact').addRecoveryBit(sig.recovery).recoverPublicKey(digest).toHex(true);
    expect(recovered).toBe(publicKey);
    // the same presignature cannot sign again, not even for another withdrawal
    const again = { ...body, session: session(), authorization: authorization(rng(32), 'wd-2') };
    expect(code(() => (nodes.get('n1') as NodeService).startSession(again))).toBe('node_unknown_presignature');
    expect(code(() => (nodes.get('n3') as NodeService).startSession(again))).toBe('node_unknown_presignature');
  });

  it('refuses signing without a presignature, with one of another signer set, and presigning for non-holders', () => {
    const pre = presign(['n2', 'n3']);
    const digest = rng(32);
    const body = { kind: 'sign', session: session(), keyId: 'e', signers: ['n1', 'n2'], authorization: authorization(digest, 'wd-3') };
    expect(code(() => (nodes.get('n2') as NodeService).startSession(body))).toBe('node_bad_request');
    expect(code(() => (nodes.get('n2') as NodeService).startSession({ ...body, session: session(), presignature: pre }))).toBe('node_bad_signers');
    expect(code(() => (nodes.get('n2') as NodeService).startSession({ kind: 'presign', session: session(), keyId: 'e', signers: ['n2', 'n9'] }))).toBe('node_bad_signers');
    // the refused attempts spent nothing
    expect((stores.get('n2') as NodeStore).getPresignature(pre)).toBeDefined();
  });

  it('a presignature is never handed out twice, even to a node restarted from disk', () => {
    const pre = presign(['n1', 'n2']);
    const store = stores.get('n1') as NodeStore;
    expect(store.consumePresignature(pre)).toBeDefined();
    // no second process (or second open) beside the running node: a restart closes the store first
    expect(code(() => NodeStore.open({ dir: join(base, 'n1'), nodeId: 'n1', passphrase: 'test passphrase', rng }))).toBe('node_dir_locked');
    store.close();
    const reopened = NodeStore.open({ dir: join(base, 'n1'), nodeId: 'n1', passphrase: 'test passphrase', rng });
    expect(reopened.getPresignature(pre)).toBeUndefined();
    expect(reopened.consumePresignature(pre)).toBeUndefined();
    stores.set('n1', reopened);
    nodes.set('n1', service('n1', reopened));
  });

  it('refreshes (two-phase): same public key, new generation, old presignatures dropped on commit, signing works', async () => {
    const old = presign(['n1', 'n2']);
    const s = session();
    const body = { kind: 'refresh', session: s, keyId: 'e' };
    for (const id of ids) await (nodes.get(id) as NodeService).prepareSession(body);
    const done = relay(ids, () => body);
    expect([...done.values()].map((d) => [d.result?.publicKey, d.result?.generation])).toEqual(ids.map(() => [publicKey, 1]));
    expect((nodes.get('n1') as NodeService).key('e').generation).toBe(0); // pending until committed
    for (const id of ids) (nodes.get(id) as NodeService).commitRefresh('e', { generation: 1 });
    expect((stores.get('n1') as NodeStore).getPresignature(old)).toBeUndefined();
    const pre = presign(['n2', 'n3']);
    const digest = rng(32);
    const sign = { kind: 'sign', session: session(), keyId: 'e', signers: ['n2', 'n3'], authorization: authorization(digest, 'wd-4'), presignature: pre };
    const r = relay(['n2', 'n3'], () => sign);
    const sig = r.get('n2')?.result as { signature: string };
    expect(secp256k1.verify(hexToBytes(sig.signature), digest, hexToBytes(publicKey), { prehash: false })).toBe(true);
    // the prime pool is empty now: a further refresh would generate primes (not done here)
    expect((stores.get('n2') as NodeStore).primePairs()).toEqual({ generated: 0, testFixture: 0 });
  }, 120_000);

  it('names a node that sends a bad presigning proof (identifiable abort)', () => {
    const evil = new NodeService({
      store: stores.get('n3') as NodeStore, clock, rng, deriveDigest: rawMessageDigest, testHook: 'corrupt-presign-proof',
      config: { peers: [...stores.values()].map((x) => publicIdentity(x.identity)), policyPublicKey: bytesToHex(ed25519.getPublicKey(policySecret)), minApprovals: 0 },
    });
    const honest = nodes.get('n3') as NodeService;
    nodes.set('n3', evil);
    try {
      const s = session();
      const err = (() => {
        try {
          relay(['n1', 'n3'], () => ({ kind: 'presign', session: s, keyId: 'e', signers: ['n1', 'n3'] }));
        } catch (e) {
          return e as { code: string; culprits: string[] };
        }
        return null;
      })();
      expect(err?.code).toBe('cmp_bad_proof');
      expect(err?.culprits).toEqual(['n3']);
    } finally {
      nodes.set('n3', honest);
    }
  });
});
