/**
 * Threshold ECDSA (CGGMP21) as it runs: five `custos mpc-node` processes (bin/custos.js, so every
 * node derives what it signs with the chain parsers of chain-digest.ts), 3-of-5, driven by the
 * coordinator in this process; judged by software nobody here wrote: Hardhat 2's in-process node
 * (EDR) mines the EIP-1559 transaction and names the threshold key's address as sender;
 * bitcoinjs-lib/tiny-secp256k1 and bitcore-lib's interpreter accept the P2WPKH spend.
 *
 * The nodes' safe primes come from the public test fixtures through the TEST-ONLY provisioning path
 * (CUSTOS_NODE_TEST_SAFE_PRIMES), so key generation skips prime generation (aux info with all its
 * proofs still runs: seconds of CPU per node). Needs `npm run build` first (skipped otherwise).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ed25519 } from '@noble/curves/ed25519.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import * as bitcoin from 'bitcoinjs-lib';
import { Command } from 'commander';
import * as ecc from 'tiny-secp256k1';
import type { Hex } from 'viem';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { authorizedWithdrawal, signApprovalsFor } from '../../approvals/authorization.js';
import { buildUnsigned as buildBitcoin, parseUnsigned as parseBitcoin, assemble as assembleBitcoin, signingDigests, walletScript } from '../../chains/bitcoin/tx.js';
import { addressOfPublicKey, assemble as assembleEthereum, buildUnsigned as buildEthereum } from '../../chains/ethereum/tx.js';
import { registerMpcCommands } from '../../cli/mpc-commands.js';
import { chainDigest } from '../node/chain-digest.js';
import { ethereumBroadcaster } from '../../chains/broadcast.js';
import { BroadcastWorker } from '../../chains/broadcast-worker.js';
import type { JsonRpc } from '../../chains/rpc.js';
import { thresholdWallet } from '../../chains/wallet.js';
import type { Decision } from '../../core/decision.js';
import { createCredential } from '../../gateway/credentials.js';
import { insertApproval } from '../../store/approvals.js';
import { bindAccountKey, getOutbound } from '../../store/outbound.js';
import { seedStarter } from '../../store/seed.js';
import { TEST_DBS } from '../../store/test-helpers/db.js';
import { getWithdrawal, insertWithdrawal, type WithdrawalRecord } from '../../store/withdrawals.js';
import { policyAuthorizer } from './authorize.js';
import { SigningWorker } from './worker.js';
import { signAuthorization, type SignedAuthorization, type SigningAuthorization } from '../node/authorization.js';
import { SAFE_PRIMES } from '../protocols/cmp/testdata/fixtures.js';
import { taprootOutputKey } from '../protocols/frost/index.js';
import { NodeClient } from './client.js';
import { Coordinator, type CulpritAlert, type KeyInfo } from './coordinator.js';
import { defaultNodeEntry, startLocalCluster, type LocalCluster } from './local-cluster.js';

const custosBin = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin', 'custos.js');
const built = existsSync(defaultNodeEntry()) && existsSync(custosBin);
if (!built) console.warn('src/mpc/coordinator/ecdsa-cluster.test.ts: dist/ is missing; run `npm run build` first (skipped)');

const policySecret = new Uint8Array(randomBytes(32));
const coordinatorSecret = new Uint8Array(randomBytes(32));
type Signer = { approver: string; secretKey: Uint8Array };
const alice: Signer = { approver: 'alice', secretKey: new Uint8Array(randomBytes(32)) };
const bob: Signer = { approver: 'bob', secretKey: new Uint8Array(randomBytes(32)) };
const approverKeys = [alice, bob].map((a) => ({ approver: a.approver, publicKey: bytesToHex(ed25519.getPublicKey(a.secretKey)) }));
const KEY = 'eth-hot';
const CHAIN_ID = 31337;
const GWEI = 10n ** 9n;

/** A policy-signed authorization with alice's and bob's real approval signatures. */
function authorize(o: { chain: string; unsignedTx: Uint8Array; digest: Uint8Array; to: string; amount: bigint; asset: string }, over: Partial<SigningAuthorization> = {}): SignedAuthorization {
  const withdrawalId = over.withdrawalId ?? `wd-${bytesToHex(randomBytes(6))}`;
  const f = {
    withdrawalId, keyId: KEY, chain: o.chain, unsignedTx: bytesToHex(o.unsignedTx), digest: bytesToHex(o.digest), to: o.to, amount: o.amount.toString(),
    policyVersion: 1, expiresAt: Date.now() + 60_000, ...over,
  };
  const withdrawal = { id: f.withdrawalId, customerId: 'acme', chain: f.chain, asset: o.asset, to: f.to, amount: f.amount, fee: null, memo: null, createdAt: Date.now() - 60_000 };
  const approvals = signApprovalsFor(withdrawal, f.policyVersion, [alice, bob], { at: Date.now() - 500, expiresAt: Date.now() + 600_000 });
  return signAuthorization({ ...f, withdrawal, approvals }, policySecret);
}

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return (err as { code: string }).code;
  }
  return 'accepted';
}

