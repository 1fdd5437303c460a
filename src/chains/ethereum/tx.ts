/**
 * Ethereum EIP-1559 (type 2) withdrawals: native ETH transfers and ERC-20 `transfer(to, amount)`
 * (e.g. USDC), built and serialised with viem. The unsigned bytes are the unsigned type-2 envelope
 * `0x02 || rlp([chainId, nonce, maxPriorityFeePerGas, maxFeePerGas, gas, to, value, data, []])`;
 * the digest to sign is its keccak-256. A node re-derives both from the bytes alone.
 *
 * `parseUnsigned` is strict: no access list, no signature fields, ETH transfers carry no calldata,
 * ERC-20 calls carry exactly the 68-byte `transfer` calldata with a clean address word and no ETH.
 * `assemble` normalises the signature to low S (flipping the recovery id), recovers the sender and,
 * when `expectedFrom` is given, refuses a signature that recovers to any other address.
 *
 * @example
 *   const u = buildUnsigned({ to: '0x…', amount: 10n ** 18n }, { chainId: 1, nonce: 0n, maxFeePerGas: 30n * 10n ** 9n, maxPriorityFeePerGas: 10n ** 9n });
 *   const digest = signingDigest(u);                          // 32 bytes for the (threshold) ECDSA signer
 *   const { raw, id, from } = assemble(u, { r, s, recovery }, '0xSigner…');
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { keccak_256 } from '@noble/hashes/sha3.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { encodeFunctionData, erc20Abi, parseTransaction, serializeTransaction, type Hex, type TransactionSerializableEIP1559 } from 'viem';
import { CustosError } from '../../core/errors.js';
import { checkAmount, malformed, mismatch, normaliseEcdsa, type EcdsaSignature, type ParsedTransfer, type SignedTx, type TransferIntent, type UnsignedTx } from '../tx.js';
import { toChecksumAddress } from './address.js';

/** `transfer(address,uint256)` selector. */
const TRANSFER_SELECTOR = 'a9059cbb';
const U256_MAX = (1n << 256n) - 1n;
/** Gas for a plain ETH transfer to an account (the intrinsic cost). */
export const ETH_TRANSFER_GAS = 21_000n;
/** Default gas limit for an ERC-20 transfer (USDC mainnet uses ~40–65k; the unused part is refunded). */
export const ERC20_TRANSFER_GAS = 100_000n;
/** Largest unsigned envelope accepted by `parseUnsigned` (a transfer is ~120 bytes). */
const MAX_UNSIGNED_BYTES = 1024;

export interface EthereumTxParams {
  readonly chainId: number;
  readonly nonce: bigint;
  readonly maxFeePerGas: bigint;
  readonly maxPriorityFeePerGas: bigint;
  /** Gas limit; defaults to 21000 for ETH and 100000 for ERC-20. */
  readonly gas?: bigint;
}

export interface EthereumParsedTx extends ParsedTransfer {
  readonly chainId: number;
  readonly nonce: bigint;
  readonly gas: bigint;
  readonly maxFeePerGas: bigint;
  readonly maxPriorityFeePerGas: bigint;
}

export interface EthereumSignedTx extends SignedTx {
  /** Address the signature recovers to (EIP-55): the account that pays. */
  readonly from: string;
}

function isNative(asset: string | undefined): boolean {
  return asset === undefined || asset === 'ETH';
}

