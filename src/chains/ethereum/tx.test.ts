// Ethereum transactions judged by software nobody here wrote: Hardhat 2's in-process node (EDR)
// must mine what we assemble and name our key as the sender. ECDSA here is a plain @noble/curves
// secp256k1 key producing the same {r, s, recovery} shape as the threshold CGGMP21 signer
// (src/mpc/protocols/cmp), which another engineer is finishing.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { keccak_256 } from '@noble/hashes/sha3.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { encodeAbiParameters, encodeFunctionData, erc20Abi, parseTransaction, serializeTransaction, type Hex } from 'viem';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EcdsaSignature, UnsignedTx } from '../tx.js';
import { addressOfPublicKey, assemble, buildUnsigned, parseForSigning, parseUnsigned, signingDigest, verifyMatches } from './tx.js';

interface Provider { request(args: { method: string; params?: unknown[] }): Promise<unknown> }
interface Receipt { from: string; to: string | null; status: string; transactionHash: string; logs: { address: string; topics: string[]; data: string }[]; contractAddress: string | null }

const token = JSON.parse(readFileSync(new URL('./testdata/test-token.json', import.meta.url), 'utf8')) as { bytecode: Hex };
const CHAIN_ID = 31337; // Hardhat's default chain id
const GWEI = 10n ** 9n;

function key(label: string): { sk: Uint8Array; address: string } {
  const sk = keccak_256(new TextEncoder().encode(`custos/eth-test/${label}`));
  return { sk, address: addressOfPublicKey(secp256k1.getPublicKey(sk)) };
}
function sign(digest: Uint8Array, sk: Uint8Array): EcdsaSignature {
  const sig = secp256k1.Signature.fromBytes(secp256k1.sign(digest, sk, { prehash: false, format: 'recovered' }), 'recovered');
  return { r: sig.r, s: sig.s, recovery: sig.recovery as number };
}
const hex = (b: Uint8Array): Hex => ('0x' + bytesToHex(b)) as Hex;
const wallet = key('wallet');
const stranger = key('stranger');
const customer = '0x' + bytesToHex(keccak_256(new TextEncoder().encode('customer'))).slice(0, 40);

let provider: Provider;
let tokenAddress: string;
let configDir: string | undefined;

async function rpc<T>(method: string, ...params: unknown[]): Promise<T> {
  return (await provider.request({ method, params })) as T;
}
async function nonceOf(address: string): Promise<bigint> {
  return BigInt(await rpc<string>('eth_getTransactionCount', address, 'pending'));
}
async function mine(raw: Uint8Array): Promise<Receipt> {
  const hash = await rpc<string>('eth_sendRawTransaction', hex(raw));
  const receipt = await rpc<Receipt | null>('eth_getTransactionReceipt', hash);
  if (!receipt) throw new Error('not mined');
  return receipt;
}

beforeAll(async () => {
  // Hardhat 2 wants a config file; a minimal one in a temp dir is enough (no project, no compiler).
  const dir = mkdtempSync(join(tmpdir(), 'custos-hardhat-'));
  configDir = dir;
  writeFileSync(join(dir, 'hardhat.config.cjs'), `module.exports = { networks: { hardhat: { chainId: ${CHAIN_ID} } } };\n`);
  process.env.HARDHAT_CONFIG = join(dir, 'hardhat.config.cjs');
  const require = createRequire(import.meta.url);
  provider = (require('hardhat') as { network: { provider: Provider } }).network.provider;
  await rpc('hardhat_setBalance', wallet.address, '0x' + (10n ** 20n).toString(16));
  // Deploy the test ERC-20 with 1,000,000.000000 units held by the wallet (from a Hardhat dev account).
  const [deployer] = await rpc<string[]>('eth_accounts');
  const args = encodeAbiParameters([{ type: 'address' }, { type: 'uint256' }], [wallet.address as Hex, 10n ** 12n]);
  const deployHash = await rpc<string>('eth_sendTransaction', { from: deployer, data: token.bytecode + args.slice(2), gas: '0x' + (2_000_000).toString(16) });
  const receipt = await rpc<Receipt>('eth_getTransactionReceipt', deployHash);
  tokenAddress = receipt.contractAddress as string;
}, 30_000);

afterAll(() => {
  if (configDir) rmSync(configDir, { recursive: true, force: true });
});

function ethTx(nonce: bigint, amount = 10n ** 17n): UnsignedTx {
  return buildUnsigned({ to: customer, amount }, { chainId: CHAIN_ID, nonce, maxFeePerGas: 20n * GWEI, maxPriorityFeePerGas: GWEI });
}

