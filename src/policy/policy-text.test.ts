import { describe, expect, it } from 'vitest';
import { parsePolicyText, pathLines } from './policy-text.js';
import { policyJSON } from './test-helpers/fixture.js';

const pretty = () => JSON.stringify(policyJSON(), null, 2);
const lineOfText = (text: string, needle: string) => text.slice(0, text.indexOf(needle)).split('\n').length;

function error(text: string): { code: string; message: string; details?: { line?: number; path?: string } } {
  try {
    parsePolicyText(text);
  } catch (e) {
    return e as { code: string; message: string };
  }
  throw new Error('accepted');
}

describe('parsePolicyText', () => {
  it('parses a valid document and returns the JSON for hashing', () => {
    const { policy, document } = parsePolicyText(pretty());
    expect(policy.version).toBe(1);
    expect(document).toEqual(policyJSON());
  });

  it('names the line of an unknown key, of a bad value and of the parent of a missing key', () => {
    const t = pretty().replace('"perTransaction": "1"', '"perTransaction": "1",\n"dailyCap": "5"');
    const e = error(t);
    expect(e.code).toBe('policy_invalid');
    expect(e.details).toEqual({ path: '$.limits.default.perAsset.BTC.dailyCap', line: lineOfText(t, '"dailyCap"') });
    expect(e.message).toMatch(/^line \d+, \$\.limits\.default\.perAsset\.BTC\.dailyCap: unknown key$/);

    const t2 = pretty().replace('"calendarDay": "15"', '"calendarDay": 15.5');
    expect(error(t2).details).toEqual({ path: '$.limits.default.perAsset.ETH.calendarDay', line: lineOfText(t2, '"calendarDay": 15.5') });

    const t3 = pretty().replace(/"quorum": 2,\s*"admins"/, '"admins"');
    expect(error(t3).details).toEqual({ path: '$.governance.quorum', line: lineOfText(t3, '"governance"') });

    const t4 = pretty().replace('"fromReference": "10000"', '"fromReference": "-10000"');
    expect(error(t4).details?.line).toBe(lineOfText(t4, '"-10000"'));
  });

  it('reports the line of a syntax error', () => {
    const t = pretty().replace('"version": 1,', '"version": 1,,');
    const e = error(t);
    expect(e.code).toBe('policy_syntax');
    expect(e.details?.line).toBe(lineOfText(t, ',,'));
  });

  it('refuses duplicate keys, which JSON.parse would silently resolve', () => {
    const t = pretty().replace('"version": 1,', '"version": 1,\n  "version": 2,');
    const e = error(t);
    expect(e.code).toBe('policy_invalid');
    expect(e.details).toEqual({ path: '$.version', line: 3 });
  });

  it('refuses huge input and tracks paths in arrays', () => {
    expect(error(' '.repeat((1 << 20) + 1)).code).toBe('policy_too_large');
    const lines = pathLines('{\n"a": [\n1,\n{"b":\n"x\\"y"}\n]\n}');
    expect(lines.get('$.a')).toBe(2);
    expect(lines.get('$.a[1]')).toBe(4);
    expect(lines.get('$.a[1].b')).toBe(4);
  });
});