// ---- Hardhat 2 in-process node (EDR), set up as in src/chains/ethereum/tx.test.ts ----
interface Provider { request(args: { method: string; params?: unknown[] }): Promise<unknown> }
interface Receipt { from: string; to: string | null; status: string; transactionHash: string }
let provider: Provider;
async function rpc<T>(method: string, ...params: unknown[]): Promise<T> {
  return (await provider.request({ method, params })) as T;
}

// ---- bitcore-lib's interpreter, as in src/chains/bitcoin/tx.test.ts ----
interface BitcoreScript { toBuffer(): Buffer }
interface BitcoreTx { inputs: { output?: unknown; witnesses: Buffer[] }[] }
interface Interpreter { verify(scriptSig: BitcoreScript, scriptPubKey: BitcoreScript, tx: BitcoreTx, nin: number, flags: number, witness: Buffer[], satoshis: number): boolean; errstr: string }
type InterpreterClass = { new (): Interpreter; SCRIPT_VERIFY_P2SH: number; SCRIPT_VERIFY_WITNESS: number; SCRIPT_VERIFY_TAPROOT: number; SCRIPT_VERIFY_STRICTENC: number; SCRIPT_VERIFY_LOW_S: number; SCRIPT_VERIFY_NULLFAIL: number; SCRIPT_VERIFY_DERSIG: number };
const bitcore = createRequire(import.meta.url)('bitcore-lib') as {
  Transaction: { new (raw: string): BitcoreTx; Output: new (o: { script: string; satoshis: number }) => unknown };
  Script: { new (hex: string): BitcoreScript; empty(): BitcoreScript; Interpreter: InterpreterClass };
};
function bitcoreVerify(raw: Uint8Array, script: Uint8Array, amounts: bigint[]): { ok: boolean; error: string } {
  const I = bitcore.Script.Interpreter;
  const tx = new bitcore.Transaction(bytesToHex(raw));
  tx.inputs.forEach((input, i) => { input.output = new bitcore.Transaction.Output({ script: bytesToHex(script), satoshis: Number(amounts[i]) }); });
  const flags = I.SCRIPT_VERIFY_P2SH | I.SCRIPT_VERIFY_WITNESS | I.SCRIPT_VERIFY_TAPROOT | I.SCRIPT_VERIFY_STRICTENC | I.SCRIPT_VERIFY_LOW_S | I.SCRIPT_VERIFY_NULLFAIL | I.SCRIPT_VERIFY_DERSIG;
  for (let i = 0; i < tx.inputs.length; i++) {
    const interp = new I();
    if (!interp.verify(bitcore.Script.empty(), new bitcore.Script(bytesToHex(script)), tx, i, flags, tx.inputs[i]?.witnesses ?? [], Number(amounts[i]))) return { ok: false, error: interp.errstr };
  }
  return { ok: true, error: '' };
}