describe('ethereum EIP-1559 on Hardhat (EDR)', () => {
  it('mines a native ETH transfer and the receipt names our key as sender', async () => {
    const unsigned = ethTx(await nonceOf(wallet.address));
    const parsed = verifyMatches(unsigned, { to: customer, amount: 10n ** 17n, asset: 'ETH' }, { chainId: CHAIN_ID });
    expect(parsed.fee).toBe(21_000n * 20n * GWEI);
    const before = BigInt(await rpc<string>('eth_getBalance', customer, 'latest'));
    const signed = assemble(unsigned, sign(signingDigest(unsigned), wallet.sk), wallet.address);
    const receipt = await mine(signed.raw);
    expect(receipt.status).toBe('0x1');
    expect(receipt.from.toLowerCase()).toBe(wallet.address.toLowerCase());
    expect(receipt.transactionHash).toBe(signed.id);
    expect(BigInt(await rpc<string>('eth_getBalance', customer, 'latest')) - before).toBe(10n ** 17n);
  });

  it('mines an ERC-20 transfer: the token balance moves and the Transfer log names both sides', async () => {
    const amount = 1_234_567n; // 1.234567 "USDC"
    const unsigned = buildUnsigned({ to: customer, amount, asset: tokenAddress }, { chainId: CHAIN_ID, nonce: await nonceOf(wallet.address), maxFeePerGas: 20n * GWEI, maxPriorityFeePerGas: GWEI });
    const parsed = verifyMatches(unsigned, { to: customer, amount, asset: tokenAddress });
    expect(parsed.to.toLowerCase()).toBe(customer);
    const signed = assemble(unsigned, sign(signingDigest(unsigned), wallet.sk), wallet.address);
    const receipt = await mine(signed.raw);
    expect(receipt.status).toBe('0x1');
    expect(receipt.from.toLowerCase()).toBe(wallet.address.toLowerCase());
    const log = receipt.logs[0];
    expect(log?.topics[1]?.slice(26)).toBe(wallet.address.slice(2).toLowerCase());
    expect(log?.topics[2]?.slice(26)).toBe(customer.slice(2));
    expect(BigInt(log?.data ?? '0x')).toBe(amount);
    const balance = await rpc<string>('eth_call', { to: tokenAddress, data: encodeFunctionData({ abi: erc20Abi, functionName: 'balanceOf', args: [customer as Hex] }) }, 'latest');
    expect(BigInt(balance)).toBe(amount);
  });

  it('a high-S signature is normalised to low S with the flipped parity and still mines from our key', async () => {
    const unsigned = ethTx(await nonceOf(wallet.address), 5n);
    const sig = sign(signingDigest(unsigned), wallet.sk);
    const n = secp256k1.Point.CURVE().n;
    const high = { r: sig.r, s: n - sig.s, recovery: sig.recovery ^ 1 };
    const a = assemble(unsigned, sig);
    const b = assemble(unsigned, high);
    expect(bytesToHex(b.raw)).toBe(bytesToHex(a.raw));
    const parsedSigned = parseTransaction(hex(b.raw));
    expect(BigInt(parsedSigned.s as string) <= n / 2n).toBe(true);
    expect((await mine(b.raw)).from.toLowerCase()).toBe(wallet.address.toLowerCase());
  });

  it('a wrong signature recovers another sender: assemble refuses it, and unchecked the chain charges a stranger', async () => {
    const unsigned = ethTx(0n); // nonce 0: the stranger's next nonce, so only the balance can stop it
    const wrong = sign(signingDigest(unsigned), stranger.sk);
    expect(() => assemble(unsigned, wrong, wallet.address)).toThrow(expect.objectContaining({ code: 'tx_bad_signature' }));
    const unchecked = assemble(unsigned, wrong);
    expect(unchecked.from).toBe(stranger.address);
    // The stranger has no ETH: the node refuses; funded, the receipt would name the stranger.
    await expect(rpc('eth_sendRawTransaction', hex(unchecked.raw))).rejects.toThrow(/funds/i);
    await rpc('hardhat_setBalance', stranger.address, '0x' + (10n ** 18n).toString(16));
    const receipt = await mine(unchecked.raw);
    expect(receipt.from.toLowerCase()).toBe(stranger.address.toLowerCase());
    expect(receipt.from.toLowerCase()).not.toBe(wallet.address.toLowerCase());
    // A flipped recovery id also recovers someone else.
    const good = sign(signingDigest(unsigned), wallet.sk);
    expect(() => assemble(unsigned, { ...good, recovery: good.recovery ^ 1 }, wallet.address)).toThrow(expect.objectContaining({ code: 'tx_bad_signature' }));
  });

  it('a signature over the authorized tx does not carry over to a tx changed afterwards', async () => {
    const nonce = await nonceOf(wallet.address);
    const authorized = ethTx(nonce, 1_000n);
    const sig = sign(signingDigest(authorized), wallet.sk);
    const changed = ethTx(nonce, 2_000n);
    expect(() => assemble(changed, sig, wallet.address)).toThrow(expect.objectContaining({ code: 'tx_bad_signature' }));
    const forced = assemble(changed, sig);
    expect(forced.from).not.toBe(wallet.address);
    await expect(rpc('eth_sendRawTransaction', hex(forced.raw))).rejects.toThrow();
    expect((await mine(assemble(authorized, sig, wallet.address).raw)).from.toLowerCase()).toBe(wallet.address.toLowerCase());
  });

  it('refuses out-of-range signature values', () => {
    const unsigned = ethTx(0n);
    const n = secp256k1.Point.CURVE().n;
    for (const bad of [{ r: 0n, s: 1n, recovery: 0 }, { r: 1n, s: n, recovery: 0 }, { r: 1n, s: 1n, recovery: 2 }]) {
      expect(() => assemble(unsigned, bad)).toThrow(expect.objectContaining({ code: 'tx_bad_signature' }));
    }
  });
});

