/**
 * Solana withdrawals: one System Program `Transfer` of lamports from the wallet (fee payer and only
 * signer) to the destination, as a legacy message built with `@solana/kit` and
 * `@solana-program/system`. The unsigned bytes are the compiled message; Ed25519 signs exactly those
 * bytes (no hashing), so `signingDigest(unsigned)` is the message itself.
 *
 * `parseUnsigned` accepts only that shape: one signer, one instruction, System Program, data
 * `u32 2 || u64 lamports` (12 bytes), accounts [wallet, destination], canonical encoding. Fee:
 * `lamportsPerSignature` (5000 on mainnet) × signatures; no priority fee is added.
 *
 * @example
 *   const u = buildUnsigned({ to: customer, amount: 1_000_000_000n }, { from: wallet, recentBlockhash, lastValidBlockHeight: 0n });
 *   const sig = frostEd25519Sign(signingDigest(u));      // 64 bytes
 *   const { raw, id } = assemble(u, sig);                  // id = base58 signature
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { equalBytes } from '@noble/curves/utils.js';
import { getTransferSolInstruction, SYSTEM_PROGRAM_ADDRESS } from '@solana-program/system';
import {
  address, appendTransactionMessageInstruction, blockhash, compileTransaction, createNoopSigner, createTransactionMessage,
  getBase58Decoder, getCompiledTransactionMessageDecoder, getCompiledTransactionMessageEncoder, getTransactionEncoder, pipe,
  setTransactionMessageFeePayerSigner, setTransactionMessageLifetimeUsingBlockhash, type SignatureBytes, type Transaction,
} from '@solana/kit';
import { CustosError } from '../../core/errors.js';
import { checkAmount, malformed, mismatch, type ParsedTransfer, type SignedTx, type TransferIntent, type UnsignedTx } from '../tx.js';
import { solanaAddressBytes } from './address.js';

export const LAMPORTS_PER_SIGNATURE = 5000n;
const U64_MAX = (1n << 64n) - 1n;
/** Solana's packet limit: no message can be longer. */
const MAX_MESSAGE_BYTES = 1232;

export interface SolanaTxParams {
  /** The wallet's address (base58 Ed25519 public key): fee payer and sender. */
  readonly from: string;
  /** Recent blockhash (base58) the transaction is valid for. */
  readonly recentBlockhash: string;
  /** Last block height at which the blockhash is valid (not part of the message; kept by the caller). */
  readonly lastValidBlockHeight?: bigint;
  readonly lamportsPerSignature?: bigint;
}

export interface SolanaParsedTx extends ParsedTransfer {
  readonly from: string;
  readonly recentBlockhash: string;
}

function checkAddress(text: string): string {
  solanaAddressBytes(text); // throws CustosError(address_*) for anything but a valid on-curve key
  return text;
}

/** Builds the unsigned transfer message. */
export function buildUnsigned(intent: TransferIntent, params: SolanaTxParams): UnsignedTx {
  if (intent.asset !== undefined && intent.asset !== 'SOL') malformed('Solana withdrawals move SOL only');
  checkAmount('amount', intent.amount, 1n, U64_MAX);
  const from = address(checkAddress(params.from));
  const to = address(checkAddress(intent.to));
  if (from === to) mismatch('a withdrawal cannot pay the wallet itself', { field: 'to' });
  let hash;
  try {
    hash = blockhash(params.recentBlockhash);
  } catch {
    malformed('the recent blockhash is not 32 bytes of base58');
  }
  const payer = createNoopSigner(from);
  const message = pipe(
    createTransactionMessage({ version: 'legacy' }),
    (m) => setTransactionMessageFeePayerSigner(payer, m),
    (m) => setTransactionMessageLifetimeUsingBlockhash({ blockhash: hash, lastValidBlockHeight: params.lastValidBlockHeight ?? 0n }, m),
    (m) => appendTransactionMessageInstruction(getTransferSolInstruction({ source: payer, destination: to, amount: intent.amount }), m),
  );
  return { chain: 'solana', bytes: new Uint8Array(compileTransaction(message).messageBytes) };
}

function readU64LE(b: Uint8Array, at: number): bigint {
  let v = 0n;
  for (let i = 7; i >= 0; i--) v = (v << 8n) | BigInt(b[at + i] as number);
  return v;
}

