// The broadcast path against software nobody here wrote: signed Ethereum withdrawals go to Hardhat 2's
// in-process node (EDR) through a real HTTP JSON-RPC endpoint (Hardhat's own JsonRpcServer, in this
// process), are mined, and are tracked signed → broadcast → confirmed | failed with audit entries.
// ECDSA here is a plain secp256k1 key (the threshold ECDSA driver is another engineer's work); the
// receipt's `from` must be that key's address.
// Signed Solana withdrawals go to litesvm behind the JSON-RPC adapter (src/chains/test-helpers/litesvm-rpc.ts),
// holding what it takes, so that a transaction can be left out until its blockhash expires (→ failed)
// or land at the last valid block height (→ confirmed).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ed25519 } from '@noble/curves/ed25519.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { keccak_256 } from '@noble/hashes/sha3.js';
import { bytesToHex, randomBytes } from '@noble/hashes/utils.js';
import { base58 } from '@scure/base';
import { address, lamports } from '@solana/kit';
import { LiteSVM } from 'litesvm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../core/clock.js';
import { createCredential } from '../gateway/credentials.js';
import { submitWithdrawal } from '../pipeline/intake.js';
import { createCustomer } from '../store/customers.js';
import type { Db } from '../store/db.js';
import { bindAccountKey, getOutbound, leaseOutbound, recordSigned, savePlan } from '../store/outbound.js';
import { seedStarter } from '../store/seed.js';
import { TEST_DBS } from '../store/test-helpers/db.js';
import { getWithdrawal, transitionWithdrawal } from '../store/withdrawals.js';
import { ethereumBroadcaster, solanaBroadcaster, solanaFacts, type Broadcaster } from './broadcast.js';
import { BroadcastWorker, nextStep } from './broadcast-worker.js';
import { addressOfPublicKey, assemble } from './ethereum/tx.js';
import { buildWithdrawalTx } from './plan.js';
import { httpJsonRpc, type JsonRpc } from './rpc.js';
import * as solana from './solana/tx.js';
import { litesvmRpc, type LitesvmRpc } from './test-helpers/litesvm-rpc.js';

const rules = { required: 2, pollMs: 1000, retryBaseMs: 1000, maxSendAttempts: 3 };

describe('nextStep (pure)', () => {
  it('signed: taken → broadcast; refused → retry with back-off, failed at the limit; unreachable never counts', () => {
    expect(nextStep('signed', { ok: { accepted: true } }, 0, rules)).toMatchObject({ kind: 'transition', to: 'broadcast' });
    expect(nextStep('signed', { ok: { accepted: false, reason: 'nonce too low' } }, 0, rules)).toEqual({ kind: 'wait', retryInMs: 2000, error: 'nonce too low', countAttempt: true });
    expect(nextStep('signed', { ok: { accepted: false, reason: 'nonce too low' } }, 2, rules)).toMatchObject({ kind: 'transition', to: 'failed', reason: 'refused 3 times: nonce too low' });
    expect(nextStep('signed', { error: 'unreachable' }, 2, rules)).toEqual({ kind: 'wait', retryInMs: 4000, error: 'unreachable', countAttempt: false });
  });

  it('broadcast: pending and too few confirmations wait; enough or final confirm; a failure fails', () => {
    expect(nextStep('broadcast', { ok: { state: 'pending' } }, 0, rules)).toEqual({ kind: 'wait', retryInMs: 1000, countAttempt: false });
    expect(nextStep('broadcast', { ok: { state: 'included', confirmations: 1n, final: false } }, 0, rules)).toMatchObject({ kind: 'wait', confirmations: 1n });
    expect(nextStep('broadcast', { ok: { state: 'included', confirmations: 2n, final: false } }, 0, rules)).toMatchObject({ kind: 'transition', to: 'confirmed' });
    expect(nextStep('broadcast', { ok: { state: 'included', confirmations: 0n, final: true } }, 0, rules)).toMatchObject({ kind: 'transition', to: 'confirmed', reason: 'final on chain' });
    expect(nextStep('broadcast', { ok: { state: 'failed', reason: 'the transaction reverted' } }, 0, rules)).toEqual({ kind: 'transition', to: 'failed', reason: 'the transaction reverted' });
  });

  it('broadcast: an expired Solana blockhash fails with its code and reason; a Solana transaction not found before that waits', () => {
    const reason = 'blockhash expired at block height 150 (now 151): the transaction can no longer land';
    expect(nextStep('broadcast', { ok: { state: 'failed', code: 'blockhash_expired', reason } }, 0, rules)).toEqual({ kind: 'transition', to: 'failed', reason, code: 'blockhash_expired' });
    expect(nextStep('broadcast', { ok: { state: 'pending' } }, 7, rules)).toEqual({ kind: 'wait', retryInMs: 1000, countAttempt: false });
    // A status check that could not reach the node is never a verdict.
    expect(nextStep('broadcast', { error: 'getBlockHeight: unreachable' }, 0, rules)).toMatchObject({ kind: 'wait', countAttempt: false });
  });
});

