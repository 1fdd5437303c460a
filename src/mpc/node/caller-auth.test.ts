import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { edPublicKeyHex } from '../transport/ed25519.js';
import { signCoordinatorRequest, verifyCoordinatorRequest } from './caller-auth.js';
import { thrownCode as code } from '../../core/test-helpers/thrown-code.js';

const secret = new Uint8Array(randomBytes(32));
const keys = [edPublicKeyHex(secret)];
const body = new TextEncoder().encode('{"kind":"dkg"}');
const now = 1_700_000_000_000;

describe('coordinator request signatures', () => {
  const h = signCoordinatorRequest(secret, 'POST', '/v1/sessions', body, now);
  const check = (header: string | undefined, over: Partial<{ method: string; path: string; body: Uint8Array; now: number; keys: string[] }> = {}) =>
    code(() => verifyCoordinatorRequest(header, { keys, method: 'POST', path: '/v1/sessions', body, now, ...over }));

  it('accepts a fresh signed request and refuses any change of method, path, body or key', () => {
    expect(check(h)).toBe('accepted');
    expect(check(h, { now: now + 29_000 })).toBe('accepted');
    expect(check(h, { path: '/v1/keys/k/commit' })).toBe('node_unauthenticated');
    expect(check(h, { method: 'GET' })).toBe('node_unauthenticated');
    expect(check(h, { body: new TextEncoder().encode('{"kind":"refresh"}') })).toBe('node_unauthenticated');
    expect(check(h, { keys: [edPublicKeyHex(new Uint8Array(randomBytes(32)))] })).toBe('node_unauthenticated');
  });

  it('refuses missing, malformed, stale and future signatures', () => {
    expect(check(undefined)).toBe('node_unauthenticated');
    expect(check('garbage')).toBe('node_unauthenticated');
    expect(check(h, { now: now + 31_000 })).toBe('node_unauthenticated');
    expect(check(h, { now: now - 31_000 })).toBe('node_unauthenticated');
    const [k, t, s] = h.split('.') as [string, string, string];
    expect(check(`${k}.${Number(t) + 1}.${s}`)).toBe('node_unauthenticated');
  });
});
