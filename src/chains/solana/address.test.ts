import { readFileSync } from 'node:fs';
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { base58 } from '@scure/base';
import { describe, expect, it } from 'vitest';
import { NETWORKS } from '../../core/chain.js';
import { CustosError } from '../../core/errors.js';
import { validateAddress } from '../address.js';
import { decodeSolanaAddress, solanaAddressBytes, validateSolanaAddress } from './address.js';

interface Vectors {
  on_curve: { address: string }[];
  off_curve: { address: string }[];
  program_derived: {
    program_id: string;
    cases: { seeds_utf8?: string[]; seeds_base58?: string[]; address: string }[];
  };
  system_program: string;
}
const v = JSON.parse(readFileSync(new URL('./testdata/addresses.json', import.meta.url), 'utf8')) as Vectors;
const enc = new TextEncoder();

/** Solana's program address: sha256(seeds ‖ program id ‖ "ProgramDerivedAddress"). Test-only re-derivation. */
function programAddress(seeds: Uint8Array[], programId: Uint8Array): Uint8Array {
  const parts = [...seeds, programId, enc.encode('ProgramDerivedAddress')];
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  return sha256(all);
}

describe('Solana on-curve addresses', () => {
  it.each(v.on_curve.map((x) => x.address))('%s is accepted on every network', (address) => {
    for (const network of NETWORKS) {
      expect(validateAddress('solana', network, address)).toEqual({ ok: true, normalized: address, kind: 'ed25519_pubkey' });
    }
    expect(solanaAddressBytes(address)).toHaveLength(32);
  });

  it('accepts public keys of freshly derived Ed25519 key pairs', () => {
    for (let i = 1; i <= 16; i++) {
      const pub = ed25519.getPublicKey(new Uint8Array(32).fill(i));
      const address = base58.encode(pub);
      expect(validateSolanaAddress(address)).toMatchObject({ ok: true });
      expect(solanaAddressBytes(address)).toEqual(pub);
    }
  });
});

describe('Solana off-curve and program-derived addresses', () => {
  it.each(v.off_curve.map((x) => x.address))('%s is refused as not on the curve', (address) => {
    expect(validateAddress('solana', 'mainnet', address)).toMatchObject({ ok: false, code: 'address_not_on_curve' });
  });

  it.each(v.program_derived.cases)('PDA $address is re-derived from its seeds and refused', (c) => {
    const seeds = c.seeds_utf8 ? c.seeds_utf8.map((s) => enc.encode(s)) : c.seeds_base58!.map((s) => base58.decode(s));
    const derived = programAddress(seeds, base58.decode(v.program_derived.program_id));
    expect(base58.encode(derived)).toBe(c.address);
    expect(validateAddress('solana', 'devnet', c.address)).toMatchObject({ ok: false, code: 'address_not_on_curve' });
    expect(() => solanaAddressBytes(c.address)).toThrow(CustosError);
  });
});

describe('Solana special points', () => {
  it('the System Program id (32 zero bytes) is on the curve but of small order, so it is refused', () => {
    const zero = base58.decode(v.system_program);
    expect(zero).toEqual(new Uint8Array(32));
    // On the curve: decompression succeeds (y = 0, x = sqrt(-1)).
    const p = ed25519.Point.fromBytes(zero, false);
    expect(p.isSmallOrder()).toBe(true);
    expect(validateAddress('solana', 'mainnet', v.system_program)).toMatchObject({ ok: false, code: 'address_small_order' });
  });

  it('refuses the identity point', () => {
    const identity = new Uint8Array(32);
    identity[0] = 1;
    expect(validateSolanaAddress(base58.encode(identity))).toMatchObject({ ok: false, code: 'address_small_order' });
  });

  it('refuses non-canonical encodings (y = p, and x = 0 with the sign bit set)', () => {
    const yIsP = new Uint8Array(32).fill(0xff);
    yIsP[0] = 0xed;
    yIsP[31] = 0x7f;
    expect(validateSolanaAddress(base58.encode(yIsP))).toMatchObject({ ok: false, code: 'address_not_on_curve' });
    const negZero = new Uint8Array(32);
    negZero[0] = 1;
    negZero[31] = 0x80;
    expect(validateSolanaAddress(base58.encode(negZero))).toMatchObject({ ok: false, code: 'address_not_on_curve' });
  });
});

describe('Solana format', () => {
  const good = v.on_curve[0]!.address;

  it.each([
    ['31 bytes', base58.encode(new Uint8Array(31).fill(7)), 'address_format'],
    ['33 bytes', base58.encode(new Uint8Array(33).fill(7)), 'address_too_long'],
    ['30 characters', good.slice(0, 30), 'address_format'],
    ['45 characters', good + 'z', 'address_too_long'],
    ['a zero digit', '0' + good.slice(1), 'address_format'],
    ['a capital O', 'O' + good.slice(1), 'address_format'],
    ['a capital I', 'I' + good.slice(1), 'address_format'],
    ['a lowercase l', 'l' + good.slice(1), 'address_format'],
    ['an Ethereum address', '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed', 'address_format'],
  ])('refuses %s', (_name, address, code) => {
    expect(validateAddress('solana', 'mainnet', address)).toMatchObject({ ok: false, code });
    expect(decodeSolanaAddress(address)).toMatchObject({ ok: false, code });
  });

  it('detects no typo by checksum (base58 has none) but still requires a curve point', () => {
    // Documented limitation: changing one character of an address gives another 32-byte value,
    // which is accepted when it happens to decode to a curve point (about half of all values).
    let onCurve = 0;
    let offCurve = 0;
    const alphabet = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
    for (const c of alphabet.slice(0, 40)) {
      const tampered = good.slice(0, 20) + c + good.slice(21);
      const r = validateSolanaAddress(tampered);
      if (r.ok) onCurve++;
      else if (r.code === 'address_not_on_curve') offCurve++;
    }
    expect(onCurve).toBeGreaterThan(0);
    expect(offCurve).toBeGreaterThan(0);
  });
});