/** Builds the unsigned EIP-1559 transaction for one withdrawal. */
export function buildUnsigned(intent: TransferIntent, params: EthereumTxParams): UnsignedTx {
  const to = toChecksumAddress(intent.to);
  checkAmount('amount', intent.amount, 1n, U256_MAX);
  checkAmount('nonce', params.nonce, 0n, (1n << 64n) - 2n);
  checkAmount('maxFeePerGas', params.maxFeePerGas, 1n, U256_MAX);
  checkAmount('maxPriorityFeePerGas', params.maxPriorityFeePerGas, 0n, params.maxFeePerGas);
  if (!Number.isSafeInteger(params.chainId) || params.chainId < 1) {
    throw new CustosError('tx_invalid_chain_id', 'chainId must be a positive integer', 422);
  }
  const base = {
    type: 'eip1559' as const,
    chainId: params.chainId,
    nonce: Number(params.nonce),
    maxFeePerGas: params.maxFeePerGas,
    maxPriorityFeePerGas: params.maxPriorityFeePerGas,
  };
  let tx: TransactionSerializableEIP1559;
  if (isNative(intent.asset)) {
    tx = { ...base, to: to as Hex, value: intent.amount, gas: params.gas ?? ETH_TRANSFER_GAS };
  } else {
    const token = toChecksumAddress(intent.asset as string);
    const data = encodeFunctionData({ abi: erc20Abi, functionName: 'transfer', args: [to as Hex, intent.amount] });
    tx = { ...base, to: token as Hex, value: 0n, data, gas: params.gas ?? ERC20_TRANSFER_GAS };
  }
  checkAmount('gas', tx.gas as bigint, ETH_TRANSFER_GAS, 30_000_000n);
  return { chain: 'ethereum', bytes: hexToBytes(serializeTransaction(tx).slice(2)) };
}

/** keccak-256 of the unsigned envelope: the 32 bytes the ECDSA signer signs. */
export function signingDigest(unsigned: UnsignedTx): Uint8Array {
  return parseForSigning(unsigned).digest;
}

/**
 * `parseUnsigned` and the signing digest from one parse: a signing node needs both for every
 * signature, and the strict parse (decode, then re-encode to prove the bytes canonical) is the
 * costly part, so it is not run twice.
 */
export function parseForSigning(unsigned: UnsignedTx): { parsed: EthereumParsedTx; digest: Uint8Array } {
  const parsed = parseUnsigned(unsigned); // refuse to hand out a digest for anything we would not sign
  return { parsed, digest: keccak_256(unsigned.bytes) };
}

/** One digest per signature (uniform with Bitcoin): `[signingDigest(unsigned)]`. */
export function signingDigests(unsigned: UnsignedTx): Uint8Array[] {
  return [signingDigest(unsigned)];
}

function decodeCalldata(data: string): { to: string; amount: bigint } {
  const body = data.slice(2).toLowerCase();
  if (body.length !== 8 + 128) malformed('ERC-20 calldata must be exactly transfer(address,uint256)');
  if (body.slice(0, 8) !== TRANSFER_SELECTOR) malformed('calldata is not an ERC-20 transfer');
  const addressWord = body.slice(8, 72);
  if (!/^0{24}[0-9a-f]{40}$/.test(addressWord)) malformed('ERC-20 recipient word has dirty high bytes');
  return { to: toChecksumAddress('0x' + addressWord.slice(24)), amount: BigInt('0x' + body.slice(72)) };
}

/** Reads an unsigned envelope back; refuses anything but a plain ETH or ERC-20 transfer. */
export function parseUnsigned(unsigned: UnsignedTx): EthereumParsedTx {
  if (unsigned.chain !== 'ethereum') malformed('not an Ethereum transaction');
  const bytes = unsigned.bytes;
  if (!(bytes instanceof Uint8Array) || bytes.length < 2 || bytes.length > MAX_UNSIGNED_BYTES || bytes[0] !== 0x02) {
    malformed('not an unsigned EIP-1559 transaction');
  }
  const hex = ('0x' + bytesToHex(bytes)) as Hex;
  let tx;
  try {
    tx = parseTransaction(hex);
  } catch {
    malformed('the EIP-1559 envelope does not decode');
  }
  if (tx.type !== 'eip1559') malformed('not an EIP-1559 transaction');
  if (tx.r !== undefined || tx.s !== undefined || tx.yParity !== undefined || tx.v !== undefined) malformed('the transaction is already signed');
  if (tx.accessList && tx.accessList.length > 0) malformed('access lists are not allowed in a withdrawal');
  if (!tx.to) malformed('contract creation is not a withdrawal');
  // Round trip: the bytes must be the canonical encoding of what we parsed (no trailing data).
  if (serializeTransaction(tx as TransactionSerializableEIP1559) !== hex) malformed('non-canonical encoding');
  const value = tx.value ?? 0n;
  const data = tx.data ?? '0x';
  const gas = tx.gas ?? 0n;
  const maxFeePerGas = tx.maxFeePerGas ?? 0n;
  const common = {
    chain: 'ethereum' as const,
    chainId: tx.chainId as number,
    nonce: BigInt(tx.nonce ?? 0),
    gas,
    maxFeePerGas,
    maxPriorityFeePerGas: tx.maxPriorityFeePerGas ?? 0n,
    fee: gas * maxFeePerGas,
  };
  if (data === '0x') {
    if (value === 0n) malformed('a transfer of zero ETH');
    return { ...common, to: toChecksumAddress(tx.to), amount: value, asset: 'ETH' };
  }
  if (value !== 0n) malformed('an ERC-20 transfer must not also send ETH');
  const call = decodeCalldata(data);
  return { ...common, to: call.to, amount: call.amount, asset: toChecksumAddress(tx.to) };
}

