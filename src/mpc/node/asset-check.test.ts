/**
 * A node checks what asset the transaction moves against the approved withdrawal's asset: the
 * same native asset, or the token contract it pins for that symbol. Same destination and same
 * amount in another token must not pass (6-decimal USDC units read as 8-decimal WBTC units).
 */
import { randomBytes } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { keccak_256 } from '@noble/hashes/sha3.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { describe, expect, it } from 'vitest';
import { signApprovalsFor } from '../../approvals/authorization.js';
import { buildUnsigned } from '../../chains/ethereum/tx.js';
import { toChecksumAddress } from '../../chains/ethereum/address.js';
import { signAuthorization, verifyAuthorization } from './authorization.js';
import { chainDigest } from './chain-digest.js';

const policy = new Uint8Array(randomBytes(32));
const approvers = ['alice', 'bob'].map((approver) => ({ approver, secretKey: new Uint8Array(randomBytes(32)) }));
const approverKeys = approvers.map((a) => ({ approver: a.approver, publicKey: bytesToHex(ed25519.getPublicKey(a.secretKey)) }));
const USDC = toChecksumAddress('0x' + bytesToHex(keccak_256(new TextEncoder().encode('usdc'))).slice(0, 40));
const WBTC = toChecksumAddress('0x' + bytesToHex(keccak_256(new TextEncoder().encode('wbtc'))).slice(0, 40));
const to = toChecksumAddress('0x' + bytesToHex(keccak_256(new TextEncoder().encode('customer'))).slice(0, 40));
const now = 1_800_000_000_000;

function check(asset: string, txAsset: string | undefined, tokens?: Record<string, string>): string {
  const unsigned = buildUnsigned({ to, amount: 100_000_000n, ...(txAsset ? { asset: txAsset } : {}) }, { chainId: 1, nonce: 0n, maxFeePerGas: 10n ** 10n, maxPriorityFeePerGas: 10n ** 9n });
  const digest = chainDigest('ethereum', unsigned.bytes).digest;
  const withdrawal = { id: 'wd-1', customerId: 'acme', chain: 'ethereum', asset, to, amount: '100000000', fee: null, memo: null, createdAt: now - 1000 };
  const auth = signAuthorization({
    withdrawalId: 'wd-1', keyId: 'k', chain: 'ethereum', unsignedTx: bytesToHex(unsigned.bytes), digest: bytesToHex(digest), to, amount: '100000000',
    policyVersion: 1, withdrawal, approvals: signApprovalsFor(withdrawal, 1, approvers, { at: now - 500, expiresAt: now + 600_000 }), expiresAt: now + 60_000,
  }, policy);
  try {
    verifyAuthorization(JSON.parse(JSON.stringify(auth)), {
      policyPublicKey: bytesToHex(ed25519.getPublicKey(policy)), now, keyId: 'k', minApprovals: 2, approverKeys, deriveDigest: chainDigest, ...(tokens ? { tokens } : {}),
    });
  } catch (err) {
    return (err as { code: string }).code;
  }
  return 'accepted';
}

describe('the asset a node signs for', () => {
  it('ETH for an ETH withdrawal; the pinned USDC contract for a USDC withdrawal', () => {
    expect(check('ETH', undefined)).toBe('accepted');
    expect(check('USDC', USDC, { USDC })).toBe('accepted');
  });

  it('refuses another token for the same amount, a token for ETH, ETH for a token, and an unpinned token', () => {
    expect(check('USDC', WBTC, { USDC, WBTC })).toBe('authorization_asset_mismatch');
    expect(check('ETH', USDC, { USDC })).toBe('authorization_asset_mismatch');
    expect(check('USDC', undefined, { USDC })).toBe('authorization_asset_mismatch');
    expect(check('USDC', USDC)).toBe('authorization_asset_unpinned');
  });
});
