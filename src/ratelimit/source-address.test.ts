import { describe, expect, it } from 'vitest';
import { sourceAddressKey } from './source-address.js';

describe('source address keys', () => {
  it('keys IPv4 per address and IPv4-mapped IPv6 as the IPv4 address', () => {
    expect(sourceAddressKey('192.0.2.7')).toBe('addr:192.0.2.7');
    expect(sourceAddressKey('::ffff:192.0.2.7')).toBe('addr:192.0.2.7');
    expect(sourceAddressKey('::FFFF:c000:0207')).toBe('addr:192.0.2.7');
  });

  it('keys IPv6 per /64 so rotating the interface id does not escape the limit', () => {
    const a = sourceAddressKey('2001:db8:1:2::1');
    expect(a).toBe('addr:2001:db8:1:2::/64');
    expect(sourceAddressKey('2001:0db8:0001:0002:ffff:ffff:ffff:ffff')).toBe(a);
    expect(sourceAddressKey('2001:db8:1:2:dead:beef::%eth0')).toBe(a);
    expect(sourceAddressKey('2001:db8:1:3::1')).not.toBe(a);
    expect(sourceAddressKey('::1')).toBe('addr:0:0:0:0::/64');
    expect(sourceAddressKey('2001:db8::192.0.2.1')).toBe('addr:2001:db8:0:0::/64');
  });

  it('rejects what is not an IP address', () => {
    for (const bad of ['', 'localhost', '1.2.3', '300.1.1.1', '2001:db8:::1', 'x'.repeat(1000)]) {
      expect(() => sourceAddressKey(bad)).toThrow(expect.objectContaining({ code: 'ratelimit_bad_address' }));
    }
  });
});
