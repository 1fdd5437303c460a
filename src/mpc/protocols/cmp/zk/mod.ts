/**
 * Π^mod (paper, Figure "Paillier-Blum Modulus ZK"): N = pq with p ≡ q ≡ 3 mod 4 and gcd(N, φ(N)) = 1.
 * Prover picks w with Jacobi(w, N) = -1; for each of m = STAT challenges y_i ∈ Z_N (Fiat–Shamir
 * over N and w) it sends x_i, a_i, b_i, z_i with
 *   x_i^4 = (-1)^a_i · w^b_i · y_i mod N   and   z_i^N = y_i mod N.
 * Verifier: N odd, N composite, w a unit of Jacobi symbol -1, every value in [1, N), both equations.
 * A prime power factor or a factor ≡ 1 mod 4 makes one of the two equations unsatisfiable for most y.
 *
 * @example
 *   const proof = proveMod(ctx, sk, rng); verifyMod(ctx, sk.pk.n, proof); // true
 */
import { CustosError } from '../../../../core/errors.js';
import {
  gcd,
  isProbablePrime,
  jacobi,
  mod,
  modInverse,
  modPow,
  modPowBlinded,
  randomUnit,
  type ByteSource,
} from '../../../bigint/index.js';
import { STAT } from '../params.js';
import { transcriptFor, type ProofContext } from './common.js';

export interface ModProof {
  readonly w: bigint;
  readonly x: readonly bigint[];
  readonly a: readonly boolean[];
  readonly b: readonly boolean[];
  readonly z: readonly bigint[];
}

/** What the prover needs: the factors (any two primes; an honest prover uses safe primes). */
export interface ModWitness {
  readonly p: bigint;
  readonly q: bigint;
}

function challenges(ctx: ProofContext, n: bigint, w: bigint): bigint[] {
  const t = transcriptFor('mod', ctx);
  t.int('N', n).int('w', w);
  const ys: bigint[] = [];
  while (ys.length < STAT) {
    const y = t.challengeBelow(n);
    if (y !== 0n) ys.push(y); // the paper samples y_i ∈ Z_N; 0 is excluded (never a unit)
  }
  return ys;
}

function isQR(y: bigint, p: bigint): boolean {
  return jacobi(y, p) === 1;
}

/** A fourth root of a quadratic residue y modulo a prime p ≡ 3 mod 4: y^(((p+1)/4)^2 mod (p-1)). */
function fourthRoot(y: bigint, p: bigint): bigint {
  const e = mod(((p + 1n) / 4n) ** 2n, p - 1n);
  return modPowBlinded(mod(y, p), e, p, p - 1n);
}

function crt(ap: bigint, aq: bigint, p: bigint, q: bigint): bigint {
  return ap + p * mod((aq - ap) * modInverse(p, q), q);
}

/** Proves N = p·q is Paillier-Blum; checks each fourth root itself and throws `zk_mod_not_provable` when one fails. */
export function proveMod(ctx: ProofContext, wit: ModWitness, rng: ByteSource): ModProof {
  const { p, q } = wit;
  const n = p * q;
  const phi = (p - 1n) * (q - 1n);
  let w: bigint;
  do w = randomUnit(n, rng);
  while (jacobi(w, n) !== -1);
  const ys = challenges(ctx, n, w);
  let nInv: bigint;
  try {
    nInv = modInverse(n, phi);
  } catch {
    throw new CustosError('zk_mod_not_provable', 'modulus is not coprime to its totient');
  }
  const out = { w, x: [] as bigint[], a: [] as boolean[], b: [] as boolean[], z: [] as bigint[] };
  for (const y of ys) {
    // z = y^(N^-1 mod φ) by CRT, exponents reduced mod p-1 and q-1 (secret)
    const zp = modPowBlinded(mod(y, p), mod(nInv, p - 1n), p, p - 1n);
    const zq = modPowBlinded(mod(y, q), mod(nInv, q - 1n), q, q - 1n);
    out.z.push(crt(zp, zq, p, q));
    let found = false;
    for (const [a, b] of [[false, false], [true, false], [false, true], [true, true]] as const) {
      let yy = y;
      if (a) yy = n - yy;
      if (b) yy = (yy * w) % n;
      if (isQR(yy, p) && isQR(yy, q)) {
        const x = crt(fourthRoot(yy, p), fourthRoot(yy, q), p, q);
        if (modPow(x, 4n, n) !== yy) throw new CustosError('zk_mod_not_provable', 'modulus is not a Paillier-Blum modulus');
        out.x.push(x);
        out.a.push(a);
        out.b.push(b);
        found = true;
        break;
      }
    }
    if (!found) throw new CustosError('zk_mod_not_provable', 'modulus is not a Paillier-Blum modulus');
  }
  return out;
}

export function verifyMod(ctx: ProofContext, n: bigint, p: ModProof): boolean {
  if (n <= 3n || (n & 1n) === 0n || isProbablePrime(n)) return false;
  if (p.x.length !== STAT || p.a.length !== STAT || p.b.length !== STAT || p.z.length !== STAT) return false;
  if (p.w <= 0n || p.w >= n || gcd(p.w, n) !== 1n || jacobi(p.w, n) !== -1) return false;
  const ys = challenges(ctx, n, p.w);
  for (let i = 0; i < STAT; i++) {
    const x = p.x[i] as bigint;
    const z = p.z[i] as bigint;
    const y = ys[i] as bigint;
    if (x <= 0n || x >= n || z <= 0n || z >= n) return false;
    if (modPow(z, n, n) !== y) return false;
    let yy = y;
    if (p.a[i]) yy = n - yy;
    if (p.b[i]) yy = (yy * p.w) % n;
    if (modPow(x, 4n, n) !== yy) return false;
  }
  return true;
}