/** Reads the message back; refuses anything but a single System transfer from the fee payer. */
export function parseUnsigned(unsigned: UnsignedTx, lamportsPerSignature = LAMPORTS_PER_SIGNATURE): SolanaParsedTx {
  if (unsigned.chain !== 'solana') malformed('not a Solana transaction');
  const bytes = unsigned.bytes;
  if (!(bytes instanceof Uint8Array) || bytes.length < 3 || bytes.length > MAX_MESSAGE_BYTES) malformed('not a Solana message of acceptable size');
  let msg;
  try {
    msg = getCompiledTransactionMessageDecoder().decode(bytes);
    // Canonical: re-encoding gives exactly the same bytes (no trailing data, no alternative form).
    if (!equalBytes(new Uint8Array(getCompiledTransactionMessageEncoder().encode(msg)), bytes)) throw new Error('non-canonical');
  } catch {
    malformed('the Solana message does not decode canonically');
  }
  if (msg.version !== 'legacy') malformed('only legacy messages are built for withdrawals');
  const { header, staticAccounts, instructions } = msg;
  if (header.numSignerAccounts !== 1 || header.numReadonlySignerAccounts !== 0) malformed('a withdrawal has exactly one, writable signer');
  if (staticAccounts.length !== 3 || header.numReadonlyNonSignerAccounts !== 1) malformed('a withdrawal touches exactly wallet, destination and the System Program');
  if (instructions.length !== 1) malformed('a withdrawal has exactly one instruction');
  const ix = instructions[0] as (typeof instructions)[number];
  if (staticAccounts[ix.programAddressIndex] !== SYSTEM_PROGRAM_ADDRESS) malformed('the instruction is not for the System Program');
  const data = ix.data ?? new Uint8Array(0);
  if (data.length !== 12 || data[0] !== 2 || data[1] !== 0 || data[2] !== 0 || data[3] !== 0) malformed('the instruction is not a System transfer');
  const accounts = ix.accountIndices ?? [];
  if (accounts.length !== 2 || accounts[0] !== 0 || accounts[1] !== 1) malformed('the transfer must move lamports from the fee payer to the destination');
  const from = staticAccounts[0] as string;
  const to = staticAccounts[1] as string;
  return {
    chain: 'solana', from, to, amount: readU64LE(new Uint8Array(data), 4), asset: 'SOL',
    fee: lamportsPerSignature * BigInt(header.numSignerAccounts), nonce: null,
    recentBlockhash: msg.lifetimeToken,
  };
}

/**
 * Node-side check: the message moves exactly `intent.amount` lamports to `intent.to` and nothing
 * else; `limits.from` pins the wallet (the node knows its own group key).
 */
export function verifyMatches(unsigned: UnsignedTx, intent: TransferIntent, limits: { from?: string } = {}): SolanaParsedTx {
  const parsed = parseUnsigned(unsigned);
  if (intent.asset !== undefined && intent.asset !== 'SOL') mismatch('the transaction moves a different asset than authorized', { field: 'asset' });
  if (!equalBytes(solanaAddressBytes(parsed.to), solanaAddressBytes(intent.to))) mismatch('the transaction pays a different destination than authorized', { field: 'to' });
  if (parsed.amount !== intent.amount) mismatch('the transaction pays a different amount than authorized', { field: 'amount' });
  if (limits.from !== undefined && parsed.from !== limits.from) mismatch('the transaction spends from another wallet', { field: 'from' });
  return parsed;
}

/** The bytes Ed25519 signs: the message itself (after the same checks a node makes). */
export function signingDigest(unsigned: UnsignedTx): Uint8Array {
  parseUnsigned(unsigned);
  return unsigned.bytes.slice();
}

/** One digest per signature (uniform with Bitcoin): `[signingDigest(unsigned)]`. */
export function signingDigests(unsigned: UnsignedTx): Uint8Array[] {
  return [signingDigest(unsigned)];
}

/** Wire transaction `shortvec(1) || signature || message`, after checking the signature under the fee payer's key. */
export function assemble(unsigned: UnsignedTx, signature: Uint8Array): SignedTx {
  const parsed = parseUnsigned(unsigned);
  if (!(signature instanceof Uint8Array) || signature.length !== 64) throw new CustosError('tx_bad_signature', 'an Ed25519 signature is 64 bytes', 422);
  if (!ed25519.verify(signature, unsigned.bytes, solanaAddressBytes(parsed.from))) {
    throw new CustosError('tx_bad_signature', 'the signature does not verify under the wallet key', 422);
  }
  const tx = { messageBytes: unsigned.bytes, signatures: { [parsed.from]: signature as SignatureBytes } } as unknown as Transaction;
  const raw = new Uint8Array(getTransactionEncoder().encode(tx));
  return { raw, id: getBase58Decoder().decode(signature) };
}