interface HardhatServer { listen(): Promise<AddressInfo>; close(): Promise<void> }
interface Provider { request(args: { method: string; params?: unknown[] }): Promise<unknown> }

const CHAIN_ID = 31337; // Hardhat's default
const funded = (() => {
  const sk = keccak_256(new TextEncoder().encode('custos/broadcast-test/hot-eth'));
  return { sk, address: addressOfPublicKey(secp256k1.getPublicKey(sk)) };
})();
const broke = keccak_256(new TextEncoder().encode('custos/broadcast-test/unfunded'));

let server: HardhatServer;
let rpc: JsonRpc;
let configDir: string;

beforeAll(async () => {
  configDir = mkdtempSync(join(tmpdir(), 'custos-hardhat-rpc-'));
  writeFileSync(join(configDir, 'hardhat.config.cjs'), `module.exports = { networks: { hardhat: { chainId: ${CHAIN_ID} } } };\n`);
  process.env.HARDHAT_CONFIG = join(configDir, 'hardhat.config.cjs');
  const require = createRequire(import.meta.url);
  const provider = (require('hardhat') as { network: { provider: Provider } }).network.provider;
  // Hardhat 2's own JSON-RPC server (what `hardhat node` runs), here in process on a free port.
  const { JsonRpcServer } = require('hardhat/internal/hardhat-network/jsonrpc/server') as { JsonRpcServer: new (c: object) => HardhatServer };
  server = new JsonRpcServer({ hostname: '127.0.0.1', port: 0, provider });
  const addr = await server.listen();
  rpc = httpJsonRpc(`http://127.0.0.1:${addr.port}`);
  await rpc.request('hardhat_setBalance', [funded.address, '0x' + (10n ** 20n).toString(16)]);
}, 60_000);

afterAll(async () => {
  await server?.close();
  if (configDir) rmSync(configDir, { recursive: true, force: true });
});

