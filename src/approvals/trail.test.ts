import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { describe, expect, it } from 'vitest';
import { encodeEntry } from '../audit/chain.js';
import { signApprovalStatement, type ApprovalStatement } from './statement.js';
import { verifyApprovalTrail } from './trail.js';

const T = Date.UTC(2030, 0, 1);
const alice = ed25519.utils.randomSecretKey();
const alicePk = bytesToHex(ed25519.getPublicKey(alice));
const digest = 'ab'.repeat(32);

const added = (who: string, pk: string, at = T) => encodeEntry({ at, actor: 'operator', action: 'approver.added', subject: `approver:${who}`, data: { publicKey: pk, label: '' } });
const revoked = (who: string, pk: string, at = T) => encodeEntry({ at, actor: 'operator', action: 'approver.revoked', subject: `approver:${who}`, data: { publicKey: pk } });
/** An approval entry as decide.ts writes it. */
function approval(o: { who?: string; sk?: Uint8Array; pk?: string; id?: string; decision?: 'approve' | 'reject'; at?: number; expiresAt?: number; tamper?: Record<string, unknown> } = {}): string {
  const who = o.who ?? 'alice';
  const s: ApprovalStatement = { withdrawalId: o.id ?? 'wd_1', withdrawalDigest: digest, policyVersion: 3, decision: o.decision ?? 'approve', approver: who, expiresAt: o.expiresAt ?? T + 600_000 };
  const data = {
    approver: who, decision: s.decision, comment: '', policyVersion: 3, withdrawalDigest: digest,
    signature: signApprovalStatement(s, o.sk ?? alice), signatureExpiresAt: s.expiresAt, publicKey: o.pk ?? alicePk, ...o.tamper,
  };
  return encodeEntry({ at: o.at ?? T + 1_000, actor: 'credential:cred_x', action: s.decision === 'approve' ? 'withdrawal.approval' : 'withdrawal.rejection', subject: `withdrawal:${s.withdrawalId}`, data });
}
const codes = (bodies: string[]) => verifyApprovalTrail(bodies).problems.map((p) => `${p.index}:${p.code}`);

describe('verifyApprovalTrail', () => {
  it('accepts approvals and rejections signed by the key registered at that point', () => {
    const r = verifyApprovalTrail([added('alice', alicePk), approval(), approval({ id: 'wd_2', decision: 'reject' })]);
    expect(r).toMatchObject({ entries: 3, approvals: 1, rejections: 1, keysAdded: 1, problems: [] });
  });

  it('names every unsound approval: unknown or not-yet-registered key, revoked key, moved to another withdrawal, altered, late, unsigned', () => {
    expect(codes([approval(), added('alice', alicePk)])).toEqual(['0:trail_key_unknown']); // used before it was registered
    const bob = ed25519.utils.randomSecretKey();
    const bobPk = bytesToHex(ed25519.getPublicKey(bob));
    expect(codes([added('alice', alicePk), added('bob', bobPk), approval({ pk: bobPk })])).toEqual(['2:trail_key_unknown']); // bob's key for alice
    expect(codes([added('alice', alicePk), revoked('alice', alicePk), approval()])).toEqual(['2:trail_key_revoked']);
    // an approval entry rewritten to another withdrawal, digest, policy version or decision
    const moved = JSON.parse(approval()) as { subject: string; data: Record<string, unknown> };
    moved.subject = 'withdrawal:wd_9';
    expect(codes([added('alice', alicePk), JSON.stringify(moved)])).toEqual(['1:trail_signature_invalid']);
    for (const tamper of [{ withdrawalDigest: 'cd'.repeat(32) }, { policyVersion: 4 }, { decision: 'reject' }, { signatureExpiresAt: T + 600_001 }]) {
      expect(codes([added('alice', alicePk), approval({ tamper })])).toEqual(['1:trail_signature_invalid']);
    }
    // a signature by another key than the one the entry names
    expect(codes([added('alice', alicePk), approval({ sk: ed25519.utils.randomSecretKey() })])).toEqual(['1:trail_signature_invalid']);
    expect(codes([added('alice', alicePk), approval({ at: T + 700_000 })])).toEqual(['1:trail_recorded_after_expiry']);
    expect(codes([added('alice', alicePk), approval({ tamper: { signature: undefined } })])).toEqual(['1:trail_unsigned']);
    expect(codes([added('alice', alicePk), 'not json'])).toEqual(['1:trail_entry_malformed']);
  });

  it('follows a rotation: the old key before its revocation, the new one after', () => {
    const next = ed25519.utils.randomSecretKey();
    const nextPk = bytesToHex(ed25519.getPublicKey(next));
    const bodies = [added('alice', alicePk), approval(), revoked('alice', alicePk), added('alice', nextPk), approval({ id: 'wd_2', sk: next, pk: nextPk }), approval({ id: 'wd_3' })];
    expect(codes(bodies)).toEqual(['5:trail_key_revoked']);
  });
});
