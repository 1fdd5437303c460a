/**
 * Bitcoin withdrawals from one wallet script: P2WPKH (ECDSA, BIP-143 sighash, SIGHASH_ALL) or P2TR
 * key path (BIP-340 Schnorr under the BIP-341 tweaked output key, SIGHASH_DEFAULT), built with
 * `@scure/btc-signer`. The unsigned bytes are a PSBT (v0) carrying each input's witness UTXO, so a
 * signing node re-derives every digest (one per input) from the bytes alone.
 *
 * Building: UTXOs are taken largest first until they cover amount + fee, where the fee is
 * `feeRate` (sat/vB) × the virtual size of the signed transaction (witness sizes are known in
 * advance: 108 bytes at most for P2WPKH, exactly 66 for a P2TR key-path spend). Change goes back to
 * the wallet's own script when it is above the dust limit, otherwise it is left to the fee.
 *
 * Node-side rule (`verifyMatches`): every input spends the wallet's script, exactly one output pays
 * the authorized destination the authorized amount, every other output returns to the wallet.
 * P2TR sighashes commit to all spent amounts and scripts; P2WPKH (BIP-143) commits only to the input's
 * own amount, so a lied-about amount makes that input's signature invalid rather than overpaying.
 *
 * @example
 *   const u = buildUnsigned({ to: 'bc1q…', amount: 50_000n }, { network: 'mainnet', wallet: { type: 'p2tr', outputKey }, utxos, feeRate: 5n });
 *   const digests = signingDigests(u);                  // one 32-byte digest per input
 *   const { raw, id } = assemble(u, digests.map(threshold BIP-340 sign));
 */
import { schnorr, secp256k1 } from '@noble/curves/secp256k1.js';
import { ripemd160 } from '@noble/hashes/legacy.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { equalBytes } from '@noble/curves/utils.js';
import { bytesToHex, concatBytes } from '@noble/hashes/utils.js';
import { Address, NETWORK, OutScript, SigHash, TEST_NETWORK, Transaction } from '@scure/btc-signer';
import type { Network } from '../../core/chain.js';
import { CustosError } from '../../core/errors.js';
import { checkAmount, malformed, mismatch, normaliseEcdsa, type EcdsaSignature, type ParsedTransfer, type SignedTx, type TransferIntent, type UnsignedTx } from '../tx.js';
import { bitcoinScriptPubKey } from './address.js';

/** The wallet a withdrawal spends from: its public key, never a private one. */
export type BitcoinWallet =
  | { readonly type: 'p2wpkh'; /** 33-byte compressed secp256k1 key. */ readonly publicKey: Uint8Array }
  | { readonly type: 'p2tr'; /** 32-byte x-only BIP-341 output key Q (already tweaked, e.g. `taprootOutputKey`). */ readonly outputKey: Uint8Array };

export interface Utxo {
  /** Transaction id in the usual display (big-endian) hex. */
  readonly txid: string;
  readonly vout: number;
  readonly amount: bigint;
}

export interface BitcoinTxParams {
  readonly network: Network;
  readonly wallet: BitcoinWallet;
  readonly utxos: readonly Utxo[];
  /** Fee rate in sat/vB (integer). */
  readonly feeRate: bigint;
  /** nSequence for every input; default 0xfffffffd (final lock time, RBF signalled). */
  readonly sequence?: number;
}

export interface BitcoinPayment {
  readonly address: string;
  readonly script: Uint8Array;
  readonly amount: bigint;
}

export interface BitcoinParsedTx extends ParsedTransfer {
  readonly walletScript: Uint8Array;
  readonly walletType: 'p2wpkh' | 'p2tr';
  readonly inputs: readonly Utxo[];
  /** Outputs that leave the wallet (a withdrawal has exactly one). */
  readonly payments: readonly BitcoinPayment[];
  /** Sum of the outputs back to the wallet's own script. */
  readonly change: bigint;
}

const MAX_SATS = 21_000_000n * 100_000_000n;
const MAX_INPUTS = 200;
const MAX_PSBT_BYTES = 200_000;
/** Change below this stays in the fee (above the P2WPKH/P2TR dust limits of 294/330 sat). */
export const DUST_LIMIT = 546n;
const DEFAULT_SEQUENCE = 0xfffffffd;

function scureNetwork(network: Network): typeof NETWORK {
  if (network === 'mainnet') return NETWORK;
  if (network === 'testnet') return TEST_NETWORK;
  if (network === 'regtest') return { ...TEST_NETWORK, bech32: 'bcrt' };
  throw new CustosError('tx_invalid_network', 'Bitcoin has no devnet', 422);
}

const hash160 = (b: Uint8Array): Uint8Array => ripemd160(sha256(b));

