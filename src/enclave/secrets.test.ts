import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { manualClock } from '../core/clock.js';
import { createDevelopmentRoot, pinDevelopmentRoot } from './development-ca.js';
import { DevelopmentAttester } from './development-attester.js';
import { DevelopmentEnclave } from './development-enclave.js';
import { verifyAllowlist } from './measurement-allowlist.js';
import { verifyAttestation } from './verify-attestation.js';

/** Every error thrown below, rendered the way a logger or an API error body would see it. */
function rendered(errors: unknown[]): string {
  return errors
    .map((e) => {
      const err = e as Error & Record<string, unknown>;
      return JSON.stringify({ ...err, message: err.message, stack: err.stack, name: err.name });
    })
    .join('\n');
}

async function caught(fn: () => unknown): Promise<unknown> {
  try {
    await fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a refusal');
}

describe('secrets never reach an error', () => {
  it('development CA keys, sealing keys, nonces and sealed plaintext are absent from every refusal', async () => {
    const T0 = Date.UTC(2026, 10, 24);
    const root = createDevelopmentRoot({ now: T0 - 1000 });
    const other = createDevelopmentRoot({ now: T0 - 1000 });
    const sealingKey = new Uint8Array(randomBytes(32));
    const clock = manualClock(T0);
    const measurement = createHash('sha384').update('x').digest();
    const enclave = new DevelopmentEnclave({ attester: new DevelopmentAttester({ ca: root, moduleId: 'n', measurement, clock }), sealingKey });
    const nonce = new Uint8Array(randomBytes(32));
    const plaintext = new TextEncoder().encode('share-0f9e8d7c6b5a');
    const doc = await enclave.attest(undefined, undefined, nonce);
    const blob = await enclave.seal(plaintext, new Uint8Array());
    const tampered = blob.slice();
    tampered[20]! ^= 1;

    const errors = [
      await caught(() => enclave.unseal(tampered, new Uint8Array())),
      await caught(() => verifyAttestation(doc, { roots: [pinDevelopmentRoot(other)], at: T0, maxAgeMs: 1 })),
      await caught(() => verifyAttestation(doc, { roots: [pinDevelopmentRoot(root)], at: T0, maxAgeMs: 1, expectedNonce: new Uint8Array(32) })),
      await caught(() => verifyAttestation(doc, { roots: [pinDevelopmentRoot(root)], at: T0 + 10 * 3_600_000, maxAgeMs: 1 })),
      await caught(() => verifyAllowlist({ allowlist: {}, signatures: [] }, { threshold: 1, signers: ['00'.repeat(32)] }, { at: T0 })),
    ];
    const text = rendered(errors);
    const pemBody = (pem: string) => pem.split('\n').filter((l) => l && !l.startsWith('-----')).join('');
    for (const secret of [
      pemBody(root.privateKeyPem).slice(20, 60),
      Buffer.from(sealingKey).toString('hex'),
      Buffer.from(sealingKey).toString('base64'),
      Buffer.from(nonce).toString('hex'),
      'share-0f9e8d7c6b5a',
    ]) {
      expect(text).not.toContain(secret);
    }
    expect(errors.every((e) => (e as { code?: string }).code)).toBe(true);
  });
});
