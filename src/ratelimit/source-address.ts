/**
 * Rate-limit key of a client's source address before authentication. IPv4 addresses (also
 * IPv4-mapped IPv6) are limited per address; IPv6 addresses per /64, because one host usually
 * owns a whole /64 and could otherwise rotate through 2^64 addresses to escape the limit.
 *
 * @example
 *   sourceAddressKey('2001:db8::1'); // 'addr:2001:db8:0:0::/64'
 *   sourceAddressKey('::ffff:192.0.2.7'); // 'addr:192.0.2.7'
 */
import { isIPv4, isIPv6 } from 'node:net';
import { CustosError } from '../core/errors.js';

export function sourceAddressKey(address: string): string {
  let a = address.trim();
  const zone = a.indexOf('%');
  if (zone >= 0) a = a.slice(0, zone);
  if (isIPv4(a)) return `addr:${a}`;
  if (!isIPv6(a)) throw new CustosError('ratelimit_bad_address', 'not an IP address', 400);
  const groups = expandIPv6(a.toLowerCase());
  // ::ffff:a.b.c.d (IPv4-mapped)
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    const hi = groups[6]!;
    const lo = groups[7]!;
    return `addr:${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  return `addr:${groups.slice(0, 4).map((g) => g.toString(16)).join(':')}::/64`;
}

function expandIPv6(a: string): number[] {
  let tail: number[] = [];
  const v4 = a.match(/(\d+\.\d+\.\d+\.\d+)$/);
  if (v4) {
    const p = v4[1]!.split('.').map(Number);
    tail = [(p[0]! << 8) | p[1]!, (p[2]! << 8) | p[3]!];
    a = a.slice(0, a.length - v4[1]!.length);
    if (a.endsWith(':') && !a.endsWith('::')) a = a.slice(0, -1);
  }
  const parse = (s: string) => (s === '' ? [] : s.split(':').map((h) => parseInt(h, 16)));
  const [head, rest] = a.includes('::') ? a.split('::') : [a, undefined];
  const left = parse(head!);
  const right = rest === undefined ? [] : parse(rest);
  const missing = 8 - tail.length - left.length - right.length;
  return [...left, ...(rest === undefined ? [] : new Array<number>(Math.max(0, missing)).fill(0)), ...right, ...tail];
}
