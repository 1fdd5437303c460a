/**
 * The signer's configuration from the environment: which chains it signs, offline or with an
 * endpoint, where withdrawals stay `signed` for want of an endpoint, and which cluster file it uses.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256 } from '@noble/hashes/sha2.js';
import { utf8ToBytes } from '@noble/hashes/utils.js';
import { base58 } from '@scure/base';
import { afterAll, describe, expect, it } from 'vitest';
import { chainSetupFromEnv, signerClusterFile } from './signer.js';

const dir = mkdtempSync(join(tmpdir(), 'custos-signer-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('chainSetupFromEnv', () => {
  it('signs nothing without configuration, and says why per chain', async () => {
    const s = await chainSetupFromEnv({});
    expect(s.facts).toEqual({});
    expect(s.broadcasters).toEqual({});
    expect(s.describe).toEqual([
      expect.stringMatching(/^solana: not signed here/),
      expect.stringMatching(/^ethereum: not signed here/),
      expect.stringMatching(/^bitcoin: not signed here/),
    ]);
  });

  it('signs Solana offline with a fixed blockhash and Ethereum for a chain id, neither broadcast (withdrawals stay signed)', async () => {
    const blockhash = base58.encode(sha256(utf8ToBytes('x')));
    const s = await chainSetupFromEnv({ CUSTOS_SOLANA_BLOCKHASH: blockhash, CUSTOS_ETHEREUM_CHAIN_ID: '11155111', CUSTOS_CONFIRMATIONS_ETHEREUM: '3' });
    expect(await s.facts.solana?.recentBlockhash()).toEqual({ blockhash });
    expect(s.facts.ethereum).toEqual({ chainId: 11155111 });
    expect(s.broadcasters).toEqual({});
    expect(s.confirmations).toEqual({ ethereum: 3 });
    expect(s.describe[0]).toMatch(/OFFLINE.*stay signed/);
    expect(s.describe[1]).toMatch(/chain id 11155111; no endpoint: signed withdrawals stay signed/);
  });

  it('with endpoints: broadcasters per chain; the endpoint is printed without its path (which may hold an API key)', async () => {
    const s = await chainSetupFromEnv({ CUSTOS_SOLANA_RPC_URL: 'https://rpc.example/v2/SECRET-KEY', CUSTOS_ETHEREUM_CHAIN_ID: '1', CUSTOS_ETHEREUM_RPC_URL: 'https://eth.example/k/SECRET', CUSTOS_BITCOIN_RPC_URL: 'http://user:pw@127.0.0.1:8332' });
    expect(Object.keys(s.broadcasters).sort()).toEqual(['bitcoin', 'ethereum', 'solana']);
    expect(s.facts.bitcoin?.network).toBe('mainnet');
    const text = s.describe.join('\n');
    expect(text).toContain('https://rpc.example');
    expect(text).not.toMatch(/SECRET|user:pw/);
  });

  it('refuses a blockhash that is not 32 bytes and a bad chain id', async () => {
    await expect(chainSetupFromEnv({ CUSTOS_SOLANA_BLOCKHASH: base58.encode(new Uint8Array(31)) })).rejects.toMatchObject({ code: 'signer_bad_blockhash' });
    await expect(chainSetupFromEnv({ CUSTOS_ETHEREUM_CHAIN_ID: '-1' })).rejects.toMatchObject({ code: 'signer_bad_chain_id' });
  });
});

describe('signerClusterFile', () => {
  it('none configured: null; the default file when it exists; an explicit path even when missing (so the error names it)', () => {
    expect(signerClusterFile(dir, {})).toBeNull();
    writeFileSync(join(dir, 'cluster.json'), '{}');
    expect(signerClusterFile(join(dir, 'nowhere'), { CUSTOS_MPC_CLUSTER: join(dir, 'cluster.json') })).toBe(join(dir, 'cluster.json'));
    expect(signerClusterFile(dir, { CUSTOS_MPC_CLUSTER: join(dir, 'missing.json') })).toBe(join(dir, 'missing.json'));
  });
});
