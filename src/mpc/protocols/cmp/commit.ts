/**
 * Hash commitments for commit-then-reveal and the echo-broadcast digest: SHA-256 based, domain
 * separated, binding session and party; values are absorbed as labelled strings in a fixed order.
 *
 * @example
 *   const V = hashCommit('keygen', session, 'alice', [['F', fHex], ['u', uHex]]);
 */
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import { ProtocolAbort } from '../round.js';
import { Transcript } from './transcript.js';

export function hashCommit(kind: string, session: string, party: string, fields: ReadonlyArray<readonly [string, string]>): string {
  const t = new Transcript(`custos/cggmp21/v1/${kind}/commit`, session, party);
  for (const [label, value] of fields) t.bytes(label, utf8ToBytes(value));
  return bytesToHex(t.squeeze(32));
}

/** Digest of what a party received in a broadcast round (party → value), for the echo check. */
export function echoDigest(kind: string, session: string, values: ReadonlyMap<string, string>): string {
  const t = new Transcript(`custos/cggmp21/v1/${kind}/echo`, session, '');
  for (const id of [...values.keys()].sort()) t.bytes(id, utf8ToBytes(values.get(id) as string));
  return bytesToHex(t.squeeze(32));
}

/**
 * Echo broadcast outcome: parties whose echo differs from ours saw other round-1 broadcasts, so
 * some broadcaster equivocated. Which one is not attributable from here (the differing echo may come
 * from an honest party), so the abort names nobody; each party's own checks of the values it received
 * run first and do name a sender whose values fail them.
 */
export function assertEchoes(mismatch: readonly string[]): void {
  if (mismatch.length > 0) {
    throw new ProtocolAbort('cmp_echo_mismatch', `${mismatch.join(', ')} received different broadcasts than this party: a broadcaster equivocated`);
  }
}
