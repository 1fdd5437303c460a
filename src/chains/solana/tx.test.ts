// Solana transfers judged by software nobody here wrote: litesvm (the Solana runtime in process)
// must accept the FROST 3-of-5 Ed25519-signed transfer and move the balances, and refuse a wrong
// signature without moving anything.
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { address, getAddressDecoder, getBase58Decoder, getCompiledTransactionMessageDecoder, getCompiledTransactionMessageEncoder, getTransactionDecoder, lamports, type Transaction } from '@solana/kit';
import { FailedTransactionMetadata, LiteSVM, TransactionMetadata } from 'litesvm';
import { describe, expect, it } from 'vitest';
import { groupPublicKey, runLocal, startDkg, startSign, type FrostKeyShare, type FrostSignature } from '../../mpc/protocols/frost/index.js';
import type { Rng } from '../../mpc/protocols/round.js';
import type { UnsignedTx } from '../tx.js';
import { assemble, buildUnsigned, parseUnsigned, signingDigest, verifyMatches } from './tx.js';

function seededRng(seed: string): Rng {
  let counter = 0;
  return (n) => {
    const out = new Uint8Array(n);
    for (let off = 0; off < n; off += 32) out.set(sha256(new TextEncoder().encode(`${seed}/${counter++}`)).subarray(0, Math.min(32, n - off)), off);
    return out;
  };
}
const session = (label: string): string => bytesToHex(sha256(new TextEncoder().encode(label)));
const parties = ['node-1', 'node-2', 'node-3', 'node-4', 'node-5'];
const keys = runLocal(new Map(parties.map((p) => [p, startDkg({ suite: 'ed25519', session: session('sol-dkg'), self: p, parties, threshold: 3, rng: seededRng(`sol-dkg/${p}`) })])));
const walletKey = groupPublicKey(keys.get('node-1') as FrostKeyShare);
const wallet = getAddressDecoder().decode(walletKey) as string;

function frostSign(message: Uint8Array, signers: string[], label: string): Uint8Array {
  const s = session(label);
  const out = runLocal(new Map(signers.map((p) => [p, startSign({ key: keys.get(p) as FrostKeyShare, session: s, signers, message, rng: seededRng(`${label}/${p}`) })])));
  return (out.get(signers[0] as string) as FrostSignature).signature;
}

const customerSk = sha256(new TextEncoder().encode('custos/sol-test/customer'));
const customer = getAddressDecoder().decode(ed25519.getPublicKey(customerSk)) as string;
const attackerSk = sha256(new TextEncoder().encode('custos/sol-test/attacker'));
const attacker = getAddressDecoder().decode(ed25519.getPublicKey(attackerSk)) as string;
const SOL = 1_000_000_000n;
const asTx = (raw: Uint8Array): Transaction => getTransactionDecoder().decode(raw) as Transaction;