/** scriptPubKey of the wallet: `OP_0 <hash160(pub)>` or `OP_1 <Q>`. */
export function walletScript(wallet: BitcoinWallet): Uint8Array {
  if (wallet.type === 'p2wpkh') {
    if (!(wallet.publicKey instanceof Uint8Array) || wallet.publicKey.length !== 33) malformed('a P2WPKH wallet key is 33 bytes (compressed)');
    secp256k1.Point.fromBytes(wallet.publicKey); // throws off the curve
    return concatBytes(Uint8Array.of(0x00, 0x14), hash160(wallet.publicKey));
  }
  if (!(wallet.outputKey instanceof Uint8Array) || wallet.outputKey.length !== 32) malformed('a P2TR output key is 32 bytes (x-only)');
  schnorr.utils.lift_x(BigInt('0x' + bytesToHex(wallet.outputKey))); // throws off the curve
  return concatBytes(Uint8Array.of(0x51, 0x20), wallet.outputKey);
}

function scriptType(script: Uint8Array): 'p2wpkh' | 'p2tr' | null {
  if (script.length === 22 && script[0] === 0x00 && script[1] === 0x14) return 'p2wpkh';
  if (script.length === 34 && script[0] === 0x51 && script[1] === 0x20) return 'p2tr';
  return null;
}

function varintSize(n: number): number {
  return n < 0xfd ? 1 : n <= 0xffff ? 3 : 5;
}

/** Virtual size of the signed transaction (upper bound for P2WPKH: 72-byte signature with sighash byte). */
export function estimateVsize(type: 'p2wpkh' | 'p2tr', inputs: number, outputScripts: readonly Uint8Array[]): bigint {
  let base = 4 + varintSize(inputs) + inputs * (32 + 4 + 1 + 4) + varintSize(outputScripts.length) + 4;
  for (const s of outputScripts) base += 8 + varintSize(s.length) + s.length;
  const witnessPerInput = type === 'p2wpkh' ? 1 + 1 + 72 + 1 + 33 : 1 + 1 + 64;
  const weight = 4 * base + 2 + inputs * witnessPerInput;
  return BigInt(Math.ceil(weight / 4));
}

/** Builds the unsigned PSBT for one withdrawal. */
export function buildUnsigned(intent: TransferIntent, params: BitcoinTxParams): UnsignedTx {
  if (intent.asset !== undefined && intent.asset !== 'BTC') malformed('Bitcoin withdrawals move BTC only');
  checkAmount('amount', intent.amount, DUST_LIMIT, MAX_SATS);
  checkAmount('feeRate', params.feeRate, 1n, 10_000n);
  scureNetwork(params.network); // refuses devnet
  const own = walletScript(params.wallet);
  const dest = bitcoinScriptPubKey(params.network, intent.to);
  if (equalBytes(dest, own)) mismatch('a withdrawal cannot pay the wallet itself', { field: 'to' });
  const utxos = [...params.utxos].sort((a, b) => (a.amount === b.amount ? 0 : a.amount > b.amount ? -1 : 1));
  const chosen: Utxo[] = [];
  let total = 0n;
  let change = 0n;
  let funded = false;
  for (const u of utxos) {
    checkAmount('utxo amount', u.amount, 1n, MAX_SATS);
    chosen.push(u);
    total += u.amount;
    if (chosen.length > MAX_INPUTS) break;
    const feeWithChange = params.feeRate * estimateVsize(params.wallet.type, chosen.length, [dest, own]);
    if (total >= intent.amount + feeWithChange + DUST_LIMIT) {
      change = total - intent.amount - feeWithChange;
      funded = true;
      break;
    }
    const feeNoChange = params.feeRate * estimateVsize(params.wallet.type, chosen.length, [dest]);
    if (total >= intent.amount + feeNoChange) {
      // the sub-dust remainder goes to the miner
      funded = true;
      break;
    }
  }
  if (!funded) throw new CustosError('tx_insufficient_funds', 'the UTXOs do not cover amount and fee', 422);
  const tx = new Transaction({ version: 2, lockTime: 0 });
  for (const u of chosen) {
    if (!/^[0-9a-f]{64}$/i.test(u.txid) || !Number.isInteger(u.vout) || u.vout < 0 || u.vout > 0xffffffff) malformed('a UTXO needs a 64-hex txid and an output index');
    tx.addInput({ txid: u.txid, index: u.vout, sequence: params.sequence ?? DEFAULT_SEQUENCE, witnessUtxo: { script: own, amount: u.amount } });
  }
  tx.addOutput({ script: dest, amount: intent.amount });
  if (change > 0n) tx.addOutput({ script: own, amount: change });
  return { chain: 'bitcoin', bytes: tx.toPSBT(0) };
}

