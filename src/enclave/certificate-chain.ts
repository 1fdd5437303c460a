import { createHash, type KeyObject } from 'node:crypto';
import { parseCertificate, type ParsedCertificate } from './certificate.js';
import { AttestationError } from './errors.js';
import type { PinnedRoot } from './pinned-root.js';

export interface VerifyChainInput {
  /** DER of the leaf (the document's `certificate`). */
  leaf: Uint8Array;
  /** DER certificates root first, as the document's `cabundle`; the first must be a pinned root. */
  cabundle: readonly Uint8Array[];
  roots: readonly PinnedRoot[];
  /** Validation time, epoch milliseconds (injected, never read from a clock here). */
  at: number;
  /** Most certificates in `cabundle` (default 8). */
  maxCabundle?: number;
  /** SHA-256 fingerprints (hex) of withdrawn intermediates or leaves: a chain through one is refused. */
  denyFingerprints?: readonly string[];
}

export interface VerifiedChain {
  readonly root: PinnedRoot;
  readonly leaf: ParsedCertificate;
  readonly leafPublicKey: KeyObject;
}

/**
 * Validate `root → cabundle[1..] → leaf` at the time `at`. The document's `cabundle[0]` is never
 * trusted: it must be byte-identical (same SHA-256) to a pinned root whose acceptance window holds
 * `at`, and the pinned copy is what the next link is checked against. For every link: the issuer
 * name matches, the signature verifies under the issuer's key, the issuer is a CA (basic
 * constraints, keyCertSign when key usage is present, path length respected); the leaf is an
 * end-entity certificate allowed to sign (not a CA; digitalSignature when key usage is present); every certificate,
 * root included, is valid at `at`; no certificate appears twice; none is on the deny list.
 *
 * Codes: `attestation_root` (no pinned root, or outside its window), `attestation_expired`
 * (a certificate outside its validity), `attestation_chain` (everything else).
 *
 * @example
 *   const { leafPublicKey } = verifyCertificateChain({ leaf, cabundle, roots: [awsNitroRoot()], at: doc.timestamp });
 */
export function verifyCertificateChain(input: VerifyChainInput): VerifiedChain {
  const maxCabundle = input.maxCabundle ?? 8;
  if (input.cabundle.length === 0) throw new AttestationError('attestation_chain', 'cabundle is empty');
  if (input.cabundle.length > maxCabundle) {
    throw new AttestationError('attestation_chain', `chain of ${input.cabundle.length} CA certificates is longer than ${maxCabundle}`);
  }
  const chain: ParsedCertificate[] = [input.cabundle[0]!, ...input.cabundle.slice(1), input.leaf].map((der, i, all) =>
    parseCached(der, i === 0 ? 'cabundle root' : i === all.length - 1 ? 'leaf certificate' : `cabundle[${i}]`),
  );
  const root = findRoot(chain[0]!, input.roots, input.at);
  chain[0] = root.certificate;

  const deny = new Set((input.denyFingerprints ?? []).map((f) => f.replace(/:/g, '').toLowerCase()));
  const seen = new Set<string>();
  for (const cert of chain) {
    if (seen.has(cert.fingerprintSha256)) throw new AttestationError('attestation_chain', `certificate ${cert.subject} appears twice in the chain`);
    seen.add(cert.fingerprintSha256);
    if (deny.has(cert.fingerprintSha256)) throw new AttestationError('attestation_chain', `certificate ${cert.subject} has been withdrawn`);
    if (input.at < cert.notBefore) throw new AttestationError('attestation_expired', `certificate ${cert.subject} is not yet valid at the validation time`);
    if (input.at > cert.notAfter) throw new AttestationError('attestation_expired', `certificate ${cert.subject} has expired at the validation time`);
  }

  for (let i = 1; i < chain.length; i++) {
    const issuer = chain[i - 1]!;
    const subject = chain[i]!;
    if (!issuer.isCa) throw new AttestationError('attestation_chain', `${issuer.subject} is not a CA but issued a certificate`);
    if (issuer.keyCertSign === false) throw new AttestationError('attestation_chain', `${issuer.subject} may not sign certificates (key usage)`);
    // Intermediates below the issuer (the leaf does not count) must fit its path length constraint.
    const below = chain.length - 1 - i;
    if (issuer.pathLenConstraint !== undefined && below > issuer.pathLenConstraint) {
      throw new AttestationError('attestation_chain', `${issuer.subject} allows ${issuer.pathLenConstraint} intermediates below it, the chain has ${below}`);
    }
    if (!subject.x509.checkIssued(issuer.x509)) {
      throw new AttestationError('attestation_chain', `${subject.subject} is not issued by ${issuer.subject}`);
    }
    const link = `${issuer.fingerprintSha256}>${subject.fingerprintSha256}`;
    if (!verifiedLinks.has(link)) {
      if (!subject.x509.verify(issuer.x509.publicKey)) {
        throw new AttestationError('attestation_chain', `signature on ${subject.subject} does not verify under ${issuer.subject}`);
      }
      remember(verifiedLinks, link, true);
    }
  }
  const leaf = chain[chain.length - 1]!;
  if (leaf.isCa) throw new AttestationError('attestation_chain', 'the document is signed by a CA certificate, not an end-entity one');
  if (leaf.digitalSignature === false) throw new AttestationError('attestation_chain', 'the leaf certificate may not make digital signatures (key usage)');
  return { root, leaf, leafPublicKey: leaf.x509.publicKey };
}

function findRoot(candidate: ParsedCertificate, roots: readonly PinnedRoot[], at: number): PinnedRoot {
  const matches = roots.filter((r) => r.certificate.fingerprintSha256 === candidate.fingerprintSha256);
  if (matches.length === 0) throw new AttestationError('attestation_root', `chain root ${candidate.subject} is not a pinned root`);
  const accepted = matches.find((r) => r.acceptFrom <= at && at < r.acceptUntil);
  if (!accepted) {
    throw new AttestationError('attestation_root', `pinned root ${matches[0]!.name} is not accepted at the validation time (outside its rotation window)`);
  }
  return accepted;
}

/*
 * Memoisation of the two pure, expensive steps: parsing a certificate (keyed by the SHA-256 of its
 * DER) and verifying one certificate's signature under another (keyed by both fingerprints; only
 * successes are kept). Validity times, roots, deny lists and name chaining are checked on every
 * call. The same regional and zonal intermediates, and each instance's leaf for its three hours,
 * recur across documents, so a warm verification costs one ECDSA verification instead of five.
 */
const CACHE_LIMIT = 1024;
const parsed = new Map<string, ParsedCertificate>();
const verifiedLinks = new Map<string, true>();

/** Forget memoised certificates and links (benchmarks of the cold path; tests). */
export function clearCertificateCache(): void {
  parsed.clear();
  verifiedLinks.clear();
}

function parseCached(der: Uint8Array, label: string): ParsedCertificate {
  const key = createHash('sha256').update(der).digest('hex');
  const hit = parsed.get(key);
  if (hit) return hit;
  const cert = parseCertificate(der, label);
  remember(parsed, key, cert);
  return cert;
}

function remember<V>(cache: Map<string, V>, key: string, value: V): void {
  if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value!);
  cache.set(key, value);
}
