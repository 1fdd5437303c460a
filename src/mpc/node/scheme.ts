/**
 * The protocol plug-in point of a signing node: a `SchemeDriver` turns "generate a key", "sign this
 * authorized message", "refresh this key" into a first protocol round plus a function that turns
 * the protocol's output into what the node stores or returns. The node service drives the rounds
 * and never looks inside them. FROST serves `ed25519` and `schnorr` (BIP-340); threshold ECDSA
 * (CGGMP21, `cmp-driver.ts` over `src/mpc/protocols/cmp`) serves `ecdsa`, with presigning as a
 * session kind of its own and online signing from a stored presignature.
 *
 * @example
 *   const driver = driverFor('schnorr');          // FROST, BIP-340 suite
 *   const run = driver.keygen({ scheme: 'schnorr', session, self, parties, threshold, rng });
 */
import { bytesToHex } from '@noble/hashes/utils.js';
import { CustosError } from '../../core/errors.js';
import {
  DKG_PROTOCOL, keyShareJson, parseKeyShare, publicPackage, REFRESH_PROTOCOL, SIGN_PROTOCOL,
  startDkg, startRefresh, startSign, type FrostKeyShare, type FrostSignature, type NonceLedger,
} from '../protocols/frost/index.js';
import type { Json, Message, PartyId, Rng, RoundResult } from '../protocols/round.js';
import { cmpDriver, type PrimePair } from './cmp-driver.js';
import type { KeyRecord, PresignatureRecord } from './store.js';

/** Key schemes offered on the command line and in the API. */
export type KeyScheme = 'ed25519' | 'schnorr' | 'ecdsa';

export type RunOutput =
  | { readonly kind: 'key'; readonly record: Omit<KeyRecord, 'keyId' | 'createdAt'>; readonly share: Json }
  | { readonly kind: 'signature'; readonly signature: string; readonly publicKey: string; readonly recovery?: number }
  | {
    readonly kind: 'presignature';
    readonly record: Omit<PresignatureRecord, 'keyId' | 'createdAt'>;
    /** SECRET: the serialised presignature (sealed by the node). */
    readonly secret: Json;
  };

/** One protocol run as the node drives it. */
export interface Run {
  /** Protocol name bound into every envelope (`frost-dkg`, `frost-sign`, …). */
  readonly protocolName: string;
  readonly start: RoundResult<unknown>;
  readonly complete: (output: unknown) => RunOutput;
}

export interface SchemeDriver {
  /** Protocol family stored with the key (`frost`). */
  readonly protocol: string;
  /** Key generation and refresh take a safe-prime pair from the node's pool (CGGMP21's Paillier modulus). */
  readonly needsPrimes?: boolean;
  keygen(p: {
    scheme: KeyScheme; session: string; self: PartyId; parties: readonly PartyId[]; threshold: number; rng: Rng; primes?: PrimePair | undefined;
  }): Run;
  sign(p: {
    /** SECRET: unseals the key share when the protocol needs it (threshold ECDSA signs from the presignature alone). */
    share: () => Json; session: string; signers: readonly PartyId[]; message: Uint8Array; taprootMerkleRoot?: Uint8Array | undefined;
    rng: Rng; nonceLedger: NonceLedger;
    /** SECRET, threshold ECDSA only: the presignature this signature spends (already marked spent on disk). */
    presignature?: Json | undefined;
  }): Run;
  refresh(p: { share: Json; session: string; rng: Rng; primes?: PrimePair | undefined }): Run;
  /** Presigning (threshold ECDSA): a message-independent session among `signers`. */
  presign?(p: { share: Json; session: string; signers: readonly PartyId[]; rng: Rng }): Run;
  /** The corrupt-share test hook: rewrites this node's outgoing signature-share payload (tests only). */
  corruptSignatureShare?(payload: Uint8Array): Uint8Array;
  /** The corrupt-proof test hook: rewrites one outgoing presigning proof (tests only). */
  corruptProof?(m: Message): Message;
}

function keyOutput(k: FrostKeyShare): RunOutput {
  return {
    kind: 'key',
    record: {
      protocol: 'frost', suite: k.suite, threshold: k.threshold, parties: [...k.parties], publicKey: k.commitment[0] as string,
      generation: k.generation, publicPackage: publicPackage(k) as unknown as Json,
    },
    share: keyShareJson(k),
  };
}

/**
 * Parsed key shares by their JSON text: `parseKeyShare` re-checks every verifying share against
 * the commitment (point multiplications), which need not be repeated for every signature. Holds
 * secrets only in this process's memory, where the unsealed share lives anyway while signing.
 */
const parsedShares = new Map<string, FrostKeyShare>();

function parsedShare(share: Json): FrostKeyShare {
  const text = JSON.stringify(share);
  let k = parsedShares.get(text);
  if (!k) {
    k = parseKeyShare(share);
    if (parsedShares.size >= 64) parsedShares.clear();
    parsedShares.set(text, k);
  }
  return k;
}

/** FROST (RFC 9591) for Ed25519 and BIP-340. */
export const frostDriver: SchemeDriver = {
  protocol: 'frost',
  keygen(p) {
    const suite = p.scheme === 'ed25519' ? 'ed25519' : p.scheme === 'schnorr' ? 'bip340' : null;
    if (!suite) throw new CustosError('mpc_unsupported_scheme', `FROST does not serve ${p.scheme}`);
    return {
      protocolName: DKG_PROTOCOL,
      start: startDkg({ suite, session: p.session, self: p.self, parties: p.parties, threshold: p.threshold, rng: p.rng }),
      complete: (out) => keyOutput(out as FrostKeyShare),
    };
  },
  sign(p) {
    const key = parsedShare(p.share());
    return {
      protocolName: SIGN_PROTOCOL,
      start: startSign({
        key, session: p.session, signers: p.signers, message: p.message, taprootMerkleRoot: p.taprootMerkleRoot, rng: p.rng,
        nonceLedger: p.nonceLedger,
      }),
      complete: (out) => {
        const s = out as FrostSignature;
        return { kind: 'signature', signature: bytesToHex(s.signature), publicKey: bytesToHex(s.publicKey) };
      },
    };
  },
  refresh(p) {
    const key = parseKeyShare(p.share);
    return { protocolName: REFRESH_PROTOCOL, start: startRefresh({ key, session: p.session, rng: p.rng }), complete: (out) => keyOutput(out as FrostKeyShare) };
  },
  corruptSignatureShare(payload) {
    // The share is the payload's last field (32 bytes). Flipping the low bit of both its end bytes
    // changes the scalar under either byte order and keeps it canonical (barring a 2^-250 edge).
    const out = Uint8Array.from(payload);
    out[out.length - 32] = (out[out.length - 32] as number) ^ 1;
    out[out.length - 1] = (out[out.length - 1] as number) ^ 1;
    return out;
  },
};

/** The driver serving a key scheme: FROST for `ed25519` and `schnorr`, CGGMP21 for `ecdsa`. */
export function driverFor(scheme: string): SchemeDriver {
  if (scheme === 'ed25519' || scheme === 'schnorr') return frostDriver;
  if (scheme === 'ecdsa') return cmpDriver;
  throw new CustosError('mpc_unsupported_scheme', `no signing protocol serves scheme ${scheme} in this node`);
}

/** The driver of a stored key (by its protocol family). */
export function driverForKey(record: Pick<KeyRecord, 'protocol'>): SchemeDriver {
  if (record.protocol === 'frost') return frostDriver;
  if (record.protocol === 'cmp') return cmpDriver;
  throw new CustosError('mpc_unsupported_scheme', `no driver for protocol ${record.protocol}`);
}