/**
 * Node-side check: the unsigned transaction pays exactly `intent` and nothing else.
 * Throws `CustosError('tx_mismatch')` (or `tx_malformed`); returns the parsed transaction.
 * `limits` optionally pins the chain id and caps the fee.
 */
export function verifyMatches(unsigned: UnsignedTx, intent: TransferIntent, limits: { chainId?: number; maxFee?: bigint } = {}): EthereumParsedTx {
  const parsed = parseUnsigned(unsigned);
  const asset = isNative(intent.asset) ? 'ETH' : toChecksumAddress(intent.asset as string);
  if (parsed.asset !== asset) mismatch('the transaction moves a different asset than authorized', { field: 'asset' });
  if (parsed.to !== toChecksumAddress(intent.to)) mismatch('the transaction pays a different destination than authorized', { field: 'to' });
  if (parsed.amount !== intent.amount) mismatch('the transaction pays a different amount than authorized', { field: 'amount' });
  if (limits.chainId !== undefined && parsed.chainId !== limits.chainId) mismatch('the transaction is for another chain id', { field: 'chainId' });
  if (limits.maxFee !== undefined && parsed.fee > limits.maxFee) mismatch('the transaction may pay more fee than allowed', { field: 'fee' });
  return parsed;
}

/** Address (EIP-55) of an uncompressed or compressed secp256k1 public key. */
export function addressOfPublicKey(publicKey: Uint8Array): string {
  const uncompressed = secp256k1.Point.fromBytes(publicKey).toBytes(false);
  return toChecksumAddress('0x' + bytesToHex(keccak_256(uncompressed.subarray(1)).subarray(12)));
}

/** Combines the unsigned transaction and its signature into the raw signed transaction. */
export function assemble(unsigned: UnsignedTx, signature: EcdsaSignature, expectedFrom?: string): EthereumSignedTx {
  parseUnsigned(unsigned); // the same checks a signing node made
  const { r, s, recovery } = normaliseEcdsa(signature);
  let from: string;
  try {
    const point = new secp256k1.Signature(r, s, recovery).recoverPublicKey(keccak_256(unsigned.bytes));
    from = addressOfPublicKey(point.toBytes(false));
  } catch {
    throw new CustosError('tx_bad_signature', 'the signature does not recover to any public key', 422);
  }
  if (expectedFrom !== undefined && from !== toChecksumAddress(expectedFrom)) {
    throw new CustosError('tx_bad_signature', 'the signature recovers to another address than the wallet', 422);
  }
  const tx = parseTransaction(('0x' + bytesToHex(unsigned.bytes)) as Hex) as TransactionSerializableEIP1559;
  const rawHex = serializeTransaction(tx, {
    r: ('0x' + r.toString(16).padStart(64, '0')) as Hex,
    s: ('0x' + s.toString(16).padStart(64, '0')) as Hex,
    yParity: recovery,
  });
  const raw = hexToBytes(rawHex.slice(2));
  return { raw, id: '0x' + bytesToHex(keccak_256(raw)), from };
}