describe.skipIf(!built)('threshold ECDSA 3-of-5 across five node processes (needs dist/)', () => {
  let base: string;
  let cluster: LocalCluster;
  let coordinator: Coordinator;
  let key: KeyInfo;
  let hardhatDir: string | undefined;
  const alerts: CulpritAlert[] = [];
  const progress: string[] = [];

  beforeAll(async () => {
    base = mkdtempSync(join(tmpdir(), 'custos-ecdsa-'));
    const ids = ['node-1', 'node-2', 'node-3', 'node-4', 'node-5'];
    // TEST-ONLY: each node gets two distinct fixture safe-prime pairs (key generation + one refresh)
    const primeFile = (id: string): string => {
      const i = ids.indexOf(id);
      const pair = (k: number) => [(SAFE_PRIMES[2 * k] as bigint).toString(16), (SAFE_PRIMES[2 * k + 1] as bigint).toString(16)];
      const file = join(base, `${id}.test-primes.json`);
      writeFileSync(file, JSON.stringify({ pairs: [pair(i), pair(i + 5)] }));
      return file;
    };
    cluster = await startLocalCluster({
      baseDir: base, n: 5, policyPublicKey: bytesToHex(ed25519.getPublicKey(policySecret)), minApprovals: 2, approverKeys,
      coordinatorKeys: [bytesToHex(ed25519.getPublicKey(coordinatorSecret))], entry: custosBin, entryArgs: ['mpc-node'],
      envFor: (id) => ({ CUSTOS_NODE_TEST_SAFE_PRIMES: primeFile(id) }),
    });
    writeFileSync(join(base, 'coordinator-key.dev.json'), JSON.stringify({ secretKey: bytesToHex(coordinatorSecret) }));
    coordinator = new Coordinator({
      nodes: cluster.nodes, secretKey: coordinatorSecret, onCulprit: (a) => alerts.push(a), onProgress: (l) => progress.push(l), healthTtlMs: 60_000,
    });
    hardhatDir = mkdtempSync(join(tmpdir(), 'custos-hardhat-'));
    writeFileSync(join(hardhatDir, 'hardhat.config.cjs'), `module.exports = { networks: { hardhat: { chainId: ${CHAIN_ID} } } };\n`);
    process.env.HARDHAT_CONFIG = join(hardhatDir, 'hardhat.config.cjs');
    provider = (createRequire(import.meta.url)('hardhat') as { network: { provider: Provider } }).network.provider;
  }, 90_000);

  afterAll(async () => {
    await coordinator?.stopPresignaturePools();
    await cluster?.stop();
    if (base) rmSync(base, { recursive: true, force: true });
    if (hardhatDir) rmSync(hardhatDir, { recursive: true, force: true });
  });

  it('custos keygen --scheme ecdsa --threshold 3 --parties 5: keygen and aux info across the nodes, with progress', async () => {
    const lines: string[] = [];
    const spy = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => {
      lines.push(a.map(String).join(' '));
    });
    try {
      const program = new Command('custos').exitOverride();
      registerMpcCommands(program, () => ({ dataDir: base }));
      await program.parseAsync(['keygen', '--scheme', 'ecdsa', '--threshold', '3', '--parties', '5', '--key-id', KEY, '--cluster', join(base, 'cluster.json')], { from: 'user' });
    } finally {
      spy.mockRestore();
    }
    expect(lines.join('\n')).toMatch(/nodes up: 5\/5[\s\S]*ecdsa 3-of-5[\s\S]*round 3 relayed[\s\S]*round 6 relayed[\s\S]*key eth-hot ready: public key 0[23][0-9a-f]{64}/);
    key = (await coordinator.listKeys()).find((k) => k.keyId === KEY) as KeyInfo;
    expect(key).toMatchObject({ protocol: 'cmp', suite: 'secp256k1', threshold: 3, generation: 0, holders: cluster.nodes.map((n) => n.id) });
    const health = (await new NodeClient(cluster.nodes[0] as { id: string; url: string }, 5_000).health()) as { primePool: unknown };
    expect(health.primePool).toEqual({ generated: 0, testFixture: 1 });
  }, 180_000);

  it('an EIP-1559 transfer signed 3-of-5 from a pooled presignature is mined by Hardhat (EDR): the receipt names the threshold address', async () => {
    const signers = ['node-1', 'node-2', 'node-3'];
    coordinator.keepPresignatures({ keyId: KEY, perSubset: 1, subsets: [signers] });
    for (let i = 0; i < 600 && coordinator.pooledPresignatures(KEY, signers) < 1; i++) await new Promise((r) => setTimeout(r, 100));
    expect(coordinator.pooledPresignatures(KEY, signers)).toBe(1);
    // a coordinator that restarted relearns the pool from the nodes' inventories (ids and R every signer lists)
    const restarted = new Coordinator({ nodes: cluster.nodes, secretKey: coordinatorSecret });
    expect(await restarted.syncPresignatures(KEY)).toBeGreaterThanOrEqual(1);
    expect(restarted.pooledPresignatures(KEY, signers)).toBeGreaterThanOrEqual(1);
    expect(restarted.pooledPresignatures(KEY, ['node-3', 'node-4', 'node-5'])).toBe(0);
    const from = addressOfPublicKey(hexToBytes(key.publicKey));
    await rpc('hardhat_setBalance', from, '0x' + (10n ** 20n).toString(16));
    const to = addressOfPublicKey(secp256k1.getPublicKey(secp256k1.utils.randomSecretKey()));
    const nonce = BigInt(await rpc<string>('eth_getTransactionCount', from, 'pending'));
    const unsigned = buildEthereum({ to, amount: 10n ** 17n }, { chainId: CHAIN_ID, nonce, maxFeePerGas: 20n * GWEI, maxPriorityFeePerGas: GWEI });
    const derived = chainDigest('ethereum', unsigned.bytes);
    const before = progress.length;
    const authorization = authorize({ chain: 'ethereum', unsignedTx: unsigned.bytes, digest: derived.digest, to, amount: 10n ** 17n, asset: 'ETH' });
    const r = await coordinator.sign({ keyId: KEY, authorization }, chainDigest);
    expect(r.signers).toEqual(signers);
    expect(progress.slice(before).join('\n')).not.toContain('presigning first'); // it came from the pool
    const sig = secp256k1.Signature.fromBytes(r.signature, 'compact');
    const signed = assembleEthereum(unsigned, { r: sig.r, s: sig.s, recovery: r.recovery as number }, from);
    const hash = await rpc<string>('eth_sendRawTransaction', ('0x' + bytesToHex(signed.raw)) as Hex);
    const receipt = await rpc<Receipt>('eth_getTransactionReceipt', hash);
    expect(receipt.status).toBe('0x1');
    expect(receipt.from.toLowerCase()).toBe(from.toLowerCase());
    expect(receipt.to?.toLowerCase()).toBe(to.toLowerCase());
    expect(BigInt(await rpc<string>('eth_getBalance', to, 'latest'))).toBe(10n ** 17n);
    // once the signers recorded it (delivered after the signature was returned), the withdrawal is never signed again
    await coordinator.settle();
    expect(await refusal(coordinator.sign({ keyId: KEY, authorization }, chainDigest))).toBe('withdrawal_already_signed');
  }, 120_000);

  it('the signing worker takes an approved ETH withdrawal to signed with this key; the broadcast worker sends it (EIP-1193 adapter to Hardhat) and confirms it; from = threshold address', async () => {
    const db = await (TEST_DBS[0] as (typeof TEST_DBS)[number]).open();
    try {
      const from = addressOfPublicKey(hexToBytes(key.publicKey));
      await rpc('hardhat_setBalance', from, '0x' + (10n ** 20n).toString(16));
      await seedStarter(db, { customerId: 'acme' });
      const wallet = thresholdWallet('ethereum', 'mainnet', { suite: key.suite, publicKey: hexToBytes(key.publicKey) });
      expect(wallet.address).toBe(from);
      await db.tx((q) => bindAccountKey(q, 'hot-eth', { keyId: KEY, address: wallet.address }));
      // An approved withdrawal as intake and two approvals leave it (quorum 2; alice and bob signed the approval statement).
      const { credentialId } = await createCredential(db, { customerId: 'acme', scopes: ['withdraw'] });
      const to = addressOfPublicKey(secp256k1.getPublicKey(secp256k1.utils.randomSecretKey()));
      const now = Date.now();
      const rules = { stage: 'rules', outcome: 'pass', reasons: [], policyVersion: 1,
        approval: { quorum: 2, eligible: ['alice', 'bob'], excluded: [], requiresHsm: false, expiresAfterMs: 86_400_000 } } as Decision;
      const w: WithdrawalRecord = {
        id: `wd-eth-${bytesToHex(randomBytes(4))}`, customerId: 'acme', credentialId, accountId: 'hot-eth', chain: 'ethereum', asset: 'ETH', to, amount: 3n * 10n ** 16n,
        fee: 21_000n * 30n * GWEI, nonce: BigInt(await rpc<string>('eth_getTransactionCount', from, 'pending')), memo: null, status: 'approved',
        decisions: [rules], request: {}, idempotencyKey: 'eth-worker-1', requestHash: new Uint8Array(32), createdAt: now - 60_000, updatedAt: now,
      };
      const approvals = signApprovalsFor(authorizedWithdrawal(w), 1, [alice, bob], { at: now - 1_000, expiresAt: now + 600_000 });
      await db.tx(async (q) => {
        await insertWithdrawal(q, w);
        for (const [i, a] of approvals.entries()) {
          await insertApproval(q, {
            withdrawalId: w.id, approverId: a.approver, credentialId: `cred_ap${i}`, decision: 'approve', comment: '', policyVersion: 1, at: a.at,
            signature: a.signature, signatureExpiresAt: a.expiresAt, publicKey: (approverKeys[i] as { publicKey: string }).publicKey,
          });
        }
      });
      const worker = new SigningWorker({ db, coordinator, authorize: policyAuthorizer({ db, policySecretKey: policySecret }), facts: { ethereum: { chainId: CHAIN_ID } } });
      const report = await worker.runOnce();
      expect(report.signed).toEqual([w.id]);
      expect((await getWithdrawal(db, w.id))?.status).toBe('signed');
      // The EIP-1193 provider as the JSON-RPC endpoint (same calls a URL endpoint gets).
      const eip1193: JsonRpc = { request: (method, params) => provider.request({ method, params }) };
      const broadcast = new BroadcastWorker({ db, broadcasters: { ethereum: ethereumBroadcaster(eip1193) }, confirmations: { ethereum: 1 }, pollMs: 0 });
      // One pass sends it (signed → broadcast) and, with pollMs 0 and Hardhat mining at once, confirms it.
      const pass = await broadcast.runOnce();
      expect(pass.broadcast).toEqual([w.id]);
      expect(pass.confirmed).toEqual([w.id]);
      const ob = await getOutbound(db, w.id);
      const receipt = await rpc<Receipt>('eth_getTransactionReceipt', ob?.txHash);
      expect(receipt.status).toBe('0x1');
      expect(receipt.from.toLowerCase()).toBe(from.toLowerCase());
      expect(BigInt(await rpc<string>('eth_getBalance', to, 'latest'))).toBe(3n * 10n ** 16n);
      expect((await getWithdrawal(db, w.id))?.status).toBe('confirmed');
      await coordinator.settle();
    } finally {
      await db.close();
    }
  }, 120_000);

  it('a P2WPKH spend signed 3-of-5 is accepted by bitcoinjs-lib/tiny-secp256k1 and bitcore-lib', async () => {
    const publicKey = hexToBytes(key.publicKey);
    const wallet = { type: 'p2wpkh' as const, publicKey };
    const script = walletScript(wallet);
    const customer = 'bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4';
    const unsigned = buildBitcoin({ to: customer, amount: 50_000n }, { network: 'mainnet', wallet, utxos: [{ txid: 'ab'.repeat(32), vout: 0, amount: 80_000n }], feeRate: 5n });
    const [digest] = signingDigests(unsigned);
    const r = await coordinator.sign({
      keyId: KEY, authorization: authorize({ chain: 'bitcoin', unsignedTx: unsigned.bytes, digest: digest as Uint8Array, to: customer, amount: 50_000n, asset: 'BTC' }),
    }, chainDigest);
    const sig = secp256k1.Signature.fromBytes(r.signature, 'compact');
    const signed = assembleBitcoin(unsigned, [{ r: sig.r, s: sig.s, recovery: r.recovery as number }]);
    const tx = bitcoin.Transaction.fromBuffer(signed.raw);
    expect(tx.getId()).toBe(signed.id);
    const scriptCode = bitcoin.payments.p2pkh({ pubkey: publicKey }).output as Uint8Array;
    const hash = tx.hashForWitnessV0(0, scriptCode, 80_000n, bitcoin.Transaction.SIGHASH_ALL);
    expect(bytesToHex(hash)).toBe(bytesToHex(digest as Uint8Array));
    const decoded = bitcoin.script.signature.decode(tx.ins[0]?.witness[0] as Uint8Array);
    expect(ecc.verify(hash, tx.ins[0]?.witness[1] as Uint8Array, decoded.signature, true)).toBe(true);
    const amounts = parseBitcoin(unsigned, 'mainnet').inputs.map((u) => u.amount);
    expect(bitcoreVerify(signed.raw, script, amounts)).toEqual({ ok: true, error: '' });
    expect(bitcoreVerify(signed.raw, script, [80_001n]).ok).toBe(false); // BIP-143 commits to the amount
  }, 120_000);

  it('every node refuses a coordinator that asks for an altered digest, or for a transaction paying someone else', async () => {
    const to = addressOfPublicKey(secp256k1.getPublicKey(secp256k1.utils.randomSecretKey()));
    const unsigned = buildEthereum({ to, amount: 5n * 10n ** 16n }, { chainId: CHAIN_ID, nonce: 99n, maxFeePerGas: 20n * GWEI, maxPriorityFeePerGas: GWEI });
    const real = chainDigest('ethereum', unsigned.bytes).digest;
    const altered = Uint8Array.from(real, (b, i) => (i === 31 ? b ^ 1 : b));
    const lying = authorize({ chain: 'ethereum', unsignedTx: unsigned.bytes, digest: altered, to, amount: 5n * 10n ** 16n, asset: 'ETH' });
    const elsewhere = authorize({ chain: 'ethereum', unsignedTx: unsigned.bytes, digest: real, to: addressOfPublicKey(secp256k1.getPublicKey(secp256k1.utils.randomSecretKey())), amount: 5n * 10n ** 16n, asset: 'ETH' });
    const signers = cluster.nodes.slice(0, 3).map((n) => n.id);
    for (const n of cluster.nodes) {
      const client = new NodeClient(n, 5_000, coordinatorSecret);
      const body = (authorization: SignedAuthorization) => ({
        kind: 'sign', session: bytesToHex(randomBytes(32)), keyId: KEY, signers: [...new Set([...signers.slice(0, 2), n.id])], authorization,
        presignature: bytesToHex(randomBytes(32)),
      });
      expect(await refusal(client.start(body(lying)))).toBe('authorization_digest_mismatch');
      expect(await refusal(client.start(body(elsewhere)))).toBe('authorization_destination_mismatch');
    }
    // the coordinator itself refuses before asking anyone
    expect(await refusal(coordinator.sign({ keyId: KEY, authorization: lying }, chainDigest))).toBe('authorization_digest_mismatch');
  });

  it('a P2TR key-path spend signed 3-of-5 by FROST (BIP-340, BIP-86 tweak) through the same nodes is accepted by bitcoinjs-lib and bitcore-lib', async () => {
    const frostKey = await coordinator.keygen({ scheme: 'schnorr', threshold: 3, keyId: 'btc-taproot' });
    const outputKey = taprootOutputKey(hexToBytes(frostKey.publicKey).subarray(1), new Uint8Array(0));
    const wallet = { type: 'p2tr' as const, outputKey };
    const script = walletScript(wallet);
    const customer = 'bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4';
    const utxos = [{ txid: 'ef'.repeat(32), vout: 0, amount: 30_000n }, { txid: '12'.repeat(32), vout: 2, amount: 25_000n }];
    const unsigned = buildBitcoin({ to: customer, amount: 45_000n }, { network: 'mainnet', wallet, utxos, feeRate: 3n });
    const digests = signingDigests(unsigned);
    expect(digests).toHaveLength(2);
    // one authorization (and withdrawal id) per input: the nodes pick the input whose sighash is named
    const sigs: Uint8Array[] = [];
    for (const [i, digest] of digests.entries()) {
      const r = await coordinator.sign({
        keyId: 'btc-taproot',
        authorization: { ...authorize({ chain: 'bitcoin', unsignedTx: unsigned.bytes, digest, to: customer, amount: 45_000n, asset: 'BTC' }, { keyId: 'btc-taproot', withdrawalId: `wd-tr-${i}` }) },
      }, chainDigest);
      expect(bytesToHex(r.publicKey)).toBe(bytesToHex(outputKey)); // signed under the tweaked output key
      sigs.push(r.signature);
    }
    const signed = assembleBitcoin(unsigned, sigs);
    const tx = bitcoin.Transaction.fromBuffer(signed.raw);
    const amounts = parseBitcoin(unsigned, 'mainnet').inputs.map((u) => u.amount);
    tx.ins.forEach((input, i) => {
      const hash = tx.hashForWitnessV1(i, amounts.map(() => script), amounts, bitcoin.Transaction.SIGHASH_DEFAULT);
      expect(bytesToHex(hash)).toBe(bytesToHex(digests[i] as Uint8Array));
      expect(ecc.verifySchnorr(hash, outputKey, input.witness[0] as Uint8Array)).toBe(true);
    });
    expect(bitcoreVerify(signed.raw, script, amounts)).toEqual({ ok: true, error: '' });
  }, 60_000);

  it('signs with two of five nodes killed (presigning on the spot for the remaining subset)', async () => {
    await coordinator.stopPresignaturePools();
    await cluster.kill('node-1');
    await cluster.kill('node-2');
    const publicKey = hexToBytes(key.publicKey);
    const wallet = { type: 'p2wpkh' as const, publicKey };
    const customer = 'bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4';
    const unsigned = buildBitcoin({ to: customer, amount: 20_000n }, { network: 'mainnet', wallet, utxos: [{ txid: 'cd'.repeat(32), vout: 1, amount: 40_000n }], feeRate: 5n });
    const [digest] = signingDigests(unsigned);
    const r = await coordinator.sign({
      keyId: KEY, authorization: authorize({ chain: 'bitcoin', unsignedTx: unsigned.bytes, digest: digest as Uint8Array, to: customer, amount: 20_000n, asset: 'BTC' }),
    }, chainDigest);
    expect(r.signers).toEqual(['node-3', 'node-4', 'node-5']);
    expect(secp256k1.verify(r.signature, digest as Uint8Array, publicKey, { prehash: false })).toBe(true);
    expect(progress.join('\n')).toMatch(/node-1 node_unreachable|node-2 node_unreachable/);
  }, 120_000);

  it('names a node that sends a bad presigning proof, excludes it, raises an alert and signs with another subset', async () => {
    // node-1 and node-2 come back; node-5 is restarted as a cheater (bad Π^enc in presigning)
    await cluster.restart('node-1');
    await cluster.restart('node-2');
    await cluster.kill('node-5');
    await cluster.restart('node-5', { CUSTOS_NODE_TEST_HOOK: 'corrupt-presign-proof' });
    const fresh = new Coordinator({ nodes: cluster.nodes, secretKey: coordinatorSecret, onCulprit: (a) => alerts.push(a), onProgress: (l) => progress.push(l) });
    const to = addressOfPublicKey(secp256k1.getPublicKey(secp256k1.utils.randomSecretKey()));
    const unsigned = buildEthereum({ to, amount: 10n ** 15n }, { chainId: CHAIN_ID, nonce: 5n, maxFeePerGas: 20n * GWEI, maxPriorityFeePerGas: GWEI });
    const digest = chainDigest('ethereum', unsigned.bytes).digest;
    const r = await fresh.sign({
      keyId: KEY, prefer: ['node-5', 'node-3', 'node-4'], authorization: authorize({ chain: 'ethereum', unsignedTx: unsigned.bytes, digest, to, amount: 10n ** 15n, asset: 'ETH' }),
    }, chainDigest);
    expect(alerts.map((a) => [a.node, a.code])).toEqual([['node-5', 'cmp_bad_proof']]);
    expect(fresh.excluded()).toEqual(['node-5']);
    expect(r.attempts).toBe(2);
    expect(r.signers).not.toContain('node-5');
    expect(secp256k1.verify(r.signature, digest, hexToBytes(key.publicKey), { prehash: false })).toBe(true);
  }, 120_000);

  it('names a node that sends a wrong σ share in online signing (the coordinator checks σ_j against the public R̄_j, S̄_j of the presignature), excludes it and signs with another subset', async () => {
    await cluster.kill('node-4');
    await cluster.restart('node-4', { CUSTOS_NODE_TEST_HOOK: 'corrupt-signature-share' });
    const seen: CulpritAlert[] = [];
    const fresh = new Coordinator({ nodes: cluster.nodes, secretKey: coordinatorSecret, onCulprit: (a) => seen.push(a), onProgress: (l) => progress.push(l) });
    const to = addressOfPublicKey(secp256k1.getPublicKey(secp256k1.utils.randomSecretKey()));
    const unsigned = buildEthereum({ to, amount: 2n * 10n ** 15n }, { chainId: CHAIN_ID, nonce: 6n, maxFeePerGas: 20n * GWEI, maxPriorityFeePerGas: GWEI });
    const digest = chainDigest('ethereum', unsigned.bytes).digest;
    const r = await fresh.sign({
      keyId: KEY, prefer: ['node-4', 'node-1', 'node-2'], authorization: authorize({ chain: 'ethereum', unsignedTx: unsigned.bytes, digest, to, amount: 2n * 10n ** 15n, asset: 'ETH' }),
    }, chainDigest);
    expect(seen.map((a) => a.node)).toEqual(['node-4']);
    // checked by the coordinator itself against the presignature's public R̄_j, S̄_j (not just the nodes' word)
    expect(seen[0]).toMatchObject({ code: 'cmp_bad_signature_share', message: expect.stringContaining('fails its check against the presignature') as unknown });
    expect(fresh.excluded()).toEqual(['node-4']);
    expect(r.attempts).toBe(2);
    expect(r.signers).not.toContain('node-4');
    expect(secp256k1.verify(r.signature, digest, hexToBytes(key.publicKey), { prehash: false })).toBe(true);
    await fresh.settle();
  }, 120_000);

  it('refreshes the ECDSA key across the five processes (two-phase): same key, generation 1, old presignatures gone, signing works', async () => {
    const c = new Coordinator({ nodes: cluster.nodes, secretKey: coordinatorSecret, onProgress: (l) => progress.push(l) });
    await c.presign({ keyId: KEY, signers: ['node-1', 'node-2', 'node-3'] });
    const before = (await new NodeClient(cluster.nodes[0] as { id: string; url: string }, 5_000).presignatures(KEY)) as { presignatures: unknown[] };
    expect(before.presignatures.length).toBeGreaterThan(0);
    const r = await c.refresh({ keyId: KEY });
    expect(r).toMatchObject({ publicKey: key.publicKey, generation: 1 });
    const after = (await new NodeClient(cluster.nodes[0] as { id: string; url: string }, 5_000).presignatures(KEY)) as { presignatures: unknown[] };
    expect(after.presignatures).toEqual([]);
    const to = addressOfPublicKey(secp256k1.getPublicKey(secp256k1.utils.randomSecretKey()));
    const unsigned = buildEthereum({ to, amount: 7n * 10n ** 15n }, { chainId: CHAIN_ID, nonce: 7n, maxFeePerGas: 20n * GWEI, maxPriorityFeePerGas: GWEI });
    const digest = chainDigest('ethereum', unsigned.bytes).digest;
    const s = await c.sign({
      keyId: KEY, prefer: ['node-1', 'node-2', 'node-3'], authorization: authorize({ chain: 'ethereum', unsignedTx: unsigned.bytes, digest, to, amount: 7n * 10n ** 15n, asset: 'ETH' }),
    }, chainDigest);
    expect(secp256k1.verify(s.signature, digest, hexToBytes(key.publicKey), { prehash: false })).toBe(true);
    await c.settle();
  }, 180_000);
});