describe.each(TEST_DBS)('broadcast worker, Ethereum through Hardhat over HTTP JSON-RPC ($name)', (tdb) => {
  let db: Db;
  const clock = manualClock(Date.now());

  beforeAll(async () => {
    db = await tdb.open();
    await seedStarter(db, { customerId: 'c0', now: clock.now() });
    await db.tx((q) => bindAccountKey(q, 'hot-eth', { keyId: 'test-plain-key', address: funded.address }));
    // The hot wallet's next nonce follows the chain's (the other store variant used the first ones).
    const n = BigInt(String(await rpc.request('eth_getTransactionCount', [funded.address, 'pending'])));
    await db.query('UPDATE accounts SET next_nonce = $1 WHERE id = $2', [n.toString(), 'hot-eth']);
  });
  afterAll(async () => db?.close());

  /** An ETH withdrawal through intake, then signed (plain key) and stored as the signing worker would. */
  async function signedWithdrawal(sk: Uint8Array, to: string, amount = '0.01'): Promise<string> {
    const customerId = `c-${bytesToHex(randomBytes(4))}`;
    await db.tx((q) => createCustomer(q, { id: customerId, name: customerId }));
    const credentialId = (await createCredential(db, { customerId, scopes: ['withdraw'] }, clock)).credentialId;
    const { withdrawal: w } = await submitWithdrawal(db, clock, {
      customerId, credentialId, idempotencyKey: `k-${bytesToHex(randomBytes(6))}`, request: { chain: 'ethereum', asset: 'ETH', to, amount },
    });
    expect(w.status).toBe('approved');
    const unsigned = await buildWithdrawalTx(
      { id: w.id, chain: 'ethereum', asset: 'ETH', to: w.to, amount: w.amount as bigint, fee: w.fee as bigint, nonce: w.nonce },
      { chain: 'ethereum', address: funded.address }, { ethereum: { chainId: CHAIN_ID } },
    );
    const sig = secp256k1.Signature.fromBytes(secp256k1.sign(keccak_256(unsigned.bytes), sk, { prehash: false, format: 'recovered' }), 'recovered');
    const signed = assemble(unsigned, { r: sig.r, s: sig.s, recovery: sig.recovery as number });
    await db.tx(async (q) => {
      const now = clock.now();
      await transitionWithdrawal(q, w.id, 'approved', 'signing', null, now);
      await leaseOutbound(q, w.id, { owner: 'test', leaseUntil: now + 60_000, now });
      await recordSigned(q, w.id, 'test', { rawTx: signed.raw, txHash: signed.id, signers: ['plain-key'], now });
      await transitionWithdrawal(q, w.id, 'signing', 'signed', null, now);
    });
    return w.id;
  }

  const trail = async (id: string) => (await db.query<{ body: string }>(
    "SELECT body FROM audit_entries WHERE subject = $1 AND action = 'withdrawal.transition' ORDER BY id", [`withdrawal:${id}`],
  )).map((r) => (JSON.parse(r.body) as { data: { from: string; to: string } }).data).map((d) => `${d.from}→${d.to}`);

  it('signed → broadcast → confirmed after the required confirmations; the receipt names the wallet as sender', async () => {
    const to = '0x' + bytesToHex(randomBytes(20));
    const id = await signedWithdrawal(funded.sk, to);
    const worker = new BroadcastWorker({ db, broadcasters: { ethereum: ethereumBroadcaster(rpc) }, confirmations: { ethereum: 2 }, clock, pollMs: 1000 });
    expect((await worker.runOnce()).broadcast).toEqual([id]);
    expect((await getWithdrawal(db, id))?.status).toBe('broadcast');
    const ob = await getOutbound(db, id);
    const receipt = (await rpc.request('eth_getTransactionReceipt', [ob?.txHash])) as { from: string; status: string };
    expect(receipt.from.toLowerCase()).toBe(funded.address.toLowerCase());
    expect(receipt.status).toBe('0x1');
    expect(BigInt(String(await rpc.request('eth_getBalance', [to, 'latest'])))).toBe(10n ** 16n);
    // Mined in one block: 1 confirmation of the 2 required.
    clock.advance(1001);
    expect((await worker.runOnce()).waiting).toEqual([id]);
    expect((await getOutbound(db, id))?.confirmations).toBe(1n);
    await rpc.request('evm_mine', []);
    clock.advance(1001);
    expect((await worker.runOnce()).confirmed).toEqual([id]);
    expect((await getWithdrawal(db, id))?.status).toBe('confirmed');
    expect((await trail(id)).slice(-2)).toEqual(['signed→broadcast', 'broadcast→confirmed']);
  }, 30_000);

  it('an unreachable endpoint leaves it signed (no attempt counted); a chain without a broadcaster is not touched', async () => {
    const id = await signedWithdrawal(funded.sk, '0x' + bytesToHex(randomBytes(20)));
    const down: Broadcaster = ethereumBroadcaster(httpJsonRpc('http://127.0.0.1:9', { timeoutMs: 2000 }));
    const worker = new BroadcastWorker({ db, broadcasters: { ethereum: down }, clock });
    expect((await worker.runOnce()).waiting).toEqual([id]);
    const ob = await getOutbound(db, id);
    expect(ob?.broadcastAttempts).toBe(0);
    expect(ob?.lastError).toMatch(/unreachable/);
    expect((await getWithdrawal(db, id))?.status).toBe('signed');
    const solanaOnly = new BroadcastWorker({ db, broadcasters: { solana: solanaBroadcaster(rpc) }, clock });
    clock.advance(60 * 60_000);
    expect((await solanaOnly.runOnce()).waiting).toEqual([]);
    expect((await getWithdrawal(db, id))?.status).toBe('signed');
    // Then the endpoint is back: it goes out.
    const up = new BroadcastWorker({ db, broadcasters: { ethereum: ethereumBroadcaster(rpc) }, clock });
    expect((await up.runOnce()).broadcast).toEqual([id]);
  }, 30_000);
  // Last: its nonce is never used on chain, which would hold up every later transaction of the wallet.
  it('a transaction the node refuses (signed by a key that cannot pay) is retried, then fails with the node\'s reason', async () => {
    const id = await signedWithdrawal(broke, '0x' + bytesToHex(randomBytes(20)));
    const worker = new BroadcastWorker({ db, broadcasters: { ethereum: ethereumBroadcaster(rpc) }, clock, retryBaseMs: 1000, maxSendAttempts: 2 });
    expect((await worker.runOnce()).waiting).toEqual([id]);
    const after1 = await getOutbound(db, id);
    expect(after1?.broadcastAttempts).toBe(1);
    expect(after1?.lastError).toMatch(/^eth_sendRawTransaction: /);
    expect((await worker.runOnce()).waiting).toEqual([]); // not due yet
    clock.advance(2001);
    expect((await worker.runOnce()).failed).toEqual([id]);
    const w = await getWithdrawal(db, id);
    expect(w?.status).toBe('failed');
    expect(w?.decisions.at(-1)).toMatchObject({ stage: 'signing', outcome: 'reject', reasons: [{ code: 'broadcast_refused' }] });
    expect((await trail(id)).at(-1)).toBe('signed→failed');
  }, 30_000);

});

