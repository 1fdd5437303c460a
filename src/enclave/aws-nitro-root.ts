import { pinRoot, type PinnedRoot } from './pinned-root.js';

/**
 * The AWS Nitro Enclaves root certificate (G1), as AWS publishes it
 * (https://aws-nitro-enclaves.amazonaws.com/AWS_NitroEnclaves_Root-G1.zip), shipped as data.
 * `awsNitroRoot()` checks it against the fingerprint AWS documents, so editing this text breaks
 * every verification instead of trusting a new root.
 */
export const AWS_NITRO_ROOT_G1_PEM = `-----BEGIN CERTIFICATE-----
MIICETCCAZagAwIBAgIRAPkxdWgbkK/hHUbMtOTn+FYwCgYIKoZIzj0EAwMwSTEL
MAkGA1UEBhMCVVMxDzANBgNVBAoMBkFtYXpvbjEMMAoGA1UECwwDQVdTMRswGQYD
VQQDDBJhd3Mubml0cm8tZW5jbGF2ZXMwHhcNMTkxMDI4MTMyODA1WhcNNDkxMDI4
MTQyODA1WjBJMQswCQYDVQQGEwJVUzEPMA0GA1UECgwGQW1hem9uMQwwCgYDVQQL
DANBV1MxGzAZBgNVBAMMEmF3cy5uaXRyby1lbmNsYXZlczB2MBAGByqGSM49AgEG
BSuBBAAiA2IABPwCVOumCMHzaHDimtqQvkY4MpJzbolL//Zy2YlES1BR5TSksfbb
48C8WBoyt7F2Bw7eEtaaP+ohG2bnUs990d0JX28TcPQXCEPZ3BABIeTPYwEoCWZE
h8l5YoQwTcU/9KNCMEAwDwYDVR0TAQH/BAUwAwEB/zAdBgNVHQ4EFgQUkCW1DdkF
R+eWw5b6cp3PmanfS5YwDgYDVR0PAQH/BAQDAgGGMAoGCCqGSM49BAMDA2kAMGYC
MQCjfy+Rocm9Xue4YnwWmNJVA44fA0P5W2OpYow9OYCVRaEevL8uO1XYru5xtMPW
rfMCMQCi85sWBbJwKKXdS6BptQFuZbT73o/gBh1qUxl/nNr12UO8Yfwr6wPLb+6N
IwLz3/Y=
-----END CERTIFICATE-----
`;

/** SHA-256 fingerprint of the AWS Nitro Enclaves root G1 (AWS Nitro Enclaves user guide, "Verifying the root of trust"). */
export const AWS_NITRO_ROOT_G1_SHA256 = '641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b';

/**
 * The AWS Nitro root pinned by fingerprint, accepted for its whole validity (2019-10-28 to 2049-10-28).
 *
 * @example
 *   verifyAttestation(doc, { roots: [awsNitroRoot()], at: clock.now(), maxAgeMs: 5 * 60_000 });
 */
export function awsNitroRoot(): PinnedRoot {
  return pinRoot({ name: 'aws-nitro-g1', certificate: AWS_NITRO_ROOT_G1_PEM, fingerprintSha256: AWS_NITRO_ROOT_G1_SHA256 });
}