describe('ethereum unsigned transactions: parsing and node-side checks', () => {
  const params = { chainId: 1, nonce: 7n, maxFeePerGas: 30n * GWEI, maxPriorityFeePerGas: 2n * GWEI };
  const usdc = '0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48';
  const attacker = '0x' + 'ab'.repeat(20);

  function reencode(unsigned: UnsignedTx, change: (tx: Record<string, unknown>) => void): UnsignedTx {
    const tx = parseTransaction(hex(unsigned.bytes)) as Record<string, unknown>;
    change(tx);
    return { chain: 'ethereum', bytes: hexToBytes(serializeTransaction(tx as never).slice(2)) };
  }

  it('round-trips every field and the digest is keccak of the unsigned bytes', () => {
    const u = buildUnsigned({ to: customer, amount: 42n }, params);
    const p = parseUnsigned(u);
    expect(p).toMatchObject({ chain: 'ethereum', amount: 42n, asset: 'ETH', nonce: 7n, chainId: 1, gas: 21_000n, fee: 21_000n * 30n * GWEI });
    expect(p.to.toLowerCase()).toBe(customer);
    expect(bytesToHex(signingDigest(u))).toBe(bytesToHex(keccak_256(u.bytes)));
    const t = parseUnsigned(buildUnsigned({ to: customer, amount: 5_000_000n, asset: usdc }, params));
    expect(t).toMatchObject({ asset: usdc, amount: 5_000_000n, gas: 100_000n });
  });

  it('refuses a changed destination, amount, asset or chain', () => {
    const u = buildUnsigned({ to: customer, amount: 42n }, params);
    const code = { code: 'tx_mismatch' };
    expect(() => verifyMatches(u, { to: attacker, amount: 42n })).toThrow(expect.objectContaining(code));
    expect(() => verifyMatches(u, { to: customer, amount: 43n })).toThrow(expect.objectContaining(code));
    expect(() => verifyMatches(u, { to: customer, amount: 42n, asset: usdc })).toThrow(expect.objectContaining(code));
    expect(() => verifyMatches(u, { to: customer, amount: 42n }, { chainId: 5 })).toThrow(expect.objectContaining(code));
    expect(() => verifyMatches(u, { to: customer, amount: 42n }, { maxFee: 10n })).toThrow(expect.objectContaining(code));
    const swapped = reencode(u, (tx) => { tx.to = attacker; });
    expect(() => verifyMatches(swapped, { to: customer, amount: 42n })).toThrow(expect.objectContaining(code));
  });

  it('refuses an ERC-20 transfer whose recipient or amount inside the calldata was changed', () => {
    const u = buildUnsigned({ to: customer, amount: 1_000_000n, asset: usdc }, params);
    const intent = { to: customer, amount: 1_000_000n, asset: usdc };
    expect(() => verifyMatches(u, intent)).not.toThrow();
    const calldataRecipient = reencode(u, (tx) => {
      tx.data = encodeFunctionData({ abi: erc20Abi, functionName: 'transfer', args: [attacker as Hex, 1_000_000n] });
    });
    expect(() => verifyMatches(calldataRecipient, intent)).toThrow(expect.objectContaining({ code: 'tx_mismatch' }));
    const calldataAmount = reencode(u, (tx) => {
      tx.data = encodeFunctionData({ abi: erc20Abi, functionName: 'transfer', args: [customer as Hex, 1_000_001n] });
    });
    expect(() => verifyMatches(calldataAmount, intent)).toThrow(expect.objectContaining({ code: 'tx_mismatch' }));
    const otherToken = reencode(u, (tx) => { tx.to = attacker; });
    expect(() => verifyMatches(otherToken, intent)).toThrow(expect.objectContaining({ code: 'tx_mismatch' }));
  });

  it('refuses calldata tricks and non-withdrawal envelopes as malformed', () => {
    const u = buildUnsigned({ to: customer, amount: 1_000_000n, asset: usdc }, params);
    const bad = { code: 'tx_malformed' };
    const data = encodeFunctionData({ abi: erc20Abi, functionName: 'transfer', args: [customer as Hex, 1n] });
    const cases: ((tx: Record<string, unknown>) => void)[] = [
      (tx) => { tx.data = data + '00'; }, // trailing bytes
      (tx) => { tx.data = data.slice(0, 10) + 'ff'.repeat(12) + data.slice(34); }, // dirty address word
      (tx) => { tx.data = encodeFunctionData({ abi: erc20Abi, functionName: 'approve', args: [customer as Hex, 1n] }); },
      (tx) => { tx.value = 1n; }, // ETH riding along an ERC-20 call
      (tx) => { tx.accessList = [{ address: attacker, storageKeys: [] }]; },
    ];
    for (const c of cases) expect(() => parseUnsigned(reencode(u, c))).toThrow(expect.objectContaining(bad));
    const eth = buildUnsigned({ to: customer, amount: 1n }, params);
    expect(() => parseUnsigned(reencode(eth, (tx) => { tx.data = '0x01'; }))).toThrow(expect.objectContaining(bad));
    expect(() => parseUnsigned(reencode(eth, (tx) => { tx.value = 0n; }))).toThrow(expect.objectContaining(bad));
    expect(() => parseUnsigned({ chain: 'ethereum', bytes: new Uint8Array([...eth.bytes, 0]) })).toThrow(expect.objectContaining(bad));
    expect(() => parseUnsigned({ chain: 'ethereum', bytes: new Uint8Array(5000).fill(2) })).toThrow(expect.objectContaining(bad));
    expect(() => parseUnsigned({ chain: 'ethereum', bytes: Uint8Array.of(0x02, 0xc0) })).toThrow(expect.objectContaining(bad));
    expect(() => parseUnsigned({ chain: 'bitcoin', bytes: eth.bytes })).toThrow(expect.objectContaining(bad));
    // A signed transaction is not an unsigned one (a node never re-signs it).
    const signed = assemble(eth, sign(signingDigest(eth), wallet.sk));
    expect(() => parseUnsigned({ chain: 'ethereum', bytes: signed.raw })).toThrow(expect.objectContaining(bad));
    expect(() => signingDigest({ chain: 'ethereum', bytes: signed.raw })).toThrow(expect.objectContaining(bad));
  });

  it('parseForSigning (one parse for the node) answers exactly what parseUnsigned and signingDigest answer, and refuses what they refuse', () => {
    const eth = buildUnsigned({ to: customer, amount: 42n }, params);
    const token = buildUnsigned({ to: customer, amount: 5_000_000n, asset: usdc }, params);
    for (const u of [eth, token]) {
      const one = parseForSigning(u);
      expect(one.parsed).toEqual(parseUnsigned(u));
      expect(bytesToHex(one.digest)).toBe(bytesToHex(signingDigest(u)));
    }
    const bad = { code: 'tx_malformed' };
    const trailing = { chain: 'ethereum' as const, bytes: new Uint8Array([...eth.bytes, 0]) };
    const signed = assemble(eth, sign(signingDigest(eth), wallet.sk));
    for (const u of [trailing, { chain: 'ethereum' as const, bytes: signed.raw }, reencode(eth, (tx) => { tx.data = '0x01'; })]) {
      expect(() => parseForSigning(u)).toThrow(expect.objectContaining(bad));
    }
  });

  it('refuses bad inputs when building', () => {
    expect(() => buildUnsigned({ to: customer, amount: 0n }, params)).toThrow(expect.objectContaining({ code: 'tx_invalid_amount' }));
    expect(() => buildUnsigned({ to: 'nope', amount: 1n }, params)).toThrow(expect.objectContaining({ code: 'address_format' }));
    expect(() => buildUnsigned({ to: customer, amount: 1n }, { ...params, maxPriorityFeePerGas: params.maxFeePerGas + 1n })).toThrow(expect.objectContaining({ code: 'tx_invalid_amount' }));
    expect(() => buildUnsigned({ to: customer, amount: 1n }, { ...params, chainId: 0 })).toThrow(expect.objectContaining({ code: 'tx_invalid_chain_id' }));
  });
});