describe('solana transfer signed 3-of-5 by FROST Ed25519, run by litesvm', () => {
  it('litesvm accepts the transfer and the balances move by amount and fee', () => {
    const svm = new LiteSVM();
    svm.airdrop(address(wallet), lamports(10n * SOL));
    const amount = 2n * SOL + 123n;
    const unsigned = buildUnsigned({ to: customer, amount }, { from: wallet, recentBlockhash: svm.latestBlockhash() });
    const parsed = verifyMatches(unsigned, { to: customer, amount, asset: 'SOL' }, { from: wallet });
    expect(parsed).toMatchObject({ from: wallet, to: customer, amount, fee: 5000n, nonce: null });
    const signature = frostSign(signingDigest(unsigned), ['node-2', 'node-4', 'node-5'], 'sol-sign-1');
    expect(ed25519.verify(signature, unsigned.bytes, walletKey)).toBe(true);
    const signed = assemble(unsigned, signature);
    expect(signed.id).toBe(getBase58Decoder().decode(signature));
    const before = svm.getBalance(address(wallet)) as bigint;
    const result = svm.sendTransaction(asTx(signed.raw));
    expect(result, String(result)).toBeInstanceOf(TransactionMetadata);
    expect(svm.getBalance(address(customer))).toBe(amount);
    expect(before - (svm.getBalance(address(wallet)) as bigint)).toBe(amount + parsed.fee);
  });

  it('litesvm refuses a wrong signature and a signature over a changed message; nothing moves', () => {
    const svm = new LiteSVM();
    svm.airdrop(address(wallet), lamports(10n * SOL));
    const unsigned = buildUnsigned({ to: customer, amount: SOL }, { from: wallet, recentBlockhash: svm.latestBlockhash() });
    const good = frostSign(signingDigest(unsigned), ['node-1', 'node-2', 'node-3'], 'sol-sign-2');
    const signed = assemble(unsigned, good);
    // Wrong signature: one bit flipped (assemble refuses; forced onto the wire, the runtime refuses too).
    const flipped = good.slice();
    flipped[5] = (flipped[5] as number) ^ 1;
    expect(() => assemble(unsigned, flipped)).toThrow(expect.objectContaining({ code: 'tx_bad_signature' }));
    const forged = signed.raw.slice();
    forged.set(flipped, 1);
    expect(svm.sendTransaction(asTx(forged))).toBeInstanceOf(FailedTransactionMetadata);
    // Another key's signature over the same message.
    const other = ed25519.sign(unsigned.bytes, attackerSk);
    expect(() => assemble(unsigned, other)).toThrow(expect.objectContaining({ code: 'tx_bad_signature' }));
    forged.set(other, 1);
    expect(svm.sendTransaction(asTx(forged))).toBeInstanceOf(FailedTransactionMetadata);
    // The valid signature under a message whose amount was raised afterwards.
    const raised = buildUnsigned({ to: customer, amount: 5n * SOL }, { from: wallet, recentBlockhash: svm.latestBlockhash() });
    expect(() => assemble(raised, good)).toThrow(expect.objectContaining({ code: 'tx_bad_signature' }));
    const replayed = new Uint8Array([1, ...good, ...raised.bytes]);
    expect(svm.sendTransaction(asTx(replayed))).toBeInstanceOf(FailedTransactionMetadata);
    expect(svm.getBalance(address(customer)) ?? 0n).toBe(0n);
    expect(svm.getBalance(address(wallet))).toBe(10n * SOL);
    // And the real one goes through (the judge is not refusing everything).
    expect(svm.sendTransaction(asTx(signed.raw))).toBeInstanceOf(TransactionMetadata);
    expect(svm.getBalance(address(customer))).toBe(SOL);
  });
});

