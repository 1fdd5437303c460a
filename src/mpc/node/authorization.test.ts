import { randomBytes } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { describe, expect, it } from 'vitest';
import { signApprovalsFor } from '../../approvals/authorization.js';
import { withdrawalDigest } from '../../approvals/digest.js';
import { signApprovalStatement } from '../../approvals/statement.js';
import { buildUnsigned as buildEthereum } from '../../chains/ethereum/tx.js';
import { approvalKeyId, approvalSigningBytes, encodeApprovalToken, type ApprovalPayload } from '../../hsm/approval-token.js';
import { chainDigest } from './chain-digest.js';
import {
  authorizationBytes, parseNodeValueRules, parsePinnedApproverKeys, parseSignedAuthorization, rawMessageDigest, signAuthorization, verifyAuthorization,
  type AuthorizedWithdrawal, type DeriveDigest, type SigningAuthorization,
} from './authorization.js';
import { thrownCode as code } from '../../core/test-helpers/thrown-code.js';

const secret = new Uint8Array(randomBytes(32));
const policyPublicKey = bytesToHex(ed25519.getPublicKey(secret));
const signer = (approver: string) => ({ approver, secretKey: new Uint8Array(randomBytes(32)) });
const alice = signer('alice');
const bob = signer('bob');
const carol = signer('carol');
const pin = (s: { approver: string; secretKey: Uint8Array }) => ({ approver: s.approver, publicKey: bytesToHex(ed25519.getPublicKey(s.secretKey)) });
const approverKeys = [alice, bob, carol].map(pin);
const tx = new Uint8Array(randomBytes(100));
const withdrawal: AuthorizedWithdrawal = {
  id: 'wd-1', customerId: 'acme', chain: 'solana', asset: 'SOL', to: 'DestAddr', amount: '1500000', fee: '5000', memo: null, createdAt: 100,
};
const approvalsOf = (w: AuthorizedWithdrawal, signers = [alice, bob], policyVersion = 7) => signApprovalsFor(w, policyVersion, signers, { at: 1_000, expiresAt: 2_000 });
const base: SigningAuthorization = {
  withdrawalId: 'wd-1', keyId: 'sol-hot', chain: 'solana', unsignedTx: bytesToHex(tx), digest: bytesToHex(tx), to: 'DestAddr', amount: '1500000',
  policyVersion: 7, withdrawal, approvals: approvalsOf(withdrawal), expiresAt: 10_000,
};
const opts = { policyPublicKey, now: 5_000, keyId: 'sol-hot', minApprovals: 2, approverKeys, deriveDigest: rawMessageDigest };

