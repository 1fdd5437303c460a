import { describe, expect, it } from 'vitest';
import { buildUnsigned } from '../../chains/solana/tx.js';
import { chainDigest } from './chain-digest.js';

const WALLET = '83astBRguLMdt2h5U1Tpdq5tjFoJ6noeGwaY3mDLVcri';
const CUSTOMER = '2iFZsRu4dQibj3vsKYBS7PhKt2LRqstUugqcgZgZoHDM';
const BLOCKHASH = 'EETubP5AKHgjPAhzPAFcb8BAY1hMH639CWCFTqi3hq1k';

describe('chainDigest (the node derives what it signs)', () => {
  it('parses a Solana transfer: the digest is the message, destination and amount come from the bytes', () => {
    const u = buildUnsigned({ to: CUSTOMER, amount: 1_500_000_000n }, { from: WALLET, recentBlockhash: BLOCKHASH as never });
    const d = chainDigest('solana', u.bytes);
    expect(d.digest).toEqual(u.bytes);
    expect(d.to).toBe(CUSTOMER);
    expect(d.amount).toBe(1_500_000_000n);
  });

  it('refuses bytes that are not a canonical transfer message (no raw signing path)', () => {
    const u = buildUnsigned({ to: CUSTOMER, amount: 1n }, { from: WALLET, recentBlockhash: BLOCKHASH as never });
    expect(() => chainDigest('solana', new TextEncoder().encode('sign me, anything'))).toThrow();
    expect(() => chainDigest('solana', new Uint8Array([...u.bytes, 0]))).toThrow(/canonically/);
  });

  it('refuses chains whose node-side parsing is not wired yet', () => {
    expect(() => chainDigest('ethereum', new Uint8Array(32))).toThrow(expect.objectContaining({ code: 'authorization_chain_unsupported' }));
    expect(() => chainDigest('raw', new Uint8Array(32))).toThrow(expect.objectContaining({ code: 'authorization_chain_unsupported' }));
  });
});
