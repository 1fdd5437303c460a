export * from './errors.js';
export * from './money.js';
export * from './chain.js';
export * from './clock.js';
export * from './decision.js';
export * from './withdrawal.js';