describe('signing authorization', () => {
  it('verifies and yields the message the node re-derived', () => {
    const v = verifyAuthorization(JSON.parse(JSON.stringify(signAuthorization(base, secret))), opts);
    expect(bytesToHex(v.message)).toBe(bytesToHex(tx));
  });

  it('binds every field: changing any one breaks the policy signature', () => {
    const signed = signAuthorization(base, secret);
    const changes: Partial<SigningAuthorization>[] = [
      { withdrawalId: 'wd-2' }, { keyId: 'other' }, { chain: 'ethereum' }, { to: 'Elsewhere' }, { amount: '1500001' }, { policyVersion: 8 },
      { approvals: approvalsOf(withdrawal, [alice, carol]) }, { expiresAt: 10_001 }, { withdrawal: { ...withdrawal, memo: 'x' } },
      { unsignedTx: bytesToHex(tx.slice(1)), digest: bytesToHex(tx.slice(1)) },
    ];
    for (const c of changes) {
      expect(code(() => verifyAuthorization({ ...signed, authorization: { ...base, ...c } }, { ...opts, keyId: c.keyId ?? 'sol-hot' }))).toBe('authorization_bad_signature');
    }
  });

  it('refuses another signer, expiry, another key', () => {
    expect(code(() => verifyAuthorization(signAuthorization(base, new Uint8Array(randomBytes(32))), opts))).toBe('authorization_bad_signature');
    expect(code(() => verifyAuthorization(signAuthorization(base, secret), { ...opts, now: 10_000 }))).toBe('authorization_expired');
    expect(code(() => verifyAuthorization(signAuthorization(base, secret), { ...opts, keyId: 'btc-hot' }))).toBe('authorization_wrong_key');
  });

  describe('approvals re-verified by the node (a policy-signed authorization is not enough)', () => {
    const refused = (a: Partial<SigningAuthorization>, o: Partial<typeof opts> = {}) => code(() => verifyAuthorization(signAuthorization({ ...base, ...a }, secret), { ...opts, ...o }));

    it('counts distinct pinned approvers with valid signatures: a duplicated approver counts once; too few are refused', () => {
      expect(refused({ approvals: approvalsOf(withdrawal, [alice, alice]) })).toBe('authorization_not_enough_approvals');
      expect(refused({ approvals: approvalsOf(withdrawal, [alice]) })).toBe('authorization_not_enough_approvals');
      expect(refused({ approvals: [] })).toBe('authorization_not_enough_approvals');
      expect(refused({ approvals: approvalsOf(withdrawal, [alice, bob, carol]) }, { minApprovals: 3 })).toBe('accepted');
      // minimum 0: nothing to count (a node configured for auto-approved withdrawals)
      expect(refused({ approvals: [] }, { minApprovals: 0 })).toBe('accepted');
    });

    it('does not count approvers the node does not pin', () => {
      const dave = signer('dave');
      expect(refused({ approvals: approvalsOf(withdrawal, [alice, dave]) })).toBe('authorization_not_enough_approvals');
      expect(refused({ approvals: approvalsOf(withdrawal, [alice, dave]) }, { approverKeys: [...approverKeys, pin(dave)] })).toBe('accepted');
      // nothing pinned: nothing counts
      expect(refused({}, { approverKeys: [] })).toBe('authorization_not_enough_approvals');
    });

    it('refuses forged approvals: the policy key holder signing as alice and bob with keys of its own', () => {
      const forged = approvalsOf(withdrawal, [signer('alice'), signer('bob')]);
      expect(refused({ approvals: forged })).toBe('authorization_approval_invalid');
      // one genuine approval and one forged one: still refused, not merely not counted
      expect(refused({ approvals: [...approvalsOf(withdrawal, [alice]), ...forged.slice(1)] })).toBe('authorization_approval_invalid');
      // a signature with one bit flipped
      const [a0, b0] = approvalsOf(withdrawal);
      const flipped = { ...b0!, signature: b0!.signature.slice(0, 10) + (b0!.signature[10] === '0' ? '1' : '0') + b0!.signature.slice(11) };
      expect(refused({ approvals: [a0!, flipped] })).toBe('authorization_approval_invalid');
    });

    it('refuses genuine approvals of another withdrawal, another policy version, a rejection, or moved to another expiry', () => {
      const other = { ...withdrawal, id: 'wd-2' };
      expect(refused({ approvals: approvalsOf(other) })).toBe('authorization_approval_invalid');
      // same id, but the approvers saw another destination: the authorization's withdrawal must match what they signed
      const elsewhere = { ...withdrawal, to: 'Attacker', amount: '1500000' };
      expect(refused({ approvals: approvalsOf(elsewhere) })).toBe('authorization_approval_invalid');
      expect(refused({ approvals: approvalsOf(withdrawal, [alice, bob], 6) })).toBe('authorization_approval_invalid');
      const digest = withdrawalDigest({ ...withdrawal, amount: 1_500_000n, fee: 5_000n });
      const rejection = (s: typeof alice) => ({
        approver: s.approver, at: 1_000, expiresAt: 2_000,
        signature: signApprovalStatement({ withdrawalId: 'wd-1', withdrawalDigest: digest, policyVersion: 7, decision: 'reject', approver: s.approver, expiresAt: 2_000 }, s.secretKey),
      });
      expect(refused({ approvals: [rejection(alice), rejection(bob)] })).toBe('authorization_approval_invalid');
      expect(refused({ approvals: approvalsOf(withdrawal).map((x) => ({ ...x, expiresAt: x.expiresAt + 1 })) })).toBe('authorization_approval_invalid');
      // recorded after the approver's signature had expired
      expect(refused({ approvals: approvalsOf(withdrawal).map((x) => ({ ...x, at: 2_001 })) })).toBe('authorization_approval_invalid');
    });

    it('refuses a withdrawal that names another id, destination or amount than the authorization', () => {
      for (const w of [{ ...withdrawal, id: 'wd-9' }, { ...withdrawal, to: 'Other' }, { ...withdrawal, amount: '1' }, { ...withdrawal, chain: 'bitcoin' }]) {
        expect(refused({ withdrawal: w, approvals: approvalsOf(w) })).toBe('authorization_withdrawal_mismatch');
      }
    });

    it('never counts a small-order key, even if configured around the parser: its universal forgery is refused', () => {
      // (R = identity, S = 0) verifies for every message under the identity key with OpenSSL, which the node uses
      const identity = `01${'00'.repeat(31)}`;
      const universal = `01${'00'.repeat(63)}`;
      const mallory = { approver: 'mallory', at: 1_000, expiresAt: 2_000, signature: universal };
      const [a0] = approvalsOf(withdrawal, [alice]);
      expect(refused({ approvals: [a0!, mallory] }, { approverKeys: [...approverKeys, { approver: 'mallory', publicKey: identity }] })).toBe('authorization_not_enough_approvals');
    });

    it('accepts a rotation: two pinned keys for one approver, either verifies', () => {
      const alice2 = { approver: 'alice', secretKey: new Uint8Array(randomBytes(32)) };
      expect(refused({ approvals: approvalsOf(withdrawal, [alice2, bob]) }, { approverKeys: [...approverKeys, pin(alice2)] })).toBe('accepted');
    });

    it('node configuration: one key pinned for two approvers is refused', () => {
      expect(parsePinnedApproverKeys(undefined)).toEqual([]);
      expect(parsePinnedApproverKeys(approverKeys)).toEqual(approverKeys);
      expect(code(() => parsePinnedApproverKeys([pin(alice), { approver: 'mallory', publicKey: pin(alice).publicKey }]))).toBe('node_bad_config');
      expect(code(() => parsePinnedApproverKeys([{ approver: 'alice', publicKey: 'zz' }]))).toBe('node_bad_config');
      // the identity point (small order): a signature (R = identity, S = 0) would verify for every message
      expect(code(() => parsePinnedApproverKeys([{ approver: 'alice', publicKey: `01${'00'.repeat(31)}` }]))).toBe('node_bad_config');
      expect(code(() => parsePinnedApproverKeys({ alice: pin(alice).publicKey }))).toBe('node_bad_config');
    });
  });

  it('refuses a digest, destination or amount that the transaction does not carry', () => {
    const lying = { ...base, digest: bytesToHex(new Uint8Array(randomBytes(32))) };
    expect(code(() => verifyAuthorization(signAuthorization(lying, secret), opts))).toBe('authorization_digest_mismatch');
    const parser: DeriveDigest = (_c, t) => ({ digest: t, to: 'DestAddr', amount: 1_500_000n });
    expect(code(() => verifyAuthorization(signAuthorization(base, secret), { ...opts, deriveDigest: parser }))).toBe('accepted');
    const otherTo = { ...base, to: 'Other', withdrawal: { ...withdrawal, to: 'Other' } };
    const otherToSigned = signAuthorization({ ...otherTo, approvals: approvalsOf(otherTo.withdrawal) }, secret);
    expect(code(() => verifyAuthorization(otherToSigned, { ...opts, deriveDigest: parser }))).toBe('authorization_destination_mismatch');
    const one = { ...withdrawal, amount: '1' };
    const oneSigned = signAuthorization({ ...base, amount: '1', withdrawal: one, approvals: approvalsOf(one) }, secret);
    expect(code(() => verifyAuthorization(oneSigned, { ...opts, deriveDigest: parser }))).toBe('authorization_amount_mismatch');
    const throwing: DeriveDigest = () => {
      throw new Error('bad tx');
    };
    expect(code(() => verifyAuthorization(signAuthorization(base, secret), { ...opts, deriveDigest: throwing }))).toBe('authorization_bad_transaction');
  });

  it('refuses malformed input: wrong types, huge transactions, non-canonical amounts, unsigned approvals', () => {
    const signed = signAuthorization(base, secret);
    for (const bad of [null, {}, { ...signed, signature: 'zz' }, { ...signed, authorization: { ...base, amount: '01' } },
      { ...signed, authorization: { ...base, amount: '-1' } }, { ...signed, authorization: { ...base, expiresAt: '1' } },
      { ...signed, authorization: { ...base, unsignedTx: 'ab'.repeat(200_000) } }, { ...signed, authorization: { ...base, approvals: 'alice' } },
      { ...signed, authorization: { ...base, withdrawalId: 'a b' } }, { ...signed, authorization: { ...base, approvals: [{ approver: 'alice', at: 1 }] } },
      { ...signed, authorization: { ...base, withdrawal: undefined } }, { ...signed, authorization: { ...base, withdrawal: { ...withdrawal, amount: 5 } } },
      { ...signed, authorization: { ...base, withdrawal: { ...withdrawal, fee: undefined } } }]) {
      expect(code(() => parseSignedAuthorization(bad))).toBe('authorization_malformed');
    }
    expect(new TextDecoder().decode(authorizationBytes(base))).toMatch(/^custos\/signing-authorization\/v1\n\{"withdrawalId":"wd-1","keyId"/);
  });
});

describe('value tiers and HSM approval tokens (node-side rules the policy service cannot lift)', () => {
  const hsmSecret = new Uint8Array(randomBytes(32));
  const hsmKey = { algorithm: 'ed25519' as const, publicKey: ed25519.getPublicKey(hsmSecret) };
  const digest = withdrawalDigest({ ...withdrawal, amount: BigInt(withdrawal.amount), fee: BigInt(withdrawal.fee as string) });
  const token = (over: Partial<ApprovalPayload> = {}, secretKey = hsmSecret) => {
    const payload: ApprovalPayload = {
      withdrawalId: 'wd-1', withdrawalDigest: digest, asset: 'SOL', amount: 1_500_000n, destination: 'DestAddr', policyVersion: 7,
      approvers: ['alice', 'bob'], issuedAt: 1_000, expiresAt: 9_000, ...over,
    };
    const signature = ed25519.sign(approvalSigningBytes(payload), secretKey);
    return encodeApprovalToken({ v: 1, algorithm: 'ed25519', keyId: approvalKeyId(ed25519.getPublicKey(secretKey)), payload, signature });
  };
  const tiered = { ...opts, minApprovals: 0, valueTiers: [{ asset: 'SOL', atLeast: 1_000_000n, minApprovals: 2, hsmApproval: true }], hsmApprovalKeys: [hsmKey] };
  const signed = (a: Partial<SigningAuthorization>) => signAuthorization({ ...base, ...a }, secret);

  it('above the tier: refused without a token, with a token for another withdrawal, amount or key, or an expired one; accepted with its own', () => {
    expect(code(() => verifyAuthorization(signed({}), tiered))).toBe('authorization_hsm_approval_required');
    expect(code(() => verifyAuthorization(signed({ hsmToken: token({ withdrawalId: 'wd-2' }) }), tiered))).toBe('authorization_hsm_approval_invalid');
    expect(code(() => verifyAuthorization(signed({ hsmToken: token({ amount: 1_500_001n }) }), tiered))).toBe('authorization_hsm_approval_invalid');
    expect(code(() => verifyAuthorization(signed({ hsmToken: token({ withdrawalDigest: '00'.repeat(32) }) }), tiered))).toBe('authorization_hsm_approval_invalid');
    expect(code(() => verifyAuthorization(signed({ hsmToken: token({}, new Uint8Array(randomBytes(32))) }), tiered))).toBe('authorization_hsm_approval_invalid');
    expect(code(() => verifyAuthorization(signed({ hsmToken: token({ expiresAt: 4_000 }) }), tiered))).toBe('authorization_hsm_approval_invalid');
    expect(code(() => verifyAuthorization(signed({ hsmToken: token() }), { ...tiered, hsmApprovalKeys: [] }))).toBe('authorization_hsm_not_configured');
    expect(code(() => verifyAuthorization(signed({ hsmToken: token() }), tiered))).toBe('accepted');
  });

  it('the token is covered by the policy signature: swapping it in afterwards breaks the authorization', () => {
    const s = signed({});
    expect(code(() => verifyAuthorization({ ...s, authorization: { ...s.authorization, hsmToken: token() } }, tiered))).toBe('authorization_bad_signature');
  });

  it('above the tier the node raises the approvals it requires; below it, its own minimum applies (here none)', () => {
    const oneApproval = approvalsOf(withdrawal, [alice]);
    expect(code(() => verifyAuthorization(signed({ approvals: oneApproval, hsmToken: token() }), tiered))).toBe('authorization_not_enough_approvals');
    const small: AuthorizedWithdrawal = { ...withdrawal, amount: '999999' };
    expect(code(() => verifyAuthorization(signed({ withdrawal: small, amount: '999999', approvals: [] }), tiered))).toBe('accepted');
    // another asset's tier does not apply
    expect(code(() => verifyAuthorization(signed({ approvals: [] }), { ...tiered, valueTiers: [{ asset: 'ETH', atLeast: 1n, minApprovals: 2, hsmApproval: true }] }))).toBe('accepted');
  });

  it('a small-order policy key is never trusted (OpenSSL would verify a forged R = identity, S = 0 signature)', () => {
    const identity = '01' + '00'.repeat(31);
    const forged = { authorization: base, signature: '01' + '00'.repeat(63) };
    expect(code(() => verifyAuthorization(forged, { ...opts, policyPublicKey: identity }))).toBe('authorization_bad_signature');
  });
});

describe('node value rules from the configuration file', () => {
  const key = bytesToHex(ed25519.getPublicKey(new Uint8Array(randomBytes(32))));
  it('parses tiers and keys; refuses malformed ones, a small-order key, and a tier needing HSM approvals without a key', () => {
    const r = parseNodeValueRules({ valueTiers: [{ asset: 'SOL', atLeast: '100', minApprovals: 2, hsmApproval: true }], hsmApprovalKeys: [{ algorithm: 'ed25519', publicKey: key }] });
    expect(r.valueTiers).toEqual([{ asset: 'SOL', atLeast: 100n, minApprovals: 2, hsmApproval: true }]);
    expect(r.hsmApprovalKeys[0]!.publicKey.length).toBe(32);
    expect(parseNodeValueRules({})).toEqual({ valueTiers: [], hsmApprovalKeys: [] });
    const bad = (o: unknown) => code(() => parseNodeValueRules(o as Parameters<typeof parseNodeValueRules>[0]));
    expect(bad({ valueTiers: [{ asset: 'SOL', atLeast: '-1' }] })).toBe('node_bad_config');
    expect(bad({ valueTiers: [{ asset: 'SOL', atLeast: '1.5' }] })).toBe('node_bad_config');
    expect(bad({ valueTiers: [{ asset: 'sol', atLeast: '1' }] })).toBe('node_bad_config');
    expect(bad({ valueTiers: [{ asset: 'SOL', atLeast: '1', minApprovals: -1 }] })).toBe('node_bad_config');
    expect(bad({ valueTiers: [{ asset: 'SOL', atLeast: '1', hsmApproval: true }] })).toBe('node_bad_config');
    expect(bad({ hsmApprovalKeys: [{ algorithm: 'ed25519', publicKey: '01' + '00'.repeat(31) }] })).toBe('node_bad_config');
    expect(bad({ hsmApprovalKeys: [{ algorithm: 'rsa', publicKey: key }] })).toBe('node_bad_config');
  });
});

describe('chain id pinned by the node (Ethereum replay protection)', () => {
  const to = '0x6B175474E89094C44Da98b954EedeAC495271d0F';
  const authFor = (chainId: number): ReturnType<typeof signAuthorization> => {
    const unsigned = buildEthereum({ to, amount: 10n ** 15n }, { chainId, nonce: 3n, maxFeePerGas: 30n * 10n ** 9n, maxPriorityFeePerGas: 10n ** 9n });
    const w: AuthorizedWithdrawal = { ...withdrawal, chain: 'ethereum', asset: 'ETH', to, amount: (10n ** 15n).toString() };
    const digest = bytesToHex(chainDigest('ethereum', unsigned.bytes).digest);
    return signAuthorization({
      ...base, keyId: 'eth-hot', chain: 'ethereum', to, amount: w.amount, unsignedTx: bytesToHex(unsigned.bytes), digest, withdrawal: w, approvals: approvalsOf(w),
    }, secret);
  };
  const ethOpts = { ...opts, keyId: 'eth-hot', deriveDigest: chainDigest };

  it('signs a transaction for the pinned chain id and refuses one for another network, even when policy-signed', () => {
    expect(verifyAuthorization(authFor(1), { ...ethOpts, chainIds: { ethereum: 1 } }).message).toHaveLength(32);
    expect(code(() => verifyAuthorization(authFor(5), { ...ethOpts, chainIds: { ethereum: 1 } }))).toBe('authorization_chain_id_mismatch');
    expect(code(() => verifyAuthorization(authFor(31337), { ...ethOpts, chainIds: { ethereum: 1 } }))).toBe('authorization_chain_id_mismatch');
  });

  it('a pin for Ethereum does not affect other chains, and without a pin any chain id is signed', () => {
    expect(verifyAuthorization(authFor(5), ethOpts).message).toHaveLength(32);
    expect(bytesToHex(verifyAuthorization(signAuthorization(base, secret), { ...opts, chainIds: { ethereum: 1 } }).message)).toBe(bytesToHex(tx));
  });
});
