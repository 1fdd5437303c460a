import { describe, expect, it } from 'vitest';
import { collectInbox, ProtocolAbort, type Message } from './round.js';

const want = { session: 'aa', round: 2, self: 'a', from: ['a', 'b', 'c'], broadcast: true } as const;
const msg = (over: Partial<Message> = {}): Message => ({
  session: 'aa', from: 'b', to: null, round: 2, payload: new Uint8Array([1]), ...over,
});

function culpritsOf(f: () => unknown): { code: string; culprits: readonly string[] } {
  try {
    f();
  } catch (e) {
    if (e instanceof ProtocolAbort) return { code: e.code, culprits: e.culprits };
    throw e;
  }
  throw new Error('did not abort');
}

describe('collectInbox', () => {
  it('indexes a complete inbox by sender', () => {
    const got = collectInbox([msg(), msg({ from: 'c', payload: new Uint8Array([2]) })], want);
    expect([...got.keys()].sort()).toEqual(['b', 'c']);
    expect(got.get('c')).toEqual(new Uint8Array([2]));
  });
  it('names the sender of a message from another session', () => {
    expect(culpritsOf(() => collectInbox([msg({ session: 'bb' }), msg({ from: 'c' })], want))).toEqual({
      code: 'protocol_wrong_session', culprits: ['b'],
    });
  });
  it('names the sender of a message for another round', () => {
    expect(culpritsOf(() => collectInbox([msg({ round: 1 })], want)).code).toBe('protocol_wrong_round');
  });
  it('rejects duplicates, strangers, wrong recipients and names missing parties', () => {
    expect(culpritsOf(() => collectInbox([msg(), msg()], want)).code).toBe('protocol_duplicate_message');
    expect(culpritsOf(() => collectInbox([msg({ from: 'z' })], want)).culprits).toEqual(['z']);
    expect(culpritsOf(() => collectInbox([msg({ to: 'a' }), msg({ from: 'c' })], want)).code).toBe('protocol_wrong_recipient');
    expect(culpritsOf(() => collectInbox([msg({ from: 'a' })], want)).culprits).toEqual(['a']);
    expect(culpritsOf(() => collectInbox([msg()], want))).toEqual({ code: 'protocol_missing_message', culprits: ['c'] });
  });
  it('checks peer-to-peer messages are addressed to self', () => {
    const p2p = { ...want, broadcast: false };
    expect(collectInbox([msg({ to: 'a' }), msg({ from: 'c', to: 'a' })], p2p).size).toBe(2);
    expect(culpritsOf(() => collectInbox([msg({ to: 'c' }), msg({ from: 'c', to: 'a' })], p2p)).culprits).toEqual(['b']);
  });
});
