/**
 * The node service in one process (no HTTP): three nodes, the test plays the relay.
 */
import { approvalKeyId, approvalSigningBytes, encodeApprovalToken } from '../../hsm/approval-token.js';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, concatBytes, hexToBytes } from '@noble/hashes/utils.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../../core/clock.js';
import type { Envelope } from '../transport/envelope.js';
import { publicIdentity } from '../transport/identity.js';
import { signApprovalsFor } from '../../approvals/authorization.js';
import { rawMessageDigest, signAuthorization } from './authorization.js';
import { NodeService, type SessionStep } from './service.js';
import { JOURNAL_FILE, NodeStore, STORE_FILE } from './store.js';
import { thrownCode as code } from '../../core/test-helpers/thrown-code.js';

const rng = (n: number) => new Uint8Array(randomBytes(n));
const kdfCost = { N: 1 << 10, r: 8, p: 1 };
const policySecret = rng(32);
const alice = { approver: 'alice', secretKey: rng(32) };
const clock = manualClock(1_000_000);
const ids = ['n1', 'n2', 'n3'];
let base: string;
let nodes: Map<string, NodeService>;
let stores: Map<string, NodeStore>;
const session = () => bytesToHex(rng(32));

function service(id: string, store: NodeStore): NodeService {
  return new NodeService({
    store, clock, rng, deriveDigest: rawMessageDigest,
    config: { peers: [...stores.values()].map((s) => publicIdentity(s.identity)), policyPublicKey: bytesToHex(ed25519.getPublicKey(policySecret)), minApprovals: 1,
      approverKeys: [{ approver: 'alice', publicKey: bytesToHex(ed25519.getPublicKey(alice.secretKey)) }] },
  });
}

/** Relays until every participant is done; `inspect` sees each node's answer as it comes. */
function relay(parts: string[], body: (id: string) => unknown, inspect?: (id: string, step: SessionStep) => void): Map<string, SessionStep> {
  let answers = new Map(parts.map((id) => [id, (nodes.get(id) as NodeService).startSession(body(id))]));
  const sid = (body(parts[0] as string) as { session: string }).session;
  const last = new Map<string, SessionStep>();
  for (let i = 0; i < 8; i++) {
    const wire: Envelope[] = [...answers.values()].flatMap((a) => a.envelopes);
    for (const [id, a] of answers) if (a.done) last.set(id, a);
    const pending = parts.filter((p) => !last.has(p));
    if (pending.length === 0) return last;
    answers = new Map(pending.map((id) => {
      const step = (nodes.get(id) as NodeService).advance(sid, { envelopes: wire.filter((e) => e.from !== id && (e.to === null || e.to === id)) });
      inspect?.(id, step);
      return [id, step];
    }));
  }
  throw new Error('did not finish');
}

function authorization(message: Uint8Array, withdrawalId: string) {
  const withdrawal = { id: withdrawalId, customerId: 'acme', chain: 'solana', asset: 'SOL', to: 'x', amount: '1', fee: '5000', memo: null, createdAt: 1 };
  return signAuthorization({
    withdrawalId, keyId: 'k', chain: 'solana', unsignedTx: bytesToHex(message), digest: bytesToHex(message), to: 'x', amount: '1',
    policyVersion: 1, withdrawal, approvals: signApprovalsFor(withdrawal, 1, [alice], { at: 2, expiresAt: 3 }), expiresAt: clock.now() + 60_000,
  }, policySecret);
}

beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), 'custos-node-svc-'));
  stores = new Map(ids.map((id) => [id, NodeStore.open({ dir: join(base, id), nodeId: id, passphrase: 'test passphrase', rng, kdfCost })]));
  nodes = new Map(ids.map((id) => [id, service(id, stores.get(id) as NodeStore)]));
  const s = session();
  relay(ids, () => ({ kind: 'dkg', session: s, keyId: 'k', scheme: 'ed25519', threshold: 2, parties: ids }));
});
afterAll(() => rmSync(base, { recursive: true, force: true }));

function fields(payload: Uint8Array): Uint8Array[] {
  const v = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const out: Uint8Array[] = [];
  let off = 4;
  for (let k = 0; k < v.getUint32(0); k++) {
    const len = v.getUint32(off);
    out.push(payload.subarray(off + 4, off + 4 + len));
    off += 4 + len;
  }
  return out;
}

/** Nonce ids spent on disk: in the store file, or in the journal that holds the hot-path writes. */
const spent = (id: string): string[] => {
  const inStore = (JSON.parse(readFileSync(join(base, id, STORE_FILE), 'utf8')) as { nonces: string[] }).nonces;
  const journal = join(base, id, JOURNAL_FILE);
  const inJournal = existsSync(journal)
    ? readFileSync(journal, 'utf8').split('\n').filter(Boolean).flatMap((l) => (JSON.parse(l) as { spent?: string[] }).spent ?? [])
    : [];
  return [...inStore, ...inJournal];
};