function decodePsbt(unsigned: UnsignedTx): Transaction {
  if (unsigned.chain !== 'bitcoin') malformed('not a Bitcoin transaction');
  if (!(unsigned.bytes instanceof Uint8Array) || unsigned.bytes.length > MAX_PSBT_BYTES) malformed('not a PSBT of acceptable size');
  try {
    return Transaction.fromPSBT(unsigned.bytes);
  } catch {
    malformed('the PSBT does not decode');
  }
}

function outputAddress(network: Network, script: Uint8Array): string {
  try {
    return Address(scureNetwork(network)).encode(OutScript.decode(script));
  } catch {
    malformed('an output pays a script with no address');
  }
}

/** Reads the PSBT back: wallet, inputs, payments, change and fee. Refuses anything but one wallet's segwit spend. */
export function parseUnsigned(unsigned: UnsignedTx, network: Network): BitcoinParsedTx {
  return parseWithTx(unsigned, network).parsed;
}

function parseWithTx(unsigned: UnsignedTx, network: Network): { parsed: BitcoinParsedTx; tx: Transaction } {
  const tx = decodePsbt(unsigned);
  if (tx.inputsLength < 1 || tx.inputsLength > MAX_INPUTS || tx.outputsLength < 1) malformed('a withdrawal has 1..200 inputs and at least one output');
  let own: Uint8Array | undefined;
  let total = 0n;
  const inputs: Utxo[] = [];
  for (let i = 0; i < tx.inputsLength; i++) {
    const input = tx.getInput(i);
    const wu = input.witnessUtxo;
    if (!wu || !input.txid || input.index === undefined) malformed(`input ${i} has no witness UTXO`);
    if (input.finalScriptSig || input.finalScriptWitness || input.partialSig || input.tapKeySig || input.redeemScript || input.witnessScript || input.nonWitnessUtxo) {
      malformed(`input ${i} carries fields a withdrawal never has`);
    }
    if (own === undefined) {
      if (scriptType(wu.script) === null) malformed('inputs must spend P2WPKH or P2TR outputs');
      own = wu.script;
    } else if (!equalBytes(own, wu.script)) malformed('every input must spend the same wallet script');
    checkAmount('input amount', wu.amount, 1n, MAX_SATS);
    total += wu.amount;
    inputs.push({ txid: bytesToHex(input.txid), vout: input.index, amount: wu.amount });
  }
  const walletScriptBytes = own as Uint8Array;
  const payments: BitcoinPayment[] = [];
  let change = 0n;
  let out = 0n;
  for (let i = 0; i < tx.outputsLength; i++) {
    const o = tx.getOutput(i);
    if (!o.script || o.amount === undefined) malformed(`output ${i} is incomplete`);
    checkAmount('output amount', o.amount, 0n, MAX_SATS);
    out += o.amount;
    if (equalBytes(o.script, walletScriptBytes)) change += o.amount;
    else payments.push({ address: outputAddress(network, o.script), script: o.script, amount: o.amount });
  }
  if (out > total) malformed('the outputs spend more than the inputs');
  const first = payments[0];
  if (!first) malformed('the transaction pays nobody but the wallet');
  const parsed: BitcoinParsedTx = {
    chain: 'bitcoin', to: first.address, amount: first.amount, asset: 'BTC', fee: total - out, nonce: null,
    walletScript: walletScriptBytes, walletType: scriptType(walletScriptBytes) as 'p2wpkh' | 'p2tr', inputs, payments, change,
  };
  return { parsed, tx };
}

/**
 * Node-side check: every input spends `limits.walletScript` (the node derives it from its own group
 * key: `walletScript(wallet)`), exactly one payment goes to `intent.to` for `intent.amount`, every
 * other output returns to the wallet; `maxFee` caps the fee.
 */
export function verifyMatches(
  unsigned: UnsignedTx, intent: TransferIntent, network: Network, limits: { walletScript: Uint8Array; maxFee?: bigint },
): BitcoinParsedTx {
  const parsed = parseUnsigned(unsigned, network);
  if (intent.asset !== undefined && intent.asset !== 'BTC') mismatch('the transaction moves a different asset than authorized', { field: 'asset' });
  if (!(limits?.walletScript instanceof Uint8Array) || !equalBytes(limits.walletScript, parsed.walletScript)) mismatch('the transaction spends from another wallet', { field: 'wallet' });
  if (parsed.payments.length !== 1) mismatch('the transaction pays more than one destination', { field: 'outputs' });
  const dest = bitcoinScriptPubKey(network, intent.to);
  if (!equalBytes(dest, parsed.payments[0]?.script as Uint8Array)) mismatch('the transaction pays a different destination than authorized', { field: 'to' });
  if (parsed.amount !== intent.amount) mismatch('the transaction pays a different amount than authorized', { field: 'amount' });
  if (limits.maxFee !== undefined && parsed.fee > limits.maxFee) mismatch('the transaction pays more fee than allowed', { field: 'fee' });
  return parsed;
}

