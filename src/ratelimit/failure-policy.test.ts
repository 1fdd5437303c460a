import { describe, expect, it } from 'vitest';
import { FailurePolicy } from './failure-policy.js';

describe('FailurePolicy', () => {
  it('uses the configured mode per route class and fails closed for unknown ones', () => {
    const fp = new FailurePolicy({ withdraw: 'closed', read: 'open' });
    expect([fp.mode('withdraw'), fp.mode('read'), fp.mode('admin'), fp.mode('__proto__'), fp.mode('toString')]).toEqual(['closed', 'open', 'closed', 'closed', 'closed']);
  });

  it('alerts on the first failure, then at most once per interval per route class, and once on recovery', () => {
    const fp = new FailurePolicy({ read: 'open' }, 1000);
    expect(fp.onSuccess()).toBe(false);
    expect(fp.onFailure('read', 0)).toEqual({ mode: 'open', alert: true });
    expect(fp.onFailure('read', 999).alert).toBe(false);
    expect(fp.onFailure('withdraw', 999)).toEqual({ mode: 'closed', alert: true });
    expect(fp.onFailure('read', 1000).alert).toBe(true);
    expect(fp.onFailure('read', 500).alert).toBe(true); // clock went back: alert rather than stay silent
    expect(fp.failing).toBe(true);
    expect(fp.onSuccess()).toBe(true);
    expect(fp.onSuccess()).toBe(false);
    expect(fp.onFailure('read', 600).alert).toBe(true); // a new outage alerts again at once
  });
});
