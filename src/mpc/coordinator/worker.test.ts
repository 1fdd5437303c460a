/**
 * The signing worker against five real node processes (dist/mpc/node/bin.js; needs `npm run build`,
 * skipped otherwise) and the real store (PGlite always, PostgreSQL when DATABASE_URL is set).
 * Withdrawals enter through the intake pipeline and leave `signed` with a Solana transaction whose
 * signature verifies under the group key.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { base58 } from '@scure/base';
import { address, getTransactionDecoder, lamports } from '@solana/kit';
import { LiteSVM } from 'litesvm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { solanaBroadcaster, solanaFacts } from '../../chains/broadcast.js';
import { BroadcastWorker } from '../../chains/broadcast-worker.js';
import { litesvmRpc } from '../../chains/test-helpers/litesvm-rpc.js';
import { thresholdWallet } from '../../chains/wallet.js';
import { manualClock } from '../../core/clock.js';
import { CustosError } from '../../core/errors.js';
import { createCredential } from '../../gateway/credentials.js';
import { submitWithdrawal } from '../../pipeline/intake.js';
import type { Db } from '../../store/db.js';
import { bindAccountKey, getOutbound } from '../../store/outbound.js';
import { createCustomer } from '../../store/customers.js';
import { seedStarter } from '../../store/seed.js';
import { TEST_DBS } from '../../store/test-helpers/db.js';
import { getWithdrawal } from '../../store/withdrawals.js';
import { signAuthorization } from '../node/authorization.js';
import { policyAuthorizer } from './authorize.js';
import { Coordinator, type KeyInfo, type NodeEndpoint } from './coordinator.js';
import { defaultNodeEntry, startLocalCluster, type LocalCluster } from './local-cluster.js';
import { dueKeys, startRefreshSchedule } from './refresh-schedule.js';
import { classifySigningError, retryDelay, SigningWorker, type Authorize, type SigningEvent } from './worker.js';
import { buildUnsigned } from '../../chains/solana/tx.js';
import { signingDigests as bitcoinDigests } from '../../chains/bitcoin/tx.js';
import * as btc from '@scure/btc-signer';
import * as bitcoinjs from 'bitcoinjs-lib';
import * as ecc from 'tiny-secp256k1';
import { schnorr } from '@noble/curves/secp256k1.js';

/** Nodes run as `custos mpc-node` (bin/custos.js): they derive digests with the chain modules (Solana, Ethereum, Bitcoin). */
const custosBin = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin', 'custos.js');
const built = existsSync(defaultNodeEntry()) && existsSync(join(dirname(custosBin), '..', 'dist', 'cli', 'main.js'));
if (!built) console.warn('src/mpc/coordinator/worker.test.ts: dist/ is missing; run `npm run build` first (node-process tests skipped)');

const BTC_TO = 'bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq';
const BLOCKHASH = base58.encode(sha256(utf8ToBytes('custos worker test blockhash')));
const facts = { solana: { recentBlockhash: async () => ({ blockhash: BLOCKHASH }) } };

describe('signing decisions (pure)', () => {
  it('classifies failures: recover, reauthorize, refused, transient', () => {
    expect(classifySigningError(new CustosError('withdrawal_already_signed', 'x', 409))).toEqual({ kind: 'recover' });
    expect(classifySigningError(new CustosError('authorization_expired', 'x', 403))).toEqual({ kind: 'reauthorize' });
    for (const code of ['authorization_bad_signature', 'authorization_amount_mismatch', 'withdrawal_digest_conflict', 'withdrawal_attempts_exhausted', 'tx_mismatch', 'outbound_fee_exceeded']) {
      expect(classifySigningError(new CustosError(code, 'x')).kind).toBe('refused');
    }
    for (const code of ['mpc_not_enough_nodes', 'mpc_sign_failed', 'node_unreachable', 'mpc_nodes_down']) {
      expect(classifySigningError(new CustosError(code, 'x')).kind).toBe('transient');
    }
    expect(classifySigningError(new TypeError('boom'))).toEqual({ kind: 'transient', code: 'signing_error', message: 'TypeError' });
  });

  it('refresh schedule: a key is due an interval after the start or after its last refresh', () => {
    const last = new Map([['b', 1_000]]);
    expect(dueKeys(['a', 'b'], last, 0, 999, 1_000)).toEqual([]);
    expect(dueKeys(['a', 'b'], last, 0, 1_000, 1_000)).toEqual(['a']);
    expect(dueKeys(['b', 'a'], last, 0, 2_000, 1_000)).toEqual(['a', 'b']);
  });

  it('backs off exponentially, capped', () => {
    expect([1, 2, 3, 4].map((n) => retryDelay(n, 1000))).toEqual([1000, 2000, 4000, 8000]);
    expect(retryDelay(40, 1000, 60_000)).toBe(60_000);
  });
});

