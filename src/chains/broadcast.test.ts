// The Solana status rule (pure), then the Solana broadcaster against litesvm behind the JSON-RPC
// adapter (src/chains/test-helpers/litesvm-rpc.ts): a transaction the node took but the chain never
// ran is pending until the finalized block height passes its lastValidBlockHeight, then failed; a
// transaction the chain ran is never called expired.
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { base58 } from '@scure/base';
import { address, lamports } from '@solana/kit';
import { LiteSVM } from 'litesvm';
import { describe, expect, it } from 'vitest';
import { solanaBroadcaster, solanaFacts, solanaTxStatus } from './broadcast.js';
import { RpcError, type JsonRpc } from './rpc.js';
import { assemble, buildUnsigned, signingDigest } from './solana/tx.js';
import { BLOCKHASH_VALID_BLOCKS, litesvmRpc, type LitesvmRpc } from './test-helpers/litesvm-rpc.js';

describe('solanaTxStatus (pure)', () => {
  const at = (blockHeight: bigint) => ({ lastValidBlockHeight: 1_000n, blockHeight });

  it('a signature the node does not know is pending up to and at lastValidBlockHeight, failed above it', () => {
    expect(solanaTxStatus(null)).toEqual({ state: 'pending' });
    expect(solanaTxStatus(undefined, at(10n))).toEqual({ state: 'pending' });
    expect(solanaTxStatus(null, at(1_000n))).toEqual({ state: 'pending' });
    expect(solanaTxStatus(null, at(1_001n))).toEqual({
      state: 'failed', code: 'blockhash_expired', reason: 'blockhash expired at block height 1000 (now 1001): the transaction can no longer land',
    });
  });

  it('a signature the node knows is never expired, whatever the height; an error in it is a failure', () => {
    expect(solanaTxStatus({ err: null, confirmations: null, confirmationStatus: 'finalized' }, at(5_000n))).toEqual({ state: 'included', confirmations: 32n, final: true });
    expect(solanaTxStatus({ err: null, confirmations: 3, confirmationStatus: 'confirmed' }, at(5_000n))).toEqual({ state: 'included', confirmations: 3n, final: false });
    expect(solanaTxStatus({ err: { InstructionError: [0, 'Custom'] }, confirmations: 1 }, at(5_000n))).toEqual({
      state: 'failed', reason: 'the transaction failed: {"InstructionError":[0,"Custom"]}',
    });
  });
});

describe('solanaBroadcaster through litesvm (JSON-RPC adapter)', () => {
  const sk = sha256(new TextEncoder().encode('custos/broadcast-test/solana-wallet'));
  const wallet = base58.encode(ed25519.getPublicKey(sk));
  const customer = base58.encode(ed25519.getPublicKey(sha256(new TextEncoder().encode('custos/broadcast-test/solana-customer'))));

  /** A funded wallet, a node that holds what it takes, and a transfer signed with a blockhash from it. */
  async function setup(): Promise<{ rpc: LitesvmRpc; calls: string[]; raw: Uint8Array; id: string; lastValidBlockHeight: bigint }> {
    const svm = new LiteSVM();
    svm.airdrop(address(wallet), lamports(10n ** 10n));
    const rpc = litesvmRpc(svm, { hold: true });
    const calls: string[] = [];
    const recording: LitesvmRpc = { ...rpc, request: (m, p) => (calls.push(m), rpc.request(m, p)) };
    const { blockhash, lastValidBlockHeight } = await solanaFacts(recording).recentBlockhash();
    expect(lastValidBlockHeight).toBe(rpc.height() + BLOCKHASH_VALID_BLOCKS);
    const unsigned = buildUnsigned({ to: customer, amount: 1_000_000n }, { from: wallet, recentBlockhash: blockhash });
    const signed = assemble(unsigned, ed25519.sign(signingDigest(unsigned), sk));
    calls.length = 0;
    return { rpc: recording, calls, raw: signed.raw, id: signed.id, lastValidBlockHeight: lastValidBlockHeight as bigint };
  }

  it('taken but never run: pending (one status read while found or without a lifetime), failed once the height is past', async () => {
    const { rpc, calls, raw, id, lastValidBlockHeight } = await setup();
    const b = solanaBroadcaster(rpc);
    expect(await b.send(raw, id)).toEqual({ accepted: true });
    expect(rpc.held.has(id)).toBe(true);
    calls.length = 0;
    expect(await b.status(id, { lastValidBlockHeight })).toEqual({ state: 'pending' });
    expect(calls).toEqual(['getSignatureStatuses', 'getBlockHeight']);
    rpc.advanceTo(lastValidBlockHeight);
    expect(await b.status(id, { lastValidBlockHeight })).toEqual({ state: 'pending' });
    rpc.advanceTo(lastValidBlockHeight + 1n);
    calls.length = 0;
    expect(await b.status(id, { lastValidBlockHeight })).toEqual({
      state: 'failed', code: 'blockhash_expired',
      reason: `blockhash expired at block height ${lastValidBlockHeight} (now ${lastValidBlockHeight + 1n}): the transaction can no longer land`,
    });
    expect(calls).toEqual(['getSignatureStatuses', 'getBlockHeight', 'getSignatureStatuses']);
    // Without a known lifetime (a row signed before it was kept) nothing is ever called expired.
    calls.length = 0;
    expect(await b.status(id)).toEqual({ state: 'pending' });
    expect(calls).toEqual(['getSignatureStatuses']);
    // And the chain agrees: it can no longer land.
    expect(() => rpc.land(id)).toThrow(/expired/);
  });

  it('run at lastValidBlockHeight and read after the height passed: included, never expired', async () => {
    const { rpc, calls, raw, id, lastValidBlockHeight } = await setup();
    const b = solanaBroadcaster(rpc);
    await b.send(raw, id);
    rpc.advanceTo(lastValidBlockHeight);
    rpc.land(id);
    rpc.advanceTo(lastValidBlockHeight + 40n);
    calls.length = 0;
    expect(await b.status(id, { lastValidBlockHeight })).toEqual({ state: 'included', confirmations: 32n, final: true });
    expect(calls).toEqual(['getSignatureStatuses']);
  });

  it('a refused re-send of a transaction the chain already ran (its blockhash expired since) counts as taken; another refusal stays one', async () => {
    const { rpc, raw, id, lastValidBlockHeight } = await setup();
    const b = solanaBroadcaster(rpc);
    await b.send(raw, id);
    rpc.land(id);
    rpc.advanceTo(lastValidBlockHeight + 1n);
    await expect(rpc.request('sendTransaction', [Buffer.from(raw).toString('base64'), { encoding: 'base64' }])).rejects.toThrow(/Blockhash not found/);
    expect(await b.send(raw, id)).toEqual({ accepted: true });
    // A transaction the chain never ran, refused for the same reason: a refusal.
    const other = await setup();
    other.rpc.advanceTo(other.lastValidBlockHeight + 1n);
    expect(await solanaBroadcaster(other.rpc).send(other.raw, other.id)).toEqual({ accepted: false, reason: 'sendTransaction: Transaction simulation failed: Blockhash not found' });
  });

  it('a block height that is not a number is an error, not a verdict', async () => {
    const odd: JsonRpc = {
      async request(method) {
        return method === 'getBlockHeight' ? '12' : { value: [null] };
      },
    };
    await expect(solanaBroadcaster(odd).status('x', { lastValidBlockHeight: 1n })).rejects.toBeInstanceOf(RpcError);
  });
});
