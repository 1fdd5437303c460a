/**
 * Serialised states and secrecy across all three protocols: garbage states are refused with a
 * typed error, and no broadcast, no abort message and no public package carries a final share.
 */
import { describe, expect, it } from 'vitest';
import { bytesToHex } from '@noble/hashes/utils.js';
import type { Message, RoundState } from '../round.js';
import { restoreDkg } from './dkg.js';
import { restoreRefresh } from './refresh.js';
import { publicPackage, restoreSign } from './sign.js';
import { abortOf, freshSession, parties5, runDkg, runRefresh } from './test-helpers/harness.js';

describe('restoring serialised states', () => {
  const garbage: unknown[] = [null, 5, 'x', {}, { common: null }, { common: { parties: 'a' } }, { key: {} }, { common: { session: 'zz', signers: [], message: '' } }];
  it.each([
    ['frost-dkg', restoreDkg],
    ['frost-sign', restoreSign],
    ['frost-refresh', restoreRefresh],
  ] as const)('%s refuses malformed data with a ProtocolMisuse', (protocol, restore) => {
    for (const data of garbage) {
      for (const round of [1, 2, 3]) {
        const err = abortOf(() => restore({ protocol, round, session: freshSession(), data } as RoundState));
        expect(err.code, JSON.stringify(data)).toMatch(/^frost_(bad_state|bad_key_share|bad_session|bad_parties|unknown_suite|bad_threshold)$/);
      }
    }
  });
});

describe('secrecy of shares in DKG and refresh traffic', () => {
  it('final shares never travel; broadcasts never carry a share; aborts name parties only', () => {
    const wire: Message[] = [];
    const keys = runDkg('bip340', parties5, 3, { json: false, tamper: (m) => (wire.push(m), m) });
    const fresh = runRefresh(keys, { tamper: (m) => (wire.push(m), m) });
    const finals = [...keys.values(), ...fresh.values()].map((k) => k.signingShare);
    const all = wire.map((m) => bytesToHex(m.payload)).join('|');
    for (const s of finals) expect(all.includes(s)).toBe(false);
    for (const k of fresh.values()) expect(JSON.stringify(publicPackage(k)).includes(k.signingShare)).toBe(false);
    const err = abortOf(() => runRefresh(fresh, { cheat: { party: 'node-b', constant: 3n } }));
    for (const s of finals) expect(err.message.includes(s)).toBe(false);
    expect(err.culprits).toEqual(['node-b']);
  });
});