const solAddress = () => base58.encode(ed25519.getPublicKey(new Uint8Array(randomBytes(32))));

describe.skipIf(!built)('signing worker with five node processes', () => {
  const policySecret = new Uint8Array(randomBytes(32));
  const coordinatorSecret = new Uint8Array(randomBytes(32));
  let base: string;
  let cluster: LocalCluster;
  let key: KeyInfo;
  let btcKey: KeyInfo;
  const coordinator = (nodes?: NodeEndpoint[]) => new Coordinator({ nodes: nodes ?? cluster.nodes, secretKey: coordinatorSecret, healthTtlMs: 60_000, timeoutMs: 5_000 });

  beforeAll(async () => {
    base = mkdtempSync(join(tmpdir(), 'custos-worker-'));
    cluster = await startLocalCluster({
      baseDir: base, n: 5, minApprovals: 0, policyPublicKey: bytesToHex(ed25519.getPublicKey(policySecret)),
      coordinatorKeys: [bytesToHex(ed25519.getPublicKey(coordinatorSecret))], entry: custosBin, entryArgs: ['mpc-node'],
    });
    key = await coordinator().keygen({ scheme: 'ed25519', threshold: 3 });
    btcKey = await coordinator().keygen({ scheme: 'schnorr', threshold: 3 });
  }, 60_000);

  afterAll(async () => {
    await cluster?.stop();
    if (base) rmSync(base, { recursive: true, force: true });
  });

  describe.each(TEST_DBS)('$name', (tdb) => {
    let db: Db;
    const clock = manualClock(Date.now());
    const authorize = (): Authorize => policyAuthorizer({ db, policySecretKey: policySecret });

    beforeAll(async () => {
      db = await tdb.open();
      await seedStarter(db, { customerId: 'c1', now: clock.now() });
      const wallet = thresholdWallet('solana', 'mainnet', { suite: key.suite, publicKey: hexToBytes(key.publicKey) });
      await db.tx((q) => bindAccountKey(q, 'hot-sol', { keyId: key.keyId, address: wallet.address }));
      const btcWallet = thresholdWallet('bitcoin', 'mainnet', { suite: btcKey.suite, publicKey: hexToBytes(btcKey.publicKey) });
      await db.tx((q) => bindAccountKey(q, 'hot-btc', { keyId: btcKey.keyId, address: btcWallet.address }));
    }, 60_000);
    afterAll(async () => db?.close());

    /** n approved withdrawals through the intake pipeline, one new customer each (no velocity signal between them). */
    async function approved(n: number, amount = '0.25', chain: 'solana' | 'bitcoin' = 'solana'): Promise<string[]> {
      const ids: string[] = [];
      for (let i = 0; i < n; i++) {
        const customerId = `c-${bytesToHex(randomBytes(4))}`;
        await db.tx((q) => createCustomer(q, { id: customerId, name: customerId }));
        const credentialId = (await createCredential(db, { customerId, scopes: ['withdraw', 'read'] }, clock)).credentialId;
        const { withdrawal } = await submitWithdrawal(db, clock, {
          customerId, credentialId, idempotencyKey: `k-${bytesToHex(randomBytes(6))}`, request: chain === 'solana' ? { chain: 'solana', asset: 'SOL', to: solAddress(), amount } : { chain: 'bitcoin', asset: 'BTC', to: BTC_TO, amount },
        });
        expect(withdrawal.status).toBe('approved');
        ids.push(withdrawal.id);
      }
      return ids;
    }

    async function audit(id: string): Promise<{ action: string; body: { data: Record<string, unknown> } }[]> {
      const rows = await db.query<{ action: string; body: string }>('SELECT action, body FROM audit_entries WHERE subject = $1 ORDER BY id', [`withdrawal:${id}`]);
      return rows.map((r) => ({ action: r.action, body: JSON.parse(r.body) as { data: Record<string, unknown> } }));
    }

    /**
     * Runs rounds until `id` leaves `signing` or `want` happens: a loaded machine can make a node's
     * health answer miss its 2 s deadline, which the worker treats as transient (deferred, retried).
     */
    async function until(worker: SigningWorker, id: string, want: 'signed' | 'failed'): Promise<void> {
      for (let i = 0; i < 5; i++) {
        const r = await worker.runOnce();
        if (r[want].includes(id)) return;
        clock.advance(10 * 60_000);
      }
      throw new Error(`${id} not ${want} after 5 rounds`);
    }

    /** The wire transaction's one signature verifies under the group key over its message. */
    function checkSolanaTx(raw: Uint8Array, txHash: string): void {
      const tx = getTransactionDecoder().decode(raw);
      const [signer, sig] = Object.entries(tx.signatures)[0] as [string, Uint8Array];
      expect(signer).toBe(base58.encode(hexToBytes(key.publicKey)));
      expect(ed25519.verify(sig, new Uint8Array(tx.messageBytes), hexToBytes(key.publicKey))).toBe(true);
      expect(txHash).toBe(base58.encode(sig));
    }

    it('takes approved withdrawals through signing to signed, raw transaction and hash stored, audited in order', async () => {
      const [id] = await approved(1);
      const events: SigningEvent[] = [];
      const worker = new SigningWorker({ db, coordinator: coordinator(), authorize: authorize(), facts, clock, onEvent: (e) => events.push(e) });
      await until(worker, id as string, 'signed');
      const w = await getWithdrawal(db, id as string);
      expect(w?.status).toBe('signed');
      expect(w?.decisions.at(-1)).toMatchObject({ stage: 'signing', outcome: 'pass' });
      const ob = await getOutbound(db, id as string);
      checkSolanaTx(ob?.rawTx as Uint8Array, ob?.txHash as string);
      expect(ob?.signers).toHaveLength(3);
      expect(ob?.leaseOwner).toBeNull();
      const trail = (await audit(id as string)).filter((e) => e.action === 'withdrawal.transition').map((e) => `${String(e.body.data.from)}→${String(e.body.data.to)}`);
      expect(trail.slice(-2)).toEqual(['approved→signing', 'signing→signed']);
      expect(events.filter((e) => e.kind === 'signed')).toEqual([expect.objectContaining({ kind: 'signed', withdrawalId: id, txHash: ob?.txHash, recovered: false })]);
    }, 30_000);

    it('two workers racing never sign one withdrawal twice', async () => {
      const ids = await approved(6, '0.01');
      const signedBy = new Map<string, string[]>();
      const workers = ['w-a', 'w-b'].map((owner) => new SigningWorker({
        db, coordinator: coordinator(), authorize: authorize(), facts, clock, owner, batch: 2, concurrency: 2,
        onEvent: (e) => {
          if (e.kind === 'signed') signedBy.set(e.withdrawalId, [...(signedBy.get(e.withdrawalId) ?? []), owner]);
        },
      }));
      for (let round = 0; round < 12; round++) {
        const reports = await Promise.all(workers.map((w) => w.runOnce()));
        const [a, b] = reports.map((r) => new Set(r.claimed));
        for (const id of a ?? []) expect(b?.has(id)).toBe(false);
        if (reports.every((r) => r.claimed.length === 0)) break;
        clock.advance(10 * 60_000); // a deferred one (slow health answer on a loaded machine) is due again
      }
      for (const id of ids) {
        expect(signedBy.get(id)).toHaveLength(1);
        expect((await getWithdrawal(db, id))?.status).toBe('signed');
        const signedEntries = (await audit(id)).filter((e) => e.action === 'withdrawal.transition' && e.body.data.to === 'signed');
        expect(signedEntries).toHaveLength(1);
      }
      // Both workers took part (batch 2 each, six withdrawals).
      expect(new Set([...signedBy.values()].flat()).size).toBe(2);
    }, 60_000);

    it('a refusal by the nodes fails the withdrawal with the reason; nothing is signed', async () => {
      const [id] = await approved(1);
      const forger = new Uint8Array(randomBytes(32));
      const badAuthorize: Authorize = async (req) => {
        const good = await authorize()(req);
        return signAuthorization(good.authorization, forger); // not the policy key the nodes pin
      };
      const worker = new SigningWorker({ db, coordinator: coordinator(), authorize: badAuthorize, facts, clock });
      await until(worker, id as string, 'failed');
      const w = await getWithdrawal(db, id as string);
      expect(w?.status).toBe('failed');
      expect(w?.decisions.at(-1)).toMatchObject({ stage: 'signing', outcome: 'reject', reasons: [{ code: 'authorization_bad_signature' }] });
      const ob = await getOutbound(db, id as string);
      expect(ob?.rawTx).toBeNull();
      const last = (await audit(id as string)).at(-1);
      expect(last?.body.data).toMatchObject({ from: 'signing', to: 'failed', code: 'authorization_bad_signature' });
    }, 30_000);

    it('nodes down: the withdrawal stays signing and is retried after the back-off with the same transaction', async () => {
      const [id] = await approved(1);
      // Three of five nodes unreachable from this coordinator (closed ports): fewer than t.
      const down = cluster.nodes.map((n, i) => (i < 3 ? { ...n, url: 'http://127.0.0.1:9' } : n));
      const worker = new SigningWorker({ db, coordinator: coordinator(down), authorize: authorize(), facts, clock, retryBaseMs: 10_000, owner: 'w-down' });
      const first = await worker.runOnce();
      expect(first.deferred).toContain(id);
      const w = await getWithdrawal(db, id as string);
      expect(w?.status).toBe('signing');
      const planned = await getOutbound(db, id as string);
      expect(planned?.lastError).toMatch(/^mpc_not_enough_nodes/);
      expect(planned?.unsignedTx).not.toBeNull();
      // Before the back-off ends nobody takes it; after, a healthy worker signs the stored transaction.
      const healthy = new SigningWorker({ db, coordinator: coordinator(), authorize: authorize(), facts, clock, owner: 'w-up' });
      expect((await healthy.runOnce()).claimed).not.toContain(id);
      clock.advance(10_001);
      await until(healthy, id as string, 'signed');
      const ob = await getOutbound(db, id as string);
      expect(ob?.unsignedTx).toEqual(planned?.unsignedTx);
      checkSolanaTx(ob?.rawTx as Uint8Array, ob?.txHash as string);
      expect((await audit(id as string)).map((e) => e.action)).toContain('withdrawal.signing_resumed');
    }, 30_000);

    it('the Solana runtime (litesvm, through the JSON-RPC adapter) takes the signed transfer: signed → broadcast → confirmed, balances moved', async () => {
      const svm = new LiteSVM();
      const wallet = base58.encode(hexToBytes(key.publicKey));
      svm.airdrop(address(wallet), lamports(10n ** 10n));
      const rpc = litesvmRpc(svm);
      const [id] = await approved(1, '1.5');
      const w0 = await getWithdrawal(db, id as string);
      const worker = new SigningWorker({ db, coordinator: coordinator(), authorize: authorize(), facts: { solana: solanaFacts(rpc) }, clock });
      await until(worker, id as string, 'signed');
      // The blockhash's lifetime is kept with the plan for the broadcast worker (it is not in the bytes).
      expect((await getOutbound(db, id as string))?.lastValidBlockHeight).toBe(rpc.height() + 150n);
      const broadcaster = new BroadcastWorker({ db, broadcasters: { solana: solanaBroadcaster(rpc) }, clock, pollMs: 1000 });
      expect((await broadcaster.runOnce()).broadcast).toEqual([id]);
      clock.advance(1001);
      expect((await broadcaster.runOnce()).confirmed).toEqual([id]);
      expect((await getWithdrawal(db, id as string))?.status).toBe('confirmed');
      expect(svm.getBalance(address(w0?.to as string))).toBe(1_500_000_000n);
      expect(svm.getBalance(address(wallet))).toBe(10n ** 10n - 1_500_000_000n - 5000n);
      const trail = (await audit(id as string)).filter((e) => e.action === 'withdrawal.transition').map((e) => `${String(e.body.data.from)}→${String(e.body.data.to)}`);
      expect(trail.slice(-4)).toEqual(['approved→signing', 'signing→signed', 'signed→broadcast', 'broadcast→confirmed']);
    }, 30_000);

    it('a Bitcoin withdrawal from the P2TR hot wallet (FROST BIP-340, taproot-tweaked): one input, signature valid under the output key', async () => {
      const [id] = await approved(1, '0.01', 'bitcoin');
      const utxo = { txid: bytesToHex(sha256(utf8ToBytes(`funding ${id}`))), vout: 1, amount: 5_000_000n };
      const seen: string[] = [];
      const worker = new SigningWorker({
        db, coordinator: coordinator(), authorize: authorize(), clock,
        facts: { bitcoin: { network: 'mainnet', utxos: async (addr) => { seen.push(addr); return [utxo]; } } },
      });
      await until(worker, id as string, 'signed');
      const btcWallet = thresholdWallet('bitcoin', 'mainnet', { suite: btcKey.suite, publicKey: hexToBytes(btcKey.publicKey) });
      expect(seen).toEqual([btcWallet.address]);
      const ob = await getOutbound(db, id as string);
      const tx = btc.Transaction.fromRaw(ob?.rawTx as Uint8Array, { allowUnknownOutputs: true });
      expect(tx.id).toBe(ob?.txHash);
      expect(tx.inputsLength).toBe(1);
      const witness = tx.getInput(0).finalScriptWitness as Uint8Array[];
      const outputKey = (btcWallet.bitcoin as { outputKey: Uint8Array }).outputKey;
      const sighash = bitcoinDigests({ chain: 'bitcoin', bytes: ob?.unsignedTx as Uint8Array })[0] as Uint8Array;
      expect(schnorr.verify(witness[0] as Uint8Array, sighash, outputKey)).toBe(true);
      // And by software nobody here wrote: bitcoinjs-lib's own BIP-341 sighash, tiny-secp256k1's verifier.
      const js = bitcoinjs.Transaction.fromBuffer(ob?.rawTx as Uint8Array);
      expect(js.getId()).toBe(ob?.txHash);
      const jsHash = js.hashForWitnessV1(0, [new Uint8Array([0x51, 0x20, ...outputKey])], [utxo.amount], bitcoinjs.Transaction.SIGHASH_DEFAULT);
      expect(ecc.verifySchnorr(jsHash, outputKey, js.ins[0]?.witness[0] as Uint8Array)).toBe(true);
      expect(btc.Address(btc.NETWORK).encode(btc.OutScript.decode(tx.getOutput(0).script as Uint8Array))).toBe(BTC_TO);
      expect(tx.getOutput(0).amount).toBe(1_000_000n);
    }, 30_000);

    it('a worker that dies after the nodes signed: the next one recovers that signature instead of signing again', async () => {
      const [id] = await approved(1);
      class Died extends Error {}
      const dying = new SigningWorker({
        db, coordinator: coordinator(), authorize: authorize(), facts, clock, owner: 'w-dies', leaseMs: 30_000,
        testHook: async (point) => {
          if (point === 'signed-by-nodes') throw new Died('killed');
        },
      });
      let died = false;
      for (let i = 0; i < 5 && !died; i++) {
        died = await dying.runOnce().then(() => false, (err: unknown) => err instanceof Died);
        if (!died) clock.advance(10 * 60_000);
      }
      expect(died).toBe(true);
      expect((await getWithdrawal(db, id as string))?.status).toBe('signing');
      expect((await getOutbound(db, id as string))?.rawTx).toBeNull();
      const events: SigningEvent[] = [];
      const next = new SigningWorker({ db, coordinator: coordinator(), authorize: authorize(), facts, clock, owner: 'w-next', onEvent: (e) => events.push(e) });
      expect((await next.runOnce()).claimed).not.toContain(id); // the lease still holds
      clock.advance(30_001);
      await until(next, id as string, 'signed');
      expect(events.find((e) => e.withdrawalId === id)).toMatchObject({ kind: 'signed', recovered: true });
      const ob = await getOutbound(db, id as string);
      checkSolanaTx(ob?.rawTx as Uint8Array, ob?.txHash as string);
      const resumed = (await audit(id as string)).find((e) => e.action === 'withdrawal.signing_resumed');
      expect(resumed?.body.data).toMatchObject({ worker: 'w-next', previousWorker: 'w-dies', planned: true });
    }, 30_000);
  });
  describe('scheduled refresh', () => {
    let db: Db;
    beforeAll(async () => {
      db = await (TEST_DBS[0] as (typeof TEST_DBS)[number]).open();
    });
    afterAll(async () => db?.close());

    it('refreshes the key on a short interval (audited), keeps the public key, and the nodes still sign after it', async () => {
      const before = (await coordinator().listKeys()).find((k) => k.keyId === key.keyId) as KeyInfo;
      const refreshed: KeyInfo[] = [];
      const schedule = startRefreshSchedule({ coordinator: coordinator(), db, everyMs: 300, checkEveryMs: 100, keyIds: [key.keyId], onRefreshed: (k) => refreshed.push(k) });
      for (let i = 0; i < 200 && refreshed.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
      await schedule.stop();
      expect(refreshed.length).toBeGreaterThanOrEqual(1);
      const after = (await coordinator().listKeys()).find((k) => k.keyId === key.keyId) as KeyInfo;
      expect(after.generation).toBeGreaterThanOrEqual(before.generation + 1);
      expect(after.publicKey).toBe(before.publicKey);
      const rows = await db.query<{ body: string }>("SELECT body FROM audit_entries WHERE action = 'key.refreshed' AND subject = $1", [`key:${key.keyId}`]);
      expect(rows.length).toBe(refreshed.length);
      expect(JSON.parse(rows[0]?.body as string)).toMatchObject({ data: { keyId: key.keyId, generation: before.generation + 1, publicKey: before.publicKey } });
      // The refreshed shares sign: a transfer from the (unchanged) wallet address verifies under the group key.
      const wallet = base58.encode(hexToBytes(key.publicKey));
      const to = solAddress();
      const unsigned = buildUnsigned({ to, amount: 7n }, { from: wallet, recentBlockhash: BLOCKHASH });
      const withdrawal = { id: 'wd-refresh', customerId: 'c1', chain: 'solana', asset: 'SOL', to, amount: '7', fee: '5000', memo: null, createdAt: Date.now() };
      const authorization = signAuthorization({
        withdrawalId: 'wd-refresh', keyId: key.keyId, chain: 'solana', unsignedTx: bytesToHex(unsigned.bytes), digest: bytesToHex(unsigned.bytes),
        to, amount: '7', policyVersion: 1, withdrawal, approvals: [], expiresAt: Date.now() + 60_000,
      }, policySecret);
      const signed = await coordinator().sign({ keyId: key.keyId, authorization });
      expect(ed25519.verify(signed.signature, unsigned.bytes, hexToBytes(key.publicKey))).toBe(true);
    }, 60_000);
  });
});
