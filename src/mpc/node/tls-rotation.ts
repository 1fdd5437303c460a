/**
 * Rotating a signing node's TLS certificate in two steps, so that the coordinator can reach the
 * node throughout: the coordinator pins the new certificate beside the current one *before* the
 * node serves it (it accepts either), and the node is stopped only for the moment each step takes
 * (a step writes the store, which the running node holds locked: `dir-lock.ts`).
 *
 * 1. `prepareTlsRotation` (`custos mpc-node --rotate-tls`, node stopped, then started again): a new
 *    certificate and key, the key sealed in the store; the node keeps serving the current one.
 * 2. The operator pins both in the cluster file (`tls.certificates` / `tls.certificateFiles`) and
 *    restarts the coordinator.
 * 3. `activateTlsRotation` (`custos mpc-node --activate-tls`, node stopped, then started again):
 *    the prepared certificate becomes the one served, the replaced one is kept as `previous`.
 * 4. The operator pins only the new certificate.
 *
 * The certificates are public and written beside the store for the operator to copy:
 * `TLS_CERTIFICATE_FILE` (served), `TLS_NEXT_CERTIFICATE_FILE` (prepared, not served yet),
 * `TLS_PREVIOUS_CERTIFICATE_FILE` (replaced by the last activation). Keys never leave the store.
 *
 * @example
 *   const report = prepareTlsRotation(store, dataDir, Date.now());   // store opened (and so locked) by this process
 *   console.log(describeTlsRotation(report, dataDir));
 */
import { existsSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NodeStore, TlsCertificateInfo, TlsStatus } from './store.js';

/** Where a node writes the TLS certificate it serves (public) for the operator to pin in the cluster file. */
export const TLS_CERTIFICATE_FILE = 'tls-certificate.pem';
/** A prepared certificate, not served until the rotation is activated. */
export const TLS_NEXT_CERTIFICATE_FILE = 'tls-certificate.next.pem';
/** The certificate the last activated rotation replaced. */
export const TLS_PREVIOUS_CERTIFICATE_FILE = 'tls-certificate.previous.pem';

/** What a rotation step did, and the `tls` object of the cluster file that goes with it. */
export interface TlsRotationReport {
  readonly node: string;
  /** `prepared`: a new certificate made; `unchanged`: one was prepared already (reprinted); `activated`: the prepared one is now served. */
  readonly action: 'prepared' | 'unchanged' | 'activated';
  readonly at: number;
  /** The certificate the node serves from its next start. */
  readonly serving: TlsCertificateInfo;
  /** After `prepared` / `unchanged`: the prepared certificate, not served yet. */
  readonly next?: TlsCertificateInfo;
  /** After `activated`: the certificate it replaced. */
  readonly previous?: TlsCertificateInfo;
  /**
   * The node's `tls` in the cluster file for the coming step: both certificates while a rotation
   * is prepared (pin them before activating), the new one alone once it is activated and served.
   */
  readonly clusterTls: { readonly certificate: string } | { readonly certificates: readonly string[] };
}

const info = (c: TlsCertificateInfo): TlsCertificateInfo => ({ certificate: c.certificate, fingerprint: c.fingerprint });

/** Writes the public certificate files of `status` into the data directory (a stale `next` file is removed). */
export function writeTlsCertificateFiles(dir: string, status: TlsStatus): void {
  writeFileSync(join(dir, TLS_CERTIFICATE_FILE), status.current.certificate, { mode: 0o644 });
  const next = join(dir, TLS_NEXT_CERTIFICATE_FILE);
  if (status.next) writeFileSync(next, status.next.certificate, { mode: 0o644 });
  else if (existsSync(next)) unlinkSync(next);
  if (status.previous) writeFileSync(join(dir, TLS_PREVIOUS_CERTIFICATE_FILE), status.previous.certificate, { mode: 0o644 });
}

/** Step 1 on an open store: a new certificate prepared (or the one prepared before, unchanged); the node keeps serving the current one. */
export function prepareTlsRotation(store: NodeStore, dir: string, now: number): TlsRotationReport {
  const { status, prepared } = store.prepareTlsRotation(now);
  writeTlsCertificateFiles(dir, status);
  const next = status.next as NonNullable<TlsStatus['next']>;
  return {
    node: store.identity.id, action: prepared ? 'prepared' : 'unchanged', at: now, serving: info(status.current), next: info(next),
    clusterTls: { certificates: [status.current.certificate, next.certificate] },
  };
}

/** Step 3 on an open store: the prepared certificate becomes the one served; the replaced one is kept as previous. */
export function activateTlsRotation(store: NodeStore, dir: string, now: number): TlsRotationReport {
  const status = store.activateTlsRotation(now);
  writeTlsCertificateFiles(dir, status);
  const previous = status.previous as NonNullable<TlsStatus['previous']>;
  return {
    node: store.identity.id, action: 'activated', at: now, serving: info(status.current), previous: info(previous),
    clusterTls: { certificate: status.current.certificate },
  };
}

/** The report for an operator: what changed, the new certificate (PEM) and what to do next. */
export function describeTlsRotation(r: TlsRotationReport, dir: string): string {
  const file = (name: string) => join(dir, name);
  const cmd = `custos --data-dir ${dir} mpc-node --id ${r.node}`;
  if (r.action === 'activated') {
    const previous = r.previous as TlsCertificateInfo;
    return [
      `custos mpc-node ${r.node}: TLS rotation activated`,
      `  served now       SHA-256 ${r.serving.fingerprint}  ${file(TLS_CERTIFICATE_FILE)}`,
      `  replaced         SHA-256 ${previous.fingerprint}  kept as previous in ${file(TLS_PREVIOUS_CERTIFICATE_FILE)} (its key is deleted)`,
      'next:',
      `  1. start the node: it serves SHA-256 ${r.serving.fingerprint.slice(0, 23)}…, which the coordinator must pin already (beside the old one)`,
      `  2. then pin only the new certificate for ${r.node} in the cluster file ("tls": { "certificateFile": "<copy of ${TLS_CERTIFICATE_FILE}>" }) and restart the coordinator`,
    ].join('\n');
  }
  const next = r.next as TlsCertificateInfo;
  return [
    `custos mpc-node ${r.node}: TLS rotation ${r.action === 'prepared' ? 'prepared' : 'already prepared (nothing changed)'}`,
    `  served           SHA-256 ${r.serving.fingerprint}  ${file(TLS_CERTIFICATE_FILE)} (until the rotation is activated)`,
    `  new, not served  SHA-256 ${next.fingerprint}  ${file(TLS_NEXT_CERTIFICATE_FILE)} (key sealed in the node store)`,
    'new certificate:',
    next.certificate.trimEnd(),
    'next:',
    '  1. start the node again: it still serves the current certificate',
    `  2. pin both for ${r.node} in the cluster file and restart the coordinator (it accepts either):`,
    `     "tls": { "certificateFiles": ["<copy of ${TLS_CERTIFICATE_FILE}>", "<copy of ${TLS_NEXT_CERTIFICATE_FILE}>"] }   (or "certificates": [PEM, PEM]; --json prints it)`,
    `  3. stop the node, run \`${cmd} --activate-tls\`, start it: it serves the new certificate`,
    '  4. pin only the new certificate and restart the coordinator',
  ].join('\n');
}
