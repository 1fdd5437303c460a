/**
 * The one module that owns big-integer arithmetic in custos (see each file for details).
 *
 * @example
 *   import { modPow, modPowSecret, modInverse, randomUnit } from '../bigint/index.js';
 */
export { abs, allCoprime, bitLength, fromBytes, gcd, jacobi, mod, modInverse, toBytes } from './arith.js';
export {
  forgetModuli,
  isModulusWarm,
  modPow,
  modPowBigInt,
  modPowLadder,
  modPowNative,
  modPowRsa,
  modPowSecret,
  modPowSecretSigned,
  warmModulus,
} from './modpow.js';
export { randomBelow, randomSymmetric, randomUnit, type ByteSource } from './random.js';
export { generateSafePrime, isProbablePrime, isSafePrime } from './prime.js';
export { FixedBase } from './fixedbase.js';
export { modPowBlinded } from './blinded.js';
export { benchModexp, type ModexpBench } from './bench.js';
