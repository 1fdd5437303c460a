/**
 * Software Ed25519 note signer (the development checkpoint key; production uses the HSM through
 * the same NoteSigner interface). The seed stays inside the closure: it is not a property of the
 * returned object, so it cannot reach a log line through serialisation.
 *
 * @example
 *   const signer = ed25519SignerFromSeed('custos.example/audit', randomBytes(32));
 *   const vkey = formatVerifierKey(signer.name, signer.publicKey); // give this to auditors
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { CustosError } from '../core/errors.js';
import { isValidKeyName, type NoteSigner } from './note.js';

export function ed25519SignerFromSeed(name: string, seed: Uint8Array): NoteSigner {
  if (!isValidKeyName(name)) throw new CustosError('audit_note_malformed', 'invalid key name', 400);
  if (seed.length !== 32) throw new CustosError('audit_signer_bad_seed', 'Ed25519 seed must be 32 bytes', 400);
  const secret = seed.slice();
  const publicKey = ed25519.getPublicKey(secret);
  return {
    name,
    publicKey,
    async sign(message: Uint8Array): Promise<Uint8Array> {
      return ed25519.sign(message, secret);
    },
  };
}

/** A new signer from 32 bytes of injected randomness (e.g. `(n) => crypto.randomBytes(n)`). */
export function generateEd25519Signer(name: string, random: (n: number) => Uint8Array): NoteSigner {
  return ed25519SignerFromSeed(name, random(32));
}
