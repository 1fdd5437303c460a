/**
 * Checks the parameters every FROST protocol starts from: a session id (hex, 16 to 64 bytes, fresh
 * per run and agreed by all parties), the party list and the threshold.
 *
 * @example
 *   const parties = checkParties(['b', 'a', 'c'], 'a', 2);   // ['a', 'b', 'c']
 *   checkSession('5f1c…');
 */
import { ProtocolMisuse, type PartyId } from '../round.js';
import type { FrostSuite, IdentifierScheme } from './suite.js';

/** Throws unless `session` is lowercase hex of 16 to 64 bytes. */
export function checkSession(session: string): void {
  if (typeof session !== 'string' || !/^(?:[0-9a-f]{2}){16,64}$/.test(session)) {
    throw new ProtocolMisuse('frost_bad_session', 'session id must be 16 to 64 bytes of lowercase hex');
  }
}

/** Returns the sorted party list after checking uniqueness, membership of `self` and 2 ≤ t ≤ n. */
export function checkParties(
  parties: readonly PartyId[], self: PartyId, threshold: number, suite?: FrostSuite, scheme: IdentifierScheme = 'derived',
): PartyId[] {
  if (!Array.isArray(parties) || parties.some((p) => typeof p !== 'string' || p.length === 0 || p.length > 256)) {
    throw new ProtocolMisuse('frost_bad_parties', 'parties must be non-empty strings of at most 256 characters');
  }
  const sorted = [...parties].sort();
  if (new Set(sorted).size !== sorted.length) throw new ProtocolMisuse('frost_bad_parties', 'party ids must be unique');
  if (!sorted.includes(self)) throw new ProtocolMisuse('frost_bad_parties', 'this party is not among the parties');
  if (!Number.isSafeInteger(threshold) || threshold < 2 || threshold > sorted.length) {
    throw new ProtocolMisuse('frost_bad_threshold', 'threshold must satisfy 1 < t <= n');
  }
  if (suite) {
    const map = suite.identifiers(scheme, sorted);
    const ids = new Set(sorted.map((p) => map.hex(p)));
    if (ids.size !== sorted.length) throw new ProtocolMisuse('frost_bad_parties', 'two parties map to the same identifier');
  }
  return sorted;
}
