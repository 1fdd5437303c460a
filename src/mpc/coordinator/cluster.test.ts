/**
 * The signing system as it runs: five `custos mpc-node` processes (dist/mpc/node/bin.js, the same
 * code as `custos mpc-node`) on loopback, driven by the coordinator in this process. Needs
 * `npm run build` first (skipped otherwise).
 */
import { createPublicKey, randomBytes, verify as osslVerify } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ed25519 } from '@noble/curves/ed25519.js';
import { schnorr } from '@noble/curves/secp256k1.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { registerMpcCommands } from '../../cli/mpc-commands.js';
import { signApprovalsFor } from '../../approvals/authorization.js';
import { signAuthorization, type SigningAuthorization, type SignedAuthorization } from '../node/authorization.js';
import { NodeStore } from '../node/store.js';
import { benchFrostCluster } from './bench.js';
import { NodeClient } from './client.js';
import { runSession } from './session.js';
import { Coordinator, type CulpritAlert, type KeyInfo } from './coordinator.js';
import { defaultNodeEntry, startLocalCluster, type LocalCluster } from './local-cluster.js';

const built = existsSync(defaultNodeEntry());
if (!built) console.warn('src/mpc/coordinator/cluster.test.ts: dist/ is missing; run `npm run build` first (skipped)');

const policySecret = new Uint8Array(randomBytes(32));
const policyPublicKey = bytesToHex(ed25519.getPublicKey(policySecret));
const coordinatorSecret = new Uint8Array(randomBytes(32));
const coordinatorKeys = [bytesToHex(ed25519.getPublicKey(coordinatorSecret))];

// Two approvers whose approval keys the nodes pin: every authorization carries their real signatures.
type Signer = { approver: string; secretKey: Uint8Array };
const alice: Signer = { approver: 'alice', secretKey: new Uint8Array(randomBytes(32)) };
const bob: Signer = { approver: 'bob', secretKey: new Uint8Array(randomBytes(32)) };
const approverKeys = [alice, bob].map((a) => ({ approver: a.approver, publicKey: bytesToHex(ed25519.getPublicKey(a.secretKey)) }));

function authorize(keyId: string, message: Uint8Array, over: Partial<SigningAuthorization> = {}, secret = policySecret, signers: Signer[] = [alice, bob]): SignedAuthorization {
  const { approvals: givenApprovals, withdrawal: givenWithdrawal, ...rest } = over;
  const f = {
    withdrawalId: `wd-${bytesToHex(randomBytes(6))}`, keyId, chain: 'solana', unsignedTx: bytesToHex(message), digest: bytesToHex(message),
    to: 'Dest1111111111111111111111111111111111111111', amount: '1500000', policyVersion: 3, expiresAt: Date.now() + 60_000, ...rest,
  };
  const withdrawal = givenWithdrawal ?? {
    id: f.withdrawalId, customerId: 'acme', chain: f.chain, asset: 'SOL', to: f.to, amount: f.amount, fee: '5000', memo: null, createdAt: Date.now() - 60_000,
  };
  const approvals = givenApprovals ?? signApprovalsFor(withdrawal, f.policyVersion, signers, { at: Date.now() - 500, expiresAt: Date.now() + 600_000 });
  return signAuthorization({ ...f, withdrawal, approvals }, secret);
}

function opensslEd25519(sig: Uint8Array, msg: Uint8Array, pub: Uint8Array): boolean {
  const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(pub).toString('base64url') }, format: 'jwk' });
  return osslVerify(null, msg, key, sig);
}

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return (err as { code: string }).code;
  }
  return 'accepted';
}