describe('NodeService', () => {
  it('marks the nonce spent on disk before the share leaves; records the withdrawal as signed; refuses it after a restart', () => {
    const msg = rng(64);
    const s = session();
    const body = { kind: 'sign', session: s, keyId: 'k', signers: ['n1', 'n2'], authorization: authorization(msg, 'wd-durable') };
    const n1 = nodes.get('n1') as NodeService;
    const n2 = nodes.get('n2') as NodeService;
    const a1 = n1.startSession(body);
    const a2 = n2.startSession(body);
    const [, , D, E] = fields(hexToBytes(a1.envelopes[0]?.payload as string));
    const nonce = bytesToHex(sha256(concatBytes(D as Uint8Array, E as Uint8Array)));
    expect(spent('n1')).not.toContain(nonce);
    const b1 = n1.advance(s, { envelopes: a2.envelopes });
    expect(b1.envelopes).toHaveLength(1); // the share
    expect(spent('n1')).toContain(nonce); // already on disk when the share was returned
    const b2 = n2.advance(s, { envelopes: a1.envelopes });
    const c1 = n1.advance(s, { envelopes: b2.envelopes });
    const c2 = n2.advance(s, { envelopes: b1.envelopes });
    expect(c1.done && c2.done).toBe(true);
    const sig = c1.result as { signature: string; publicKey: string };
    expect(ed25519.verify(hexToBytes(sig.signature), msg, hexToBytes(sig.publicKey))).toBe(true);
    // nothing any node answered carries a secret share
    const shares = ids.map((id) => ((stores.get(id) as NodeStore).keyShare('k') as { signingShare: string }).signingShare);
    const wire = JSON.stringify([a1, a2, b1, b2, c1, c2]);
    for (const sh of shares) expect(wire).not.toContain(sh);
    // restart n1 from disk: the withdrawal stays signed
    (stores.get('n1') as NodeStore).close();
    const reopened = NodeStore.open({ dir: join(base, 'n1'), nodeId: 'n1', passphrase: 'test passphrase', rng });
    stores.set('n1', reopened);
    const again = service('n1', reopened);
    expect(code(() => again.startSession({ ...body, session: session() }))).toBe('withdrawal_already_signed');
    expect(code(() => again.startSession(body))).toBe('withdrawal_already_signed');
    nodes.set('n1', again);
  });

  it('a node whose value tier requires an HSM approval token refuses an authorization without one, or with a token for another withdrawal', () => {
    const hsmSecret = rng(32);
    const store = stores.get('n3') as NodeStore;
    const strict = new NodeService({
      store, clock, rng, deriveDigest: rawMessageDigest,
      config: {
        peers: [...stores.values()].map((x) => publicIdentity(x.identity)), policyPublicKey: bytesToHex(ed25519.getPublicKey(policySecret)), minApprovals: 1,
        approverKeys: [{ approver: 'alice', publicKey: bytesToHex(ed25519.getPublicKey(alice.secretKey)) }],
        valueTiers: [{ asset: 'SOL', atLeast: '1', hsmApproval: true }],
        hsmApprovalKeys: [{ algorithm: 'ed25519', publicKey: bytesToHex(ed25519.getPublicKey(hsmSecret)) }],
      },
    });
    const body = (auth: unknown) => ({ kind: 'sign', session: session(), keyId: 'k', signers: ['n1', 'n3'], authorization: auth });
    expect(code(() => strict.startSession(body(authorization(rng(32), 'wd-hsm'))))).toBe('authorization_hsm_approval_required');
    // a real token, but for another withdrawal: the policy key signs it into this authorization, the node still refuses
    const other = { withdrawalId: 'wd-other', withdrawalDigest: 'ab'.repeat(32), asset: 'SOL', amount: 1n, destination: 'x', policyVersion: 1,
      approvers: ['alice'], issuedAt: clock.now(), expiresAt: clock.now() + 60_000 };
    const tokenForOther = encodeApprovalToken({ v: 1, algorithm: 'ed25519', keyId: approvalKeyId(ed25519.getPublicKey(hsmSecret)), payload: other,
      signature: ed25519.sign(approvalSigningBytes(other), hsmSecret) });
    const a = authorization(rng(32), 'wd-hsm');
    const withOther = signAuthorization({ ...a.authorization, hsmToken: tokenForOther }, policySecret);
    expect(code(() => strict.startSession(body(withOther)))).toBe('authorization_hsm_approval_invalid');
    expect(store.withdrawal('wd-hsm')).toBeFalsy(); // nothing recorded for a refused authorization
  });

  it('lets an aborted withdrawal be retried with the same transaction only, and never reuses a session id', () => {
    const msg = rng(32);
    const s = session();
    const n2 = nodes.get('n2') as NodeService;
    const n3 = nodes.get('n3') as NodeService;
    const body = { kind: 'sign', session: s, keyId: 'k', signers: ['n2', 'n3'], authorization: authorization(msg, 'wd-retry') };
    n2.startSession(body); // its peer never answers: the session is abandoned
    expect(code(() => n3.startSession(body))).toBe('accepted');
    expect(code(() => n2.startSession(body))).toBe('node_session_exists');
    expect(code(() => n2.startSession({ ...body, authorization: authorization(rng(32), 'wd-retry'), session: session() }))).toBe('withdrawal_digest_conflict');
    const s2 = session();
    const done = relay(['n2', 'n3'], () => ({ ...body, session: s2 }));
    expect([...done.values()].every((d) => d.done)).toBe(true);
    expect((stores.get('n2') as NodeStore).withdrawal('wd-retry')).toMatchObject({ state: 'signed', attempts: 2 });
  });

  it('refuses an envelope replayed from another session and ends the session it was relayed into', () => {
    const s1 = session();
    const s2 = session();
    const n2 = nodes.get('n2') as NodeService;
    const n3 = nodes.get('n3') as NodeService;
    const mk = (sid: string, wd: string) => ({ kind: 'sign', session: sid, keyId: 'k', signers: ['n2', 'n3'], authorization: authorization(rng(16), wd) });
    const old = n3.startSession(mk(s1, 'wd-a'));
    n2.startSession(mk(s2, 'wd-b'));
    expect(code(() => n2.advance(s2, { envelopes: old.envelopes }))).toBe('envelope_wrong_session');
    expect(code(() => n2.advance(s2, { envelopes: [] }))).toBe('node_unknown_session');
  });

  it('keeps a refreshed share pending until committed; a refresh that did not finish everywhere changes nothing', () => {
    const s = session();
    const done = relay(ids, () => ({ kind: 'refresh', session: s, keyId: 'k' }));
    expect([...done.values()].map((d) => d.result?.generation)).toEqual([1, 1, 1]);
    const n2 = nodes.get('n2') as NodeService;
    expect(n2.key('k').generation).toBe(0);
    expect(n2.health().keys).toEqual([{ keyId: 'k', generation: 0, pending: 1 }]);
    // the old generation still signs
    const sign = (wd: string, signers: string[]) => {
      const auth = authorization(rng(20), wd);
      return relay(signers, () => ({ kind: 'sign', session: sig, keyId: 'k', signers, authorization: auth }));
    };
    let sig = session();
    expect([...sign('wd-gen0', ['n2', 'n3']).values()].every((d) => d.done)).toBe(true);
    expect(code(() => n2.commitRefresh('k', { generation: 2 }))).toBe('node_no_pending_refresh');
    for (const id of ids) expect((nodes.get(id) as NodeService).commitRefresh('k', { generation: 1 })).toEqual({ keyId: 'k', generation: 1 });
    expect((nodes.get('n3') as NodeService).commitRefresh('k', { generation: 1 })).toEqual({ keyId: 'k', generation: 1 }); // idempotent
    expect(n2.health().keys).toEqual([{ keyId: 'k', generation: 1 }]);
    sig = session();
    expect([...sign('wd-gen1', ['n2', 'n3']).values()].every((d) => d.done)).toBe(true);
    // a refresh that only some nodes finish leaves nothing to commit on the others
    const s2 = session();
    (nodes.get('n1') as NodeService).startSession({ kind: 'refresh', session: s2, keyId: 'k' });
    expect(code(() => (nodes.get('n1') as NodeService).commitRefresh('k', { generation: 2 }))).toBe('node_no_pending_refresh');
  });

  it('refuses to join anything when unprovisioned, and refuses unknown peers and session kinds', () => {
    const dir = join(base, 'lonely');
    const store = NodeStore.open({ dir, nodeId: 'n9', passphrase: 'test passphrase', rng, kdfCost });
    const lonely = new NodeService({ store, config: null, clock, rng, deriveDigest: rawMessageDigest });
    expect(lonely.health()).toMatchObject({ status: 'unprovisioned' });
    expect(code(() => lonely.startSession({ kind: 'dkg', session: session(), keyId: 'k2', scheme: 'ed25519', threshold: 2, parties: ['n1', 'n9'] })))
      .toBe('node_not_provisioned');
    const n2 = nodes.get('n2') as NodeService;
    expect(code(() => n2.startSession({ kind: 'dkg', session: session(), keyId: 'k2', scheme: 'ed25519', threshold: 2, parties: ['n2', 'n9'] })))
      .toBe('node_unknown_peer');
    expect(code(() => n2.startSession({ kind: 'sign-raw', session: session(), keyId: 'k' }))).toBe('node_bad_request');
    // CGGMP21 key generation needs a safe-prime pair, which only the HTTP shell's prepareSession makes
    expect(code(() => n2.startSession({ kind: 'dkg', session: session(), keyId: 'k2', scheme: 'ecdsa', threshold: 2, parties: ['n1', 'n2'] })))
      .toBe('node_no_primes');
    expect(code(() => n2.startSession({ kind: 'dkg', session: session(), keyId: 'k3', scheme: 'rsa', threshold: 2, parties: ['n1', 'n2'] })))
      .toBe('node_bad_request');
  });
});