describe.each(TEST_DBS)('broadcast worker, Solana through litesvm: the blockhash lifetime ($name)', (tdb) => {
  let db: Db;
  const clock = manualClock(Date.now());
  const sk = keccak_256(new TextEncoder().encode('custos/broadcast-test/hot-sol'));
  const wallet = base58.encode(ed25519.getPublicKey(sk));
  const solAddress = (): string => base58.encode(ed25519.getPublicKey(randomBytes(32)));

  beforeAll(async () => {
    db = await tdb.open();
    await seedStarter(db, { customerId: 'c0', now: clock.now() });
    await db.tx((q) => bindAccountKey(q, 'hot-sol', { keyId: 'test-plain-ed25519', address: wallet }));
  });
  afterAll(async () => db?.close());

  /** A node (litesvm) that holds what it takes until `land`, and the hot wallet funded on it. */
  function node(): { rpc: LitesvmRpc; svm: LiteSVM } {
    const svm = new LiteSVM();
    svm.airdrop(address(wallet), lamports(10n ** 10n));
    return { rpc: litesvmRpc(svm, { hold: true, afterAnswer: (m, r) => hooks.afterAnswer?.(m, r) }), svm };
  }
  const hooks: { afterAnswer?: ((method: string, result: unknown) => void) | undefined } = {};

  /**
   * A SOL withdrawal through intake, planned with a blockhash from `rpc` and stored as the signing
   * worker does (the plan with its lastValidBlockHeight, then the signed transaction; plain key).
   */
  async function signedWithdrawal(rpc: LitesvmRpc): Promise<{ id: string; txHash: string; to: string; lastValidBlockHeight: bigint }> {
    const customerId = `c-${bytesToHex(randomBytes(4))}`;
    await db.tx((q) => createCustomer(q, { id: customerId, name: customerId }));
    const credentialId = (await createCredential(db, { customerId, scopes: ['withdraw'] }, clock)).credentialId;
    const to = solAddress();
    const { withdrawal: w } = await submitWithdrawal(db, clock, {
      customerId, credentialId, idempotencyKey: `k-${bytesToHex(randomBytes(6))}`, request: { chain: 'solana', asset: 'SOL', to, amount: '0.5' },
    });
    expect(w.status).toBe('approved');
    const unsigned = await buildWithdrawalTx(
      { id: w.id, chain: 'solana', asset: 'SOL', to: w.to, amount: w.amount as bigint, fee: w.fee as bigint, nonce: w.nonce },
      { chain: 'solana', address: wallet }, { solana: solanaFacts(rpc) },
    );
    const lastValidBlockHeight = unsigned.lastValidBlockHeight as bigint;
    expect(lastValidBlockHeight).toBe(rpc.height() + 150n);
    const digest = solana.signingDigest(unsigned);
    const signed = solana.assemble(unsigned, ed25519.sign(digest, sk));
    await db.tx(async (q) => {
      const now = clock.now();
      await transitionWithdrawal(q, w.id, 'approved', 'signing', null, now);
      await leaseOutbound(q, w.id, { owner: 'test', leaseUntil: now + 60_000, now });
      expect(await savePlan(q, w.id, 'test', { keyId: 'test-plain-ed25519', unsignedTx: unsigned.bytes, digest, authorization: { test: true }, lastValidBlockHeight }, now)).toBe(true);
      await recordSigned(q, w.id, 'test', { rawTx: signed.raw, txHash: signed.id, signers: ['plain-key'], now });
      await transitionWithdrawal(q, w.id, 'signing', 'signed', null, now);
    });
    expect((await getOutbound(db, w.id))?.lastValidBlockHeight).toBe(lastValidBlockHeight);
    return { id: w.id, txHash: signed.id, to, lastValidBlockHeight };
  }

  const trail = async (id: string) => (await db.query<{ body: string }>(
    "SELECT body FROM audit_entries WHERE subject = $1 AND action = 'withdrawal.transition' ORDER BY id", [`withdrawal:${id}`],
  )).map((r) => (JSON.parse(r.body) as { data: { from: string; to: string; reason?: string; code?: string } }).data);

  const worker = (rpc: LitesvmRpc, o: { maxSendAttempts?: number } = {}) =>
    new BroadcastWorker({ db, broadcasters: { solana: solanaBroadcaster(rpc) }, clock, pollMs: 1000, ...o });
  /** The next pass, after the poll interval. */
  const poll = async (wk: BroadcastWorker) => {
    clock.advance(1001);
    return wk.runOnce();
  };

  it('taken but never run: broadcast while the chain is at or below lastValidBlockHeight, then failed with the reason (audited)', async () => {
    const { rpc, svm } = node();
    const { id, txHash, to, lastValidBlockHeight } = await signedWithdrawal(rpc);
    const wk = worker(rpc);
    expect((await wk.runOnce()).broadcast).toEqual([id]);
    expect(rpc.held.has(txHash)).toBe(true);
    // Not found, not expired: keeps polling, however often.
    for (const h of [rpc.height() + 1n, lastValidBlockHeight - 1n, lastValidBlockHeight]) {
      rpc.advanceTo(h);
      expect((await poll(wk)).waiting).toEqual([id]);
      expect((await getWithdrawal(db, id))?.status).toBe('broadcast');
    }
    rpc.advanceTo(lastValidBlockHeight + 1n);
    expect((await poll(wk)).failed).toEqual([id]);
    const reason = `blockhash expired at block height ${lastValidBlockHeight} (now ${lastValidBlockHeight + 1n}): the transaction can no longer land`;
    const w = await getWithdrawal(db, id);
    expect(w?.status).toBe('failed');
    expect(w?.decisions.at(-1)).toMatchObject({ stage: 'signing', outcome: 'reject', reasons: [{ code: 'blockhash_expired', message: reason }] });
    expect((await getOutbound(db, id))?.lastError).toBe(reason);
    expect((await trail(id)).slice(-2)).toEqual([
      expect.objectContaining({ from: 'signed', to: 'broadcast' }),
      expect.objectContaining({ from: 'broadcast', to: 'failed', code: 'blockhash_expired', reason }),
    ]);
    // The chain agrees: it can no longer land, and nothing moved.
    expect(() => rpc.land(txHash)).toThrow(/expired/);
    expect(rpc.sent).toEqual([]);
    expect(svm.getBalance(address(to))).toBeNull();
    expect(svm.getBalance(address(wallet))).toBe(10n ** 10n);
    expect((await poll(wk)).failed).toEqual([]);
  }, 30_000);

  it('run at lastValidBlockHeight, seen after the height passed: confirmed, not failed', async () => {
    const { rpc, svm } = node();
    const { id, txHash, to, lastValidBlockHeight } = await signedWithdrawal(rpc);
    const wk = worker(rpc);
    expect((await wk.runOnce()).broadcast).toEqual([id]);
    rpc.advanceTo(lastValidBlockHeight);
    rpc.land(txHash);
    expect(svm.getBalance(address(to))).toBe(500_000_000n);
    rpc.advanceTo(lastValidBlockHeight + 3n);
    expect((await poll(wk)).confirmed).toEqual([id]);
    expect((await getWithdrawal(db, id))?.status).toBe('confirmed');
    expect((await trail(id)).map((d) => `${d.from}→${d.to}`).slice(-2)).toEqual(['signed→broadcast', 'broadcast→confirmed']);
  }, 30_000);

  it('run between the status read that missed it and the height read that is past: confirmed, not failed', async () => {
    const { rpc } = node();
    const { id, txHash, lastValidBlockHeight } = await signedWithdrawal(rpc);
    const wk = worker(rpc);
    expect((await wk.runOnce()).broadcast).toEqual([id]);
    rpc.advanceTo(lastValidBlockHeight);
    // Right after the node answers "not found", the transaction lands in the last valid block and
    // the chain moves on past it.
    let raced = false;
    hooks.afterAnswer = (method, result) => {
      if (raced || method !== 'getSignatureStatuses' || (result as { value: unknown[] }).value[0] !== null) return;
      raced = true;
      rpc.land(txHash);
      rpc.advanceTo(lastValidBlockHeight + 1n);
    };
    try {
      expect((await poll(wk)).confirmed).toEqual([id]);
    } finally {
      hooks.afterAnswer = undefined;
    }
    expect(raced).toBe(true);
    expect((await getWithdrawal(db, id))?.status).toBe('confirmed');
  }, 30_000);

  it('run on chain while the worker never heard back, re-sent after the blockhash expired: taken, then confirmed (not refused)', async () => {
    const { rpc } = node();
    const { id, txHash, lastValidBlockHeight } = await signedWithdrawal(rpc);
    const raw = (await getOutbound(db, id))?.rawTx as Uint8Array;
    // An earlier send reached the node (its answer was lost), the transaction ran, the chain moved on.
    await rpc.request('sendTransaction', [Buffer.from(raw).toString('base64'), { encoding: 'base64' }]);
    rpc.land(txHash);
    rpc.advanceTo(lastValidBlockHeight + 10n);
    const wk = worker(rpc, { maxSendAttempts: 1 });
    expect((await wk.runOnce()).broadcast).toEqual([id]);
    expect((await poll(wk)).confirmed).toEqual([id]);
    expect((await getWithdrawal(db, id))?.status).toBe('confirmed');
  }, 30_000);
});
