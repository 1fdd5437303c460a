/** Time is injected: production code takes a Clock, tests pass a fixed or manual one. */
export interface Clock {
  now(): number; // milliseconds since the Unix epoch
}

export const systemClock: Clock = { now: () => Date.now() };

/** A clock tests move by hand. @example const c = manualClock(0); c.advance(100); */
export function manualClock(start = 0): Clock & { advance(ms: number): void; set(ms: number): void } {
  let t = start;
  return {
    now: () => t,
    advance(ms: number) {
      t += ms;
    },
    set(ms: number) {
      t = ms;
    },
  };
}