/** BIP-143 scriptCode of a P2WPKH program: `OP_DUP OP_HASH160 <20> OP_EQUALVERIFY OP_CHECKSIG`. */
function p2wpkhScriptCode(program: Uint8Array): Uint8Array {
  return concatBytes(Uint8Array.of(0x76, 0xa9, 0x14), program.subarray(2), Uint8Array.of(0x88, 0xac));
}

/**
 * BIP-341 signature hash of input `index` of `tx` (key path, no annex), for any hash type.
 * Exposed for the BIP-341 wallet vectors; withdrawals use SIGHASH_DEFAULT through `signingDigests`.
 */
export function taprootKeyPathSighash(tx: Transaction, index: number, prevScripts: Uint8Array[], amounts: bigint[], hashType: number): Uint8Array {
  return tx.preimageWitnessV1(index, prevScripts, hashType, amounts);
}

/** One 32-byte digest per input: BIP-143 (SIGHASH_ALL) for P2WPKH, BIP-341 (SIGHASH_DEFAULT) for P2TR. */
export function signingDigests(unsigned: UnsignedTx, network: Network = 'mainnet'): Uint8Array[] {
  const { parsed, tx } = parseWithTx(unsigned, network); // refuse to hand out digests for anything we would not sign
  return digestsOf(parsed, tx);
}

function digestsOf(parsed: BitcoinParsedTx, tx: Transaction): Uint8Array[] {
  const scripts = parsed.inputs.map(() => parsed.walletScript);
  const amounts = parsed.inputs.map((u) => u.amount);
  return parsed.inputs.map((u, i) =>
    parsed.walletType === 'p2wpkh'
      ? tx.preimageWitnessV0(i, p2wpkhScriptCode(parsed.walletScript), SigHash.ALL, u.amount)
      : taprootKeyPathSighash(tx, i, scripts, amounts, SigHash.DEFAULT),
  );
}

/**
 * Puts one signature per input into the witnesses and returns the raw transaction and its txid.
 * P2WPKH takes ECDSA `{r, s, recovery}` (normalised to low S; the public key is recovered and must
 * hash to the wallet program), P2TR takes 64-byte BIP-340 signatures (checked against the output key).
 */
export function assemble(unsigned: UnsignedTx, signatures: readonly (EcdsaSignature | Uint8Array)[], network: Network = 'mainnet'): SignedTx & { vsize: number } {
  const { parsed, tx } = parseWithTx(unsigned, network);
  const digests = digestsOf(parsed, tx);
  if (signatures.length !== digests.length) throw new CustosError('tx_bad_signature', `expected ${digests.length} signatures, got ${signatures.length}`, 422);
  digests.forEach((digest, i) => {
    const sig = signatures[i];
    if (parsed.walletType === 'p2tr') {
      if (!(sig instanceof Uint8Array) || sig.length !== 64) throw new CustosError('tx_bad_signature', `input ${i} needs a 64-byte BIP-340 signature`, 422);
      if (!schnorr.verify(sig, digest, parsed.walletScript.subarray(2))) throw new CustosError('tx_bad_signature', `the signature for input ${i} does not verify under the wallet key`, 422);
      tx.updateInput(i, { finalScriptWitness: [sig] }, true);
      return;
    }
    if (sig === undefined || sig instanceof Uint8Array) throw new CustosError('tx_bad_signature', `input ${i} needs an ECDSA signature`, 422);
    const { r, s, recovery } = normaliseEcdsa(sig);
    let publicKey: Uint8Array;
    try {
      publicKey = new secp256k1.Signature(r, s, recovery).recoverPublicKey(digest).toBytes(true);
    } catch {
      throw new CustosError('tx_bad_signature', `the signature for input ${i} recovers no key`, 422);
    }
    if (!equalBytes(hash160(publicKey), parsed.walletScript.subarray(2))) throw new CustosError('tx_bad_signature', `the signature for input ${i} is not by the wallet key`, 422);
    const der = new secp256k1.Signature(r, s).toBytes('der');
    tx.updateInput(i, { finalScriptWitness: [concatBytes(der, Uint8Array.of(SigHash.ALL)), publicKey] }, true);
  });
  const raw = tx.extract();
  return { raw, id: tx.id, vsize: tx.vsize };
}
