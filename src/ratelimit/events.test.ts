import { describe, expect, it } from 'vitest';
import { RateLimitEvents, type RateLimitEvent } from './events.js';

const ev: RateLimitEvent = { type: 'store_recovered', at: 1 };

describe('RateLimitEvents', () => {
  it('delivers to every listener, isolates a throwing one, and unsubscribes', () => {
    const errors: unknown[] = [];
    const hub = new RateLimitEvents((err) => errors.push(err));
    const seen: string[] = [];
    hub.on(() => {
      throw new Error('receiver down');
    });
    const off = hub.on((e) => seen.push(e.type));
    hub.emit(ev);
    expect(seen).toEqual(['store_recovered']);
    expect(errors).toHaveLength(1);
    off();
    hub.emit(ev);
    expect(seen).toHaveLength(1);
  });

  it('survives an error reporter that throws too', () => {
    const hub = new RateLimitEvents(() => {
      throw new Error('logger down');
    });
    hub.on(() => {
      throw new Error('x');
    });
    expect(() => hub.emit(ev)).not.toThrow();
  });
});
