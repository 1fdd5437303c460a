// The broadcast path against software nobody here wrote: signed Ethereum withdrawals go to Hardhat 2's
// in-process node (EDR) through a real HTTP JSON-RPC endpoint (Hardhat's own JsonRpcServer, in this
// process), are mined, and are tracked signed → broadcast → confirmed | failed with audit entries.
// ECDSA here is a plain secp256k1 key (the threshold ECDSA driver is another engineer's work); the
// receipt's `from` must be that key's address.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { keccak_256 } from '@noble/hashes/sha3.js';
import { bytesToHex, randomBytes } from '@noble/hashes/utils.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../core/clock.js';
import { createCredential } from '../gateway/credentials.js';
import { submitWithdrawal } from '../pipeline/intake.js';
import { createCustomer } from '../store/customers.js';
import type { Db } from '../store/db.js';
import { bindAccountKey, getOutbound, leaseOutbound, recordSigned } from '../store/outbound.js';
import { seedStarter } from '../store/seed.js';
import { TEST_DBS } from '../store/test-helpers/db.js';
import { getWithdrawal, transitionWithdrawal } from '../store/withdrawals.js';
import { ethereumBroadcaster, solanaBroadcaster, type Broadcaster } from './broadcast.js';
import { BroadcastWorker, nextStep } from './broadcast-worker.js';
import { addressOfPublicKey, assemble } from './ethereum/tx.js';
import { buildWithdrawalTx } from './plan.js';
import { httpJsonRpc, type JsonRpc } from './rpc.js';

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
    expect(nextStep('broadcast', { ok: { state: 'failed', reason: 'the transaction reverted' } }, 0, rules)).toMatchObject({ kind: 'transition', to: 'failed' });
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
