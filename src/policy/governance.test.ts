import { describe, expect, it } from 'vitest';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { parsePolicy } from './document.js';
import { applyPolicyChange, proposePolicyChange, signPolicyChange, verifyPolicyApproval, type PolicyApproval } from './governance.js';
import { adminKey, ADMINS, NOW, policyJSON } from './test-helpers/fixture.js';

const [A1, A2, A3, A4] = ADMINS as [typeof ADMINS[0], typeof ADMINS[0], typeof ADMINS[0], typeof ADMINS[0]];
const v1 = policyJSON();
const v2 = { ...policyJSON(), version: 2, whitelist: { coolingHours: 48, mode: 'whitelisted_only' } };
const v3 = { ...policyJSON(), version: 3 };

const code = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return 'accepted';
};

describe('policy change quorum', () => {
  const proposal = proposePolicyChange(v1, v2, A1.id, NOW);
  const sign = (k: typeof A1, p = proposal): PolicyApproval => signPolicyChange(p, k.id, k.secretKey);

  it('applies with 2 distinct admins other than the proposer', () => {
    const next = applyPolicyChange(v1, v2, proposal, [sign(A2), sign(A3)]);
    expect(next.version).toBe(2);
    expect(next.whitelist.mode).toBe('whitelisted_only');
  });

  it('one approval is not a quorum; the same admin twice is refused', () => {
    expect(code(() => applyPolicyChange(v1, v2, proposal, [sign(A2)]))).toBe('quorum_not_reached');
    expect(code(() => applyPolicyChange(v1, v2, proposal, [sign(A2), sign(A2)]))).toBe('approval_duplicate');
    expect(code(() => applyPolicyChange(v1, v2, proposal, []))).toBe('quorum_not_reached');
  });

  it('the proposer cannot approve its own change', () => {
    expect(code(() => applyPolicyChange(v1, v2, proposal, [sign(A1), sign(A2)]))).toBe('approver_is_proposer');
  });

  it('an unknown key, or a known id with a stranger key, is refused', () => {
    const stranger = adminKey(9);
    expect(code(() => applyPolicyChange(v1, v2, proposal, [sign(A2), sign(stranger)]))).toBe('approver_unknown');
    const forged = signPolicyChange(proposal, A3.id, stranger.secretKey);
    expect(code(() => applyPolicyChange(v1, v2, proposal, [sign(A2), forged]))).toBe('approval_signature_invalid');
  });

  it('tampered signatures and malformed ones are refused', () => {
    const good = sign(A3);
    const flipped = { ...good, signature: (good.signature[0] === '0' ? '1' : '0') + good.signature.slice(1) };
    expect(code(() => verifyPolicyApproval(proposal, flipped, parsePolicy(v1)))).toBe('approval_signature_invalid');
    expect(code(() => verifyPolicyApproval(proposal, { ...good, signature: 'zz' }, parsePolicy(v1)))).toBe('approval_signature_invalid');
    expect(code(() => verifyPolicyApproval(proposal, { ...good, signature: good.signature.toUpperCase() }, parsePolicy(v1)))).toBe('approval_signature_invalid');
    // non-canonical S (S + L) must not verify under strict RFC 8032 rules
    const L = 2n ** 252n + 27742317777372353535851937790883648493n;
    const sig = Uint8Array.from(Buffer.from(good.signature, 'hex'));
    let s = 0n;
    for (let i = 31; i >= 0; i--) s = (s << 8n) | BigInt(sig[32 + i]!);
    const s2 = s + L;
    const mall = new Uint8Array(sig);
    for (let i = 0; i < 32; i++) mall[32 + i] = Number((s2 >> BigInt(8 * i)) & 0xffn);
    expect(code(() => verifyPolicyApproval(proposal, { ...good, signature: bytesToHex(mall) }, parsePolicy(v1)))).toBe('approval_signature_invalid');
  });

  it('an approval of one proposal cannot be replayed onto another version or document', () => {
    const approvals = [sign(A2), sign(A3)];
    // after v2 is applied, a proposal for v3 cannot reuse the v2 approvals
    const p3 = proposePolicyChange(v2, v3, A1.id, NOW + 1000);
    expect(code(() => applyPolicyChange(v2, v3, p3, approvals))).toBe('approval_signature_invalid');
    // the v2 proposal itself cannot be applied again on top of v2
    expect(code(() => applyPolicyChange(v2, v2, proposal, approvals))).toBe('policy_change_stale');
    // the same proposal with another document swapped in
    const evil = { ...v2, approvals: { approvers: ['alice', 'bob', 'carol'], tiers: [{ fromReference: '0', quorum: 0 }] } };
    expect(code(() => applyPolicyChange(v1, evil, proposal, approvals))).toBe('policy_change_mismatch');
    // a proposal edited to describe the evil document invalidates the signatures
    const edited = { ...proposal, documentHash: proposePolicyChange(v1, evil, A1.id, NOW).documentHash };
    expect(code(() => applyPolicyChange(v1, evil, edited, approvals))).toBe('approval_signature_invalid');
  });

  it('governance of the current policy decides: a new document cannot approve itself with new admins', () => {
    const newAdmin = adminKey(7);
    const sneaky = structuredClone(v2) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    sneaky.governance = { quorum: 1, admins: { [A1.id]: bytesToHex(A1.publicKey), [newAdmin.id]: bytesToHex(newAdmin.publicKey) } };
    const p = proposePolicyChange(v1, sneaky, A1.id, NOW);
    expect(code(() => applyPolicyChange(v1, sneaky, p, [signPolicyChange(p, newAdmin.id, newAdmin.secretKey)]))).toBe('approver_unknown');
    expect(applyPolicyChange(v1, sneaky, p, [signPolicyChange(p, A3.id, A3.secretKey), signPolicyChange(p, A4.id, A4.secretKey)]).governance.quorum).toBe(1);
  });

  it('proposals must follow the version and come from an admin', () => {
    expect(code(() => proposePolicyChange(v1, v3, A1.id, NOW))).toBe('policy_version_invalid');
    expect(code(() => proposePolicyChange(v1, v2, 'mallory', NOW))).toBe('proposer_unknown');
    expect(code(() => proposePolicyChange(v1, { ...v2, bogus: 1 }, A1.id, NOW))).toBe('policy_invalid');
    expect(ed25519.getPublicKey(A1.secretKey)).toEqual(A1.publicKey);
  });

  it('a malformed secret key never appears in the error', () => {
    const secret = new Uint8Array(31).fill(0xab);
    let message = '';
    try {
      signPolicyChange(proposal, A2.id, secret);
    } catch (e) {
      message = `${(e as Error).message} ${JSON.stringify(e)} ${String((e as Error).stack)}`;
    }
    expect(message).not.toBe('');
    expect(message.toLowerCase()).not.toContain('abababab');
    expect(message).not.toContain('171,171,171');
  });
});