describe('solana unsigned messages: node-side checks', () => {
  const recentBlockhash = getBase58Decoder().decode(sha256(new TextEncoder().encode('blockhash')));
  const base = buildUnsigned({ to: customer, amount: SOL }, { from: wallet, recentBlockhash });
  const intent = { to: customer, amount: SOL };
  const decoded = getCompiledTransactionMessageDecoder().decode(base.bytes) as unknown as Record<string, unknown>;
  const reencode = (change: (m: Record<string, unknown>) => Record<string, unknown>): UnsignedTx =>
    ({ chain: 'solana', bytes: new Uint8Array(getCompiledTransactionMessageEncoder().encode(change({ ...decoded }) as never)) });

  it('round-trips and the digest is the message itself', () => {
    expect(parseUnsigned(base)).toMatchObject({ chain: 'solana', from: wallet, to: customer, amount: SOL, asset: 'SOL', recentBlockhash });
    expect(bytesToHex(signingDigest(base))).toBe(bytesToHex(base.bytes));
  });

  it('refuses a changed destination, amount, sender or asset', () => {
    const code = { code: 'tx_mismatch' };
    expect(() => verifyMatches(base, { to: attacker, amount: SOL })).toThrow(expect.objectContaining(code));
    expect(() => verifyMatches(base, { to: customer, amount: SOL + 1n })).toThrow(expect.objectContaining(code));
    expect(() => verifyMatches(base, { ...intent, asset: 'USDC' })).toThrow(expect.objectContaining(code));
    expect(() => verifyMatches(base, intent, { from: attacker })).toThrow(expect.objectContaining(code));
    const swapped = reencode((m) => ({ ...m, staticAccounts: [wallet, attacker, (decoded.staticAccounts as string[])[2]] }));
    expect(() => verifyMatches(swapped, intent)).toThrow(expect.objectContaining(code));
    const moreLamports = reencode((m) => {
      const ix = (decoded.instructions as { data: Uint8Array }[])[0] as { data: Uint8Array };
      const data = new Uint8Array(ix.data);
      data[11] = 1; // amount += 2^56
      return { ...m, instructions: [{ ...ix, data }] };
    });
    expect(() => verifyMatches(moreLamports, intent)).toThrow(expect.objectContaining(code));
  });

  it('refuses a second instruction, another program, swapped accounts, trailing bytes and garbage as malformed', () => {
    const bad = { code: 'tx_malformed' };
    const ix = (decoded.instructions as Record<string, unknown>[])[0] as Record<string, unknown>;
    expect(() => parseUnsigned(reencode((m) => ({ ...m, instructions: [ix, ix] })))).toThrow(expect.objectContaining(bad));
    expect(() => parseUnsigned(reencode((m) => ({ ...m, instructions: [{ ...ix, accountIndices: [1, 0] }] })))).toThrow(expect.objectContaining(bad));
    expect(() => parseUnsigned(reencode((m) => ({ ...m, instructions: [{ ...ix, programAddressIndex: 1 }] })))).toThrow(expect.objectContaining(bad));
    expect(() => parseUnsigned(reencode((m) => ({ ...m, instructions: [{ ...ix, data: new Uint8Array(12) }] })))).toThrow(expect.objectContaining(bad));
    expect(() => parseUnsigned(reencode((m) => ({ ...m, header: { numSignerAccounts: 2, numReadonlySignerAccounts: 0, numReadonlyNonSignerAccounts: 1 } })))).toThrow(expect.objectContaining(bad));
    expect(() => parseUnsigned({ chain: 'solana', bytes: new Uint8Array([...base.bytes, 0]) })).toThrow(expect.objectContaining(bad));
    expect(() => parseUnsigned({ chain: 'solana', bytes: new Uint8Array(2000) })).toThrow(expect.objectContaining(bad));
    expect(() => parseUnsigned({ chain: 'solana', bytes: new Uint8Array([1, 2, 3, 4]) })).toThrow(expect.objectContaining(bad));
    expect(() => parseUnsigned({ chain: 'ethereum', bytes: base.bytes })).toThrow(expect.objectContaining(bad));
    expect(() => assemble(base, new Uint8Array(63))).toThrow(expect.objectContaining({ code: 'tx_bad_signature' }));
  });

  it('refuses bad inputs when building', () => {
    expect(() => buildUnsigned({ to: customer, amount: 0n }, { from: wallet, recentBlockhash })).toThrow(expect.objectContaining({ code: 'tx_invalid_amount' }));
    expect(() => buildUnsigned({ to: wallet, amount: 1n }, { from: wallet, recentBlockhash })).toThrow(expect.objectContaining({ code: 'tx_mismatch' }));
    expect(() => buildUnsigned({ to: '11111111111111111111111111111111', amount: 1n }, { from: wallet, recentBlockhash })).toThrow(expect.objectContaining({ code: 'address_small_order' }));
    expect(() => buildUnsigned({ to: customer, amount: 1n }, { from: wallet, recentBlockhash: 'xyz' })).toThrow(expect.objectContaining({ code: 'tx_malformed' }));
  });
});
