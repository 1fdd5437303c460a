/**
 * Fiat–Shamir transcript: a domain-separated SHA-256 absorb of labelled, length-prefixed items,
 * squeezed through SHAKE256 to derive challenges (integers in ±q, elements of Z_N, bits) by
 * rejection sampling. Every proof binds the protocol tag, the session id, the prover's id and all
 * of its public inputs before its first message.
 *
 * @example
 *   const t = new Transcript('custos/cggmp21/enc', session, 'alice');
 *   t.int('N0', n0); t.int('K', k);
 *   const e = t.challengeSigned(Q); // uniform in [-Q, Q]
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { shake256 } from '@noble/hashes/sha3.js';
import { utf8ToBytes } from '@noble/hashes/utils.js';
import { bitLength, fromBytes, toBytes } from '../../bigint/index.js';

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n);
  return b;
}

export class Transcript {
  private readonly h = sha256.create();
  private counter = 0;

  constructor(domain: string, session: string, prover: string) {
    this.bytes('domain', utf8ToBytes(domain));
    this.bytes('session', utf8ToBytes(session));
    this.bytes('prover', utf8ToBytes(prover));
  }

  bytes(label: string, data: Uint8Array): this {
    const l = utf8ToBytes(label);
    this.h.update(u32(l.length)).update(l).update(u32(data.length)).update(data);
    return this;
  }

  /** Absorb a signed integer (sign byte + magnitude). */
  int(label: string, x: bigint): this {
    const mag = toBytes(x < 0n ? -x : x);
    const b = new Uint8Array(mag.length + 1);
    b[0] = x < 0n ? 1 : 0;
    b.set(mag, 1);
    return this.bytes(label, b);
  }

  ints(label: string, xs: readonly bigint[]): this {
    this.bytes(label, u32(xs.length));
    xs.forEach((x, i) => this.int(`${label}[${i}]`, x));
    return this;
  }

  /** `n` pseudo-random bytes bound to everything absorbed so far (the state is not consumed). */
  squeeze(n: number): Uint8Array {
    const seed = this.h.clone().digest();
    const ctr = u32(this.counter++);
    return shake256.create({ dkLen: n }).update(seed).update(ctr).digest();
  }

  /** Uniform integer in [0, bound). */
  challengeBelow(bound: bigint): bigint {
    const bits = bitLength(bound - 1n);
    const bytes = Math.ceil(bits / 8) + 0;
    const excess = BigInt(bytes * 8 - bits);
    for (;;) {
      const x = fromBytes(this.squeeze(bytes)) >> excess;
      if (x < bound) return x;
    }
  }

  /** Uniform integer in [-bound, bound] (the paper's e ← ±q). */
  challengeSigned(bound: bigint): bigint {
    return this.challengeBelow(2n * bound + 1n) - bound;
  }

  /** `count` challenge bits. */
  challengeBits(count: number): boolean[] {
    const b = this.squeeze(Math.ceil(count / 8));
    return Array.from({ length: count }, (_, i) => (((b[i >> 3] as number) >> (i & 7)) & 1) === 1);
  }
}