describe.skipIf(!built)('five node processes, coordinator relaying (needs dist/)', () => {
  let base: string;
  let cluster: LocalCluster;
  let coordinator: Coordinator;
  const alerts: CulpritAlert[] = [];
  const progress: string[] = [];
  let edKey: KeyInfo;
  let bipKey: KeyInfo;
  let signedByNode1: SignedAuthorization;

  beforeAll(async () => {
    base = mkdtempSync(join(tmpdir(), 'custos-mpc-'));
    cluster = await startLocalCluster({
      baseDir: base, n: 5, policyPublicKey, minApprovals: 2, coordinatorKeys, approverKeys,
      envFor: (id): Record<string, string> => (id === 'node-5' ? { CUSTOS_NODE_TEST_HOOK: 'corrupt-signature-share' } : {}),
    });
    coordinator = new Coordinator({
      nodes: cluster.nodes, secretKey: coordinatorSecret, onCulprit: (a) => alerts.push(a), onProgress: (l) => progress.push(l), healthTtlMs: 60_000,
    });
    writeFileSync(join(base, 'coordinator-key.dev.json'), JSON.stringify({ secretKey: bytesToHex(coordinatorSecret) }));
  }, 60_000);

  afterAll(async () => {
    await cluster?.stop();
    if (base) rmSync(base, { recursive: true, force: true });
  });

  it('generates 3-of-5 keys for ed25519 and schnorr; every node holds the same public key', async () => {
    edKey = await coordinator.keygen({ scheme: 'ed25519', threshold: 3, keyId: 'sol-hot' });
    bipKey = await coordinator.keygen({ scheme: 'schnorr', threshold: 3, keyId: 'btc-hot' });
    expect(edKey).toMatchObject({ suite: 'ed25519', threshold: 3, generation: 0, parties: cluster.nodes.map((n) => n.id) });
    expect(hexToBytes(edKey.publicKey)).toHaveLength(32);
    expect(bipKey.suite).toBe('bip340');
    expect(hexToBytes(bipKey.publicKey)).toHaveLength(33);
    const listed = await coordinator.listKeys();
    expect(listed.map((k) => [k.keyId, k.holders.length, k.publicKey])).toEqual([['btc-hot', 5, bipKey.publicKey], ['sol-hot', 5, edKey.publicKey]]);
    expect(progress.some((l) => l.includes('round 3 relayed'))).toBe(true);
    // a second DKG under an existing key id is refused by the nodes
    expect(await refusal(coordinator.keygen({ scheme: 'ed25519', threshold: 3, keyId: 'sol-hot' }))).toBe('mpc_session_failed');
  });

  it('signs an authorized message 3-of-5 (ed25519: noble and OpenSSL verify; BIP-340: noble verifies)', async () => {
    const msg = new Uint8Array(randomBytes(180));
    signedByNode1 = authorize('sol-hot', msg);
    const r = await coordinator.sign({ keyId: 'sol-hot', authorization: signedByNode1 });
    expect(r.signers).toEqual(['node-1', 'node-2', 'node-3']);
    expect(r.attempts).toBe(1);
    expect(bytesToHex(r.publicKey)).toBe(edKey.publicKey);
    expect(ed25519.verify(r.signature, msg, r.publicKey)).toBe(true);
    expect(opensslEd25519(r.signature, msg, r.publicKey)).toBe(true);
    expect(ed25519.verify(r.signature, Uint8Array.from(msg, (b, i) => (i === 0 ? b ^ 1 : b)), r.publicKey)).toBe(false);

    const sighash = new Uint8Array(randomBytes(32));
    const s = await coordinator.sign({ keyId: 'btc-hot', authorization: authorize('btc-hot', sighash, { chain: 'bitcoin' }) });
    expect(bytesToHex(s.publicKey)).toBe(bipKey.publicKey.slice(2));
    expect(schnorr.verify(s.signature, sighash, s.publicKey)).toBe(true);
  });

  it('refuses a second signing session for the same withdrawal, and a conflicting transaction under its id', async () => {
    const msg = new Uint8Array(randomBytes(64));
    const auth = authorize('sol-hot', msg);
    await coordinator.sign({ keyId: 'sol-hot', authorization: auth });
    expect(await refusal(coordinator.sign({ keyId: 'sol-hot', authorization: auth }))).toBe('withdrawal_already_signed');
    // a fresh authorization (re-signed by the policy key) reusing the id for another transaction
    const other = new Uint8Array(randomBytes(64));
    const again = authorize('sol-hot', other, { withdrawalId: auth.authorization.withdrawalId });
    const code = await refusal(coordinator.sign({ keyId: 'sol-hot', authorization: again }));
    expect(['withdrawal_already_signed', 'withdrawal_digest_conflict']).toContain(code);
  });

  it('refuses expired, wrongly signed, under-approved, altered and mismatched authorizations', async () => {
    const msg = new Uint8Array(randomBytes(64));
    expect(await refusal(coordinator.sign({ keyId: 'sol-hot', authorization: authorize('sol-hot', msg, { expiresAt: Date.now() - 1 }) }))).toBe('authorization_expired');
    const rogue = new Uint8Array(randomBytes(32));
    expect(await refusal(coordinator.sign({ keyId: 'sol-hot', authorization: authorize('sol-hot', msg, {}, rogue) }))).toBe('authorization_bad_signature');
    expect(await refusal(coordinator.sign({
      keyId: 'sol-hot', authorization: authorize('sol-hot', msg, {}, policySecret, [alice, alice]),
    }))).toBe('authorization_not_enough_approvals');
    // the policy key alone cannot approve: approvals signed with keys the nodes do not pin for alice and bob
    const forgers: Signer[] = [{ approver: 'alice', secretKey: new Uint8Array(randomBytes(32)) }, { approver: 'bob', secretKey: new Uint8Array(randomBytes(32)) }];
    expect(await refusal(coordinator.sign({ keyId: 'sol-hot', authorization: authorize('sol-hot', msg, {}, policySecret, forgers) }))).toBe('authorization_approval_invalid');
    // genuine approvals of another withdrawal, moved onto this one
    const elsewhere = authorize('sol-hot', msg).authorization.approvals;
    expect(await refusal(coordinator.sign({ keyId: 'sol-hot', authorization: authorize('sol-hot', msg, { approvals: elsewhere }) }))).toBe('authorization_approval_invalid');
    const good = authorize('sol-hot', msg);
    const altered: SignedAuthorization = { ...good, authorization: { ...good.authorization, amount: '999999999' } };
    expect(await refusal(coordinator.sign({ keyId: 'sol-hot', authorization: altered }))).toBe('authorization_bad_signature');
    expect(await refusal(coordinator.sign({ keyId: 'btc-hot', authorization: good }))).toBe('authorization_wrong_key');
    // a coordinator that skips its own check and asks a node directly for a digest that is not the transaction's
    const lying = authorize('sol-hot', msg, { digest: bytesToHex(new Uint8Array(randomBytes(32))) });
    const node = new NodeClient(cluster.nodes[0] as { id: string; url: string }, 5_000, coordinatorSecret);
    expect(await refusal(node.start({ kind: 'sign', session: bytesToHex(randomBytes(32)), keyId: 'sol-hot', signers: ['node-1', 'node-2', 'node-3'], authorization: lying })))
      .toBe('authorization_digest_mismatch');
    // and there is no raw-digest endpoint or session kind
    expect(await refusal(node.start({ kind: 'sign-digest', session: bytesToHex(randomBytes(32)), keyId: 'sol-hot', digest: bytesToHex(msg) }))).toBe('node_bad_request');
  });

  it('nodes refuse POSTs not signed by a pinned coordinator key (reads stay open)', async () => {
    const body = { kind: 'dkg', session: bytesToHex(randomBytes(32)), keyId: 'rogue', scheme: 'ed25519', threshold: 2, parties: ['node-1', 'node-2'] };
    const anonymous = new NodeClient(cluster.nodes[0] as { id: string; url: string }, 5_000);
    expect(await refusal(anonymous.start(body))).toBe('node_unauthenticated');
    const stranger = new NodeClient(cluster.nodes[0] as { id: string; url: string }, 5_000, new Uint8Array(randomBytes(32)));
    expect(await refusal(stranger.start(body))).toBe('node_unauthenticated');
    expect(await refusal(anonymous.commitRefresh('sol-hot', 1))).toBe('node_unauthenticated');
    expect(await refusal(anonymous.health())).toBe('accepted');
    const rogue = new Coordinator({ nodes: cluster.nodes });
    expect(await refusal(rogue.keygen({ scheme: 'ed25519', threshold: 2, keyId: 'rogue' }))).toBe('mpc_session_failed');
    expect((await coordinator.listKeys()).map((k) => k.keyId)).not.toContain('rogue');
  });

  it('nodes refuse envelopes the relay altered', async () => {
    const tampering = new Coordinator({
      nodes: cluster.nodes, maxAttempts: 2, secretKey: coordinatorSecret,
      relayTamper: (e, to) => (e.round === 1 && to === 'node-2' && e.payload ? { ...e, payload: `${e.payload.slice(0, -2)}${e.payload.endsWith('00') ? '01' : '00'}` } : e),
    });
    const err = await tampering.sign({ keyId: 'sol-hot', authorization: authorize('sol-hot', new Uint8Array(randomBytes(40))) }).catch((e: unknown) => e);
    expect((err as { code: string }).code).toBe('mpc_sign_failed');
    expect((err as Error).message).toContain('node-2 envelope_bad_signature');
  });

  it('names a node that sends a bad signature share, excludes it, raises an alert and signs with another subset', async () => {
    const msg = new Uint8Array(randomBytes(90));
    const r = await coordinator.sign({ keyId: 'sol-hot', authorization: authorize('sol-hot', msg), prefer: ['node-5', 'node-2', 'node-3'] });
    expect(alerts.map((a) => [a.node, a.code])).toEqual([['node-5', 'frost_bad_signature_share']]);
    expect(coordinator.excluded()).toEqual(['node-5']);
    expect(r.attempts).toBe(2);
    expect(r.signers).not.toContain('node-5');
    expect(ed25519.verify(r.signature, msg, r.publicKey)).toBe(true);
    // the next session does not ask node-5 even when preferred
    const r2 = await coordinator.sign({ keyId: 'sol-hot', authorization: authorize('sol-hot', msg.slice(1)), prefer: ['node-5'] });
    expect(r2.signers).not.toContain('node-5');
    expect(r2.attempts).toBe(1);
  });

  it('refreshes every share: same public key, new generation, the stored share replaced, signing still works', async () => {
    const shareBefore = readShare(cluster, 'node-1', 'sol-hot');
    const r = await coordinator.refresh({ keyId: 'sol-hot' });
    expect(r).toMatchObject({ publicKey: edKey.publicKey, generation: 1 });
    expect(readShare(cluster, 'node-1', 'sol-hot')).not.toBe(shareBefore);
    const msg = new Uint8Array(randomBytes(50));
    const s = await coordinator.sign({ keyId: 'sol-hot', authorization: authorize('sol-hot', msg) });
    expect(ed25519.verify(s.signature, msg, hexToBytes(edKey.publicKey))).toBe(true);
  });

  it('keeps key shares sealed on disk: the share hex appears in no file of any data directory', () => {
    for (const n of cluster.nodes) {
      const store = openStore(cluster, n.id);
      for (const keyId of ['sol-hot', 'btc-hot']) {
        const share = (store.keyShare(keyId) as { signingShare: string }).signingShare;
        expect(share).toMatch(/^[0-9a-f]{64}$/);
        for (const f of filesUnder(cluster.dirs.get(n.id) as string)) {
          const raw = readFileSync(f);
          expect(raw.toString('latin1').toLowerCase()).not.toContain(share);
          expect(raw.includes(Buffer.from(share, 'hex'))).toBe(false);
        }
      }
    }
  });

  it('custos keygen / keys list / keys refresh (the CLI registration, in process) print progress and the keys', async () => {
    const lines: string[] = [];
    const spy = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => {
      lines.push(a.map(String).join(' '));
    });
    try {
      const cli = () => {
        const program = new Command('custos').exitOverride();
        registerMpcCommands(program, () => ({ dataDir: base }));
        return program;
      };
      const cluster = join(base, 'cluster.json');
      await cli().parseAsync(['keygen', '--scheme', 'schnorr', '--threshold', '2', '--parties', '4', '--key-id', 'cli-key', '--cluster', cluster], { from: 'user' });
      expect(lines.join('\n')).toMatch(/nodes up: 4\/4[\s\S]*round 1 relayed[\s\S]*round 3 relayed[\s\S]*key cli-key ready/);
      lines.length = 0;
      await cli().parseAsync(['keys', 'list', '--cluster', cluster, '--json'], { from: 'user' });
      const listed = JSON.parse(lines.join('')) as { keyId: string; threshold: number; holders: string[] }[];
      expect(listed.find((k) => k.keyId === 'cli-key')).toMatchObject({ threshold: 2, holders: ['node-1', 'node-2', 'node-3', 'node-4'] });
      lines.length = 0;
      await cli().parseAsync(['keys', 'refresh', '--key-id', 'cli-key', '--cluster', cluster], { from: 'user' });
      expect(lines.join('\n')).toContain('key cli-key refreshed: generation 1');
      await expect(cli().parseAsync(['keygen', '--scheme', 'rsa', '--threshold', '2', '--parties', '3', '--cluster', cluster], { from: 'user' })).rejects.toThrow(/--scheme/);
    } finally {
      spy.mockRestore();
    }
  });

  it('completes an interrupted refresh (commit reached only some holders) before the next signature', async () => {
    const holders = ['node-1', 'node-2', 'node-3', 'node-4'];
    const clients = holders.map((id) => new NodeClient(cluster.nodes.find((n) => n.id === id) as { id: string; url: string }, 5_000, coordinatorSecret));
    const session = bytesToHex(randomBytes(32));
    const done = await runSession(clients, () => ({ kind: 'refresh', session, keyId: 'cli-key' }));
    expect([...done.values()].map((r) => r.generation)).toEqual([2, 2, 2, 2]);
    await (clients[0] as NodeClient).commitRefresh('cli-key', 2);
    await (clients[1] as NodeClient).commitRefresh('cli-key', 2);
    const h3 = (await (clients[2] as NodeClient).health()) as { keys: unknown[] };
    expect(h3.keys).toContainEqual({ keyId: 'cli-key', generation: 1, pending: 2 });
    const healing = new Coordinator({ nodes: cluster.nodes, secretKey: coordinatorSecret, onProgress: (l) => progress.push(l) });
    const msg = new Uint8Array(randomBytes(32));
    const r = await healing.sign({ keyId: 'cli-key', authorization: authorize('cli-key', msg, { chain: 'bitcoin' }), prefer: ['node-3', 'node-4'] });
    expect(r.signers).toEqual(['node-3', 'node-4']);
    expect(schnorr.verify(r.signature, msg, r.publicKey)).toBe(true);
    expect(progress.join('\n')).toContain('completed the refresh of cli-key to generation 2 on node-3, node-4');
  });

  it('benchFrostCluster measures keygen and end-to-end signing on the running nodes', async () => {
    const r = await benchFrostCluster({ nodes: cluster.nodes.slice(0, 4), policySecret, iterations: 2, coordinatorSecret, approvers: [alice, bob] });
    expect(r.frost_keygen_s).toBeGreaterThan(0);
    expect(r.frost_ed25519_sign_p50_ms).toBeGreaterThan(0);
    expect(r.frost_schnorr_sign_p99_ms).toBeGreaterThanOrEqual(r.frost_schnorr_sign_p50_ms);
  });

  it('retries with another subset when a signer was SIGKILLed (cached health still says up)', async () => {
    await cluster.kill('node-1');
    const msg = new Uint8Array(randomBytes(70));
    const r = await coordinator.sign({ keyId: 'sol-hot', authorization: authorize('sol-hot', msg) });
    expect(r.attempts).toBe(2);
    expect(r.signers).toEqual(['node-2', 'node-3', 'node-4']);
    expect(ed25519.verify(r.signature, msg, r.publicKey)).toBe(true);
    expect(progress.some((l) => l.includes('node-1 node_unreachable'))).toBe(true);
    // with node-1 down and node-5 excluded only three remain; one more loss is a clean refusal
    await cluster.kill('node-4');
    const before = progress.length;
    expect(await refusal(coordinator.sign({ keyId: 'sol-hot', authorization: authorize('sol-hot', msg.slice(2)) }))).toBe('mpc_not_enough_nodes');
    expect(progress.slice(before).join('\n')).toContain('node-4 node_unreachable');
    // node-1 comes back from its own disk: same identity and keys, and it still refuses a withdrawal it signed
    const back = await cluster.restart('node-1');
    const client = new NodeClient(back, 5_000, coordinatorSecret);
    const h = (await client.health()) as { identity: { signingKey: string }; keys: { keyId: string; generation: number }[] };
    expect(h.identity.signingKey).toBe(back.identity.signingKey);
    expect(h.keys).toEqual(expect.arrayContaining([{ keyId: 'sol-hot', generation: 1 }, { keyId: 'btc-hot', generation: 0 }]));
    expect(await refusal(client.start({ kind: 'sign', session: bytesToHex(randomBytes(32)), keyId: 'sol-hot', signers: ['node-1', 'node-2', 'node-3'], authorization: signedByNode1 })))
      .toBe('withdrawal_already_signed');
  });
});

/** Read-only: the node process holds its data directory's lock. */
function openStore(cluster: LocalCluster, id: string): NodeStore {
  return NodeStore.open({ dir: cluster.dirs.get(id) as string, nodeId: id, passphrase: cluster.passphrase, rng: (n) => new Uint8Array(randomBytes(n)), readOnly: true });
}

function readShare(cluster: LocalCluster, id: string, keyId: string): string {
  return (openStore(cluster, id).keyShare(keyId) as { signingShare: string }).signingShare;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}
